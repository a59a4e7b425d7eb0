"""Rules for moving a bin (转序): where it is follows the log, never the last write to arrive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Order = tuple[int, str, int]  # (effective time in ms, device id, seq): the log's order

# Where a bin goes decides the kind of transfer slip (shared/domain.md, "The transfer slip").
TRANSFER_KINDS = {"operation": "next_operation", "waiting": "waiting", "warehouse": "warehouse"}


@dataclass(frozen=True)
class MoveFact:
    """One move of a bin as the log has it."""

    order: Order
    event_id: str
    to_location: str  # location code
    seen_location: str | None  # where the device believed the bin was (None: not placed, or not known)
    quantity: int | None  # pieces moving with the bin; None: whatever it holds
    at: datetime


@dataclass(frozen=True)
class HeldCount:
    """A count that settled what a bin holds (its outcome was not a discrepancy)."""

    order: Order
    quantity: int


@dataclass(frozen=True)
class MoveVerdict:
    """What the log says about one move: where the bin was before it, and which rules it broke."""

    event_id: str
    from_location: str | None  # where the log says the bin was just before this move
    previous_event_id: str | None  # the move that put it there (None: the bin's starting place)
    location_conflict: bool  # the device saw the bin somewhere else
    held: int | None  # what the bin held just before this move, as far as the log says
    negative_stock: bool  # more pieces moved than the bin held


@dataclass
class BinMoves:
    """A bin's moves folded in log order."""

    location: str | None
    since: datetime | None  # when the bin got there (None: no move put it there)
    verdicts: list[MoveVerdict]


def held_before(order: Order, counts: list[HeldCount], fallback: int | None) -> int | None:
    """Return what the bin held just before `order`: the last settling count earlier in the log, else `fallback`."""
    earlier = [c for c in counts if c.order < order]
    return max(earlier, key=lambda c: c.order).quantity if earlier else fallback


def judge_move(move: MoveFact, location: str | None, previous_event_id: str | None, held: int | None) -> MoveVerdict:
    """Judge one move against where the log says the bin was and what it held."""
    return MoveVerdict(
        event_id=move.event_id,
        from_location=location,
        previous_event_id=previous_event_id,
        location_conflict=move.seen_location != location,
        held=held,
        negative_stock=move.quantity is not None and held is not None and move.quantity > held,
    )


def fold_moves(moves: list[MoveFact], start: str | None, counts: list[HeldCount] | None = None,
               fallback_quantity: int | None = None) -> BinMoves:
    """Fold a bin's moves in log order from its starting place: the same log always gives the same verdicts.

    Each move is compared with the move before it in the log (or with `start`, where the bin
    stood before any move): a device that saw the bin elsewhere broke `location_conflict`.
    The bin ends where the last move in the log took it, whatever order the moves arrived in.
    A move of more pieces than the bin held (the last settling count before it in the log,
    else `fallback_quantity`) broke `negative_stock`. Moves carry the bin whole, so they do
    not change what it holds: counts do.
    """
    counts = counts or []
    location, previous, since = start, None, None
    verdicts = []
    for move in sorted(moves, key=lambda m: m.order):
        verdicts.append(judge_move(move, location, previous, held_before(move.order, counts, fallback_quantity)))
        location, previous, since = move.to_location, move.event_id, move.at
    return BinMoves(location, since, verdicts)
