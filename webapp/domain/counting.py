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
