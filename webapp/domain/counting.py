"""Rules for counting a bin (conflicts are decided from the log, never last-write-wins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Two counts of one bin closer than this, with no transfer between, must agree.
COUNT_WINDOW = timedelta(hours=2)
MAX_QUANTITY = 1_000_000
MAX_NOTE = 500


@dataclass(frozen=True)
class PreviousCount:
    """The latest earlier count of the same bin."""

    quantity: int
    counted_at: datetime
    transfer_since: bool


def judge_count(quantity: int, previous: PreviousCount | None, disputed: bool, at: datetime) -> str:
    """Return the outcome of a count: recorded, confirmed, discrepancy or recount."""
    if disputed:
        return "recount"
    if previous is None or previous.transfer_since or at - previous.counted_at > COUNT_WINDOW:
        return "recorded"
    return "confirmed" if previous.quantity == quantity else "discrepancy"


@dataclass(frozen=True)
class CountFact:
    """One count of a bin as the log has it, ordered by (effective time, device, seq)."""

    order: tuple[int, str, int]
    event_id: str
    quantity: int
    at: datetime


@dataclass
class BinCounts:
    """What a bin's counts say, folded in log order."""

    quantity: int | None = None  # None: no count settles the quantity
    disputed: bool = False
    last_counted_at: datetime | None = None
    outcomes: dict[str, str] | None = None
    discrepancies: list[tuple[str, str]] | None = None  # (later event, earlier event)


def fold_counts(counts: list[CountFact], transfers: list[datetime], *, after: CountFact | None = None,
                disputed: bool = False) -> BinCounts:
    """Fold a bin's counts in log order: the same log always gives the same state, whatever the arrival order.

    `after` and `disputed` resume a fold: the last count already folded and whether the bin was
    disputed then. Folding one new count from the bin's stored state is one step of the full fold.
    """
    state = BinCounts(disputed=disputed, outcomes={}, discrepancies=[])
    previous = after
    for fact in sorted(counts, key=lambda c: c.order):
        moved = previous is not None and any(previous.at < t <= fact.at for t in transfers)
        seen = PreviousCount(previous.quantity, previous.at, moved) if previous else None
        outcome = judge_count(fact.quantity, seen, state.disputed, fact.at)
        state.outcomes[fact.event_id] = outcome
        if outcome == "discrepancy":
            state.disputed = True
            state.discrepancies.append((fact.event_id, previous.event_id))
        else:
            state.disputed = False
            state.quantity, state.last_counted_at = fact.quantity, fact.at
        previous = fact
    return state
