"""Per-device sequence arithmetic: what is acknowledged, what is missing."""

from __future__ import annotations

from collections.abc import Iterable

MAX_MISSING_REPORTED = 200


def advance_ack(acked_through: int, held: Iterable[int]) -> int:
    """Return the highest seq such that every seq up to it is held."""
    held_set = set(held)
    seq = acked_through
    while seq + 1 in held_set:
        seq += 1
    return seq


def missing_seqs(acked_through: int, held: Iterable[int]) -> list[int]:
    """List the gaps between the acknowledged run and the highest seq held."""
    held_set = {s for s in held if s > acked_through}
    if not held_set:
        return []
    top = max(held_set)
    gaps = [s for s in range(acked_through + 1, top) if s not in held_set]
    return gaps[:MAX_MISSING_REPORTED]
