"""Per-device sequence arithmetic: what is acknowledged, what is missing.

Both functions cost time and memory in proportion to the seqs the server holds above the
acknowledged run, never to the size of a gap: a device that sent one absurd seq must not make
the server list every number below it.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_MISSING_REPORTED = 200


def advance_ack(acked_through: int, held: Iterable[int]) -> int:
    """Return the highest seq such that every seq up to it is held."""
    held_set = set(held)
    seq = acked_through
    while seq + 1 in held_set:  # at most len(held_set) steps
        seq += 1
    return seq


def missing_seqs(acked_through: int, held: Iterable[int]) -> list[int]:
    """List the gaps between the acknowledged run and the highest seq held, the lowest first, at most 200."""
    gaps: list[int] = []
    expected = acked_through + 1
    for seq in sorted({s for s in held if s > acked_through}):
        # Every seq from `expected` up to this held one is missing; take only what still fits.
        stop = min(seq, expected + MAX_MISSING_REPORTED - len(gaps))
        gaps.extend(range(expected, stop))
        if len(gaps) >= MAX_MISSING_REPORTED:
            break
        expected = seq + 1
    return gaps
