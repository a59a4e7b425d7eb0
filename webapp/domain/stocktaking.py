"""Rules of a stocktake (盘点, seed 002 §1.5): what an area was expected to hold, what was counted, the difference.

A stocktake starts with the bins the server had at the area (code, book quantity); the counts
taken during it name it. The last count of each bin in log order, (effective time, device,
seq), is what the stocktake found, whatever order the counts arrived in. The variance has three
parts: bins expected but not scanned, bins scanned but not expected, and quantity differences.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
STATUSES = ("open", "closed", "approved")
MAX_ADJUSTMENTS = 2000  # bins one approval may adjust (an area seldom holds more than a few hundred)
MAX_CODE = 40

Order = tuple[int, str, int]  # (effective time in ms, device id, seq): the log's order


@dataclass(frozen=True)
class Line:
    """One bin of a stocktake's report."""

    code: str
    expected: bool  # on the list the stocktake started with
    book: int | None  # the quantity the server had at the start (None: not expected, or not known)
    counted: int | None  # the last count in log order (None: not scanned)

    @property
    def kind(self) -> str:
        """Say what the line is: missing, unexpected, difference or match."""
        if self.expected and self.counted is None:
            return "missing"
        if not self.expected:
            return "unexpected"
        return "match" if self.book == self.counted else "difference"

    @property
    def delta(self) -> int | None:
        """Return counted minus book, when both are known."""
        return self.counted - self.book if self.counted is not None and self.book is not None else None


@dataclass(frozen=True)
class Variance:
    """A stocktake's report: every bin expected or counted, in code order."""

    lines: tuple[Line, ...]

    def of(self, kind: str) -> list[Line]:
        """Return the lines of one kind."""
        return [line for line in self.lines if line.kind == kind]

    @property
    def missing(self) -> list[Line]:
        return self.of("missing")

    @property
    def unexpected(self) -> list[Line]:
        return self.of("unexpected")

    @property
    def differences(self) -> list[Line]:
        return self.of("difference")

    @property
    def matched(self) -> list[Line]:
        return self.of("match")


@dataclass(frozen=True)
class Progress:
    """How far a stocktake is: expected bins counted, of how many; bins counted that were not expected."""

    done: int
    expected: int
    unexpected: int

    @property
    def complete(self) -> bool:
        return self.done >= self.expected


def last_counts(counted: Iterable[tuple[str, int, Order]]) -> dict[str, int]:
    """Return each bin's last counted quantity in log order."""
    last: dict[str, tuple[Order, int]] = {}
    for code, quantity, order in counted:
        if code not in last or last[code][0] < order:
            last[code] = (order, quantity)
    return {code: quantity for code, (_, quantity) in last.items()}


def variance(expected: Iterable[tuple[str, int | None]], counted: Iterable[tuple[str, int, Order]]) -> Variance:
    """Compare what the area held at the start with the last count of each bin."""
    book = dict(expected)
    found = last_counts(counted)
    codes = sorted(book.keys() | found.keys())
    return Variance(tuple(Line(code, code in book, book.get(code), found.get(code)) for code in codes))


def progress(expected: Iterable[str], counted: Iterable[str]) -> Progress:
    """Return how many expected bins were counted, of how many, and how many counted bins were not expected."""
    wanted, seen = set(expected), set(counted)
    return Progress(len(wanted & seen), len(wanted), len(seen - wanted))


def proposed_adjustments(report: Variance) -> list[tuple[str, int]]:
    """Return what the statistician is offered to approve: the book follows the count where they differ.

    Bins expected but not scanned are left out: the bin may simply be elsewhere; the statistician
    decides (and may set them to 0).
    """
    return [(line.code, line.counted) for line in report.lines
            if line.kind in ("difference", "unexpected") and line.counted is not None]


Arrival = tuple[int, str, int]  # (received at in ms, device id, seq): the order the server stored events in


def belongs(status: str | None, count: Arrival, closed_by: Arrival | None) -> bool:
    """Say whether a count naming a stocktake belongs to its report: it reached the server before the close.

    Decided on arrival, not on the device's clock, so a closed stocktake's report never changes;
    and from stored facts (the close event's arrival), so replaying the log gives the same answer.
    """
    if status == "open":
        return True
    return closed_by is not None and count < closed_by


def may_close(status: str | None) -> bool:
    """Say whether a stocktake in this status can be closed."""
    return status == "open"


def may_approve(status: str | None) -> bool:
    """Say whether a stocktake in this status can be approved (closed: its report is frozen)."""
    return status == "closed"


def clean_adjustments(value: Any, max_quantity: int) -> list[dict[str, Any]]:
    """Return adjustments as stored ([{bin_code, quantity}], codes in capitals, each bin once), or raise ValueError."""
    if not isinstance(value, list) or len(value) > MAX_ADJUSTMENTS:
        raise ValueError("adjustments")
    cleaned, seen = [], set()
    for item in value:
        if not isinstance(item, dict) or set(item) != {"bin_code", "quantity"}:
            raise ValueError(item)
        code, quantity = item["bin_code"], item["quantity"]
        if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE or "\x00" in code:
            raise ValueError(code)
        code.encode("utf-8")  # a lone surrogate no database keeps: UnicodeEncodeError, a ValueError
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= max_quantity:
            raise ValueError(quantity)
        code = code.strip().upper()
        if code in seen:
            raise ValueError(code)
        seen.add(code)
        cleaned.append({"bin_code": code, "quantity": quantity})
    return cleaned
