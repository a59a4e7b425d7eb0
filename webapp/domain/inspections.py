"""Inspections (检验): the rules, over plain data.

An inspection is a checklist from a template (items measured against a nominal and a
tolerance, or checked pass/fail), filled for some units, with the defects found (per class:
critical, major, minor), a verdict and signatures. Its state is folded from its log in log
order (effective time, device, seq), whatever order the records arrived in, as a slip's is
(`webapp/domain/transfers.py`). A final inspection's decision is the sampling plan's
(`webapp/domain/aql.py`): the server computes it again from the defects and says so when the
inspector's verdict differs.

The plant's rules (seed 002 第四篇, `shared/domain.md` "Inspections"): the first piece passes
before production runs on; mid-production reports every 3 to 6 working days, at least so many
per order (`mid_reports_required`); the final inspection once 80% of the order is packed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from webapp.domain import aql

KINDS = ("first_piece", "mid_production", "final", "pre_production_sample", "material_receipt", "shipment_sample")
CLASSES = ("critical", "major", "minor")
DEFAULT_AQLS = {"critical": "0", "major": "2.5", "minor": "4.0"}  # any critical rejects; seed 002: AQL 2.5
# Who co-signs each kind besides the inspector: the operator the first piece came from; the
# factory's person for what the seed has the factory sign (pre-production sample, first piece).
COSIGNERS: dict[str, tuple[str, ...]] = {
    "first_piece": ("operator",),
    "pre_production_sample": ("factory",),
}
STEPS = ("inspector", "operator", "factory")
CHECK_VALUES = ("pass", "fail")
FINAL_OFFER_PERCENT = 80
# The seed's table (under 1,000 pieces: 2 reports; to 3,000: 4; to 5,000: 6; to 10,000: 8), and our rule
# above it: 2 more for every 5,000 pieces or part of them over 10,000.
MID_REPORTS = ((1000, 2), (3000, 4), (5000, 6), (10000, 8))
MID_ABOVE = (5000, 2)
MID_EVERY = (3, 6)  # working days: a mid-production report is due after 3, overdue after 6
WORKING_DAYS = frozenset(range(6))  # Monday to Saturday


# --- The plant's numbers -------------------------------------------------------------------------

def mid_reports_required(quantity: int, table: Sequence[tuple[int, int]] = MID_REPORTS,
                         above: tuple[int, int] = MID_ABOVE) -> int:
    """Return the minimum number of signed mid-production reports for an order of `quantity` pieces.

    Under the first bound the first count; up to and including each later bound its count
    (1,000-3,000: 4); above the last, `above[1]` more for every `above[0]` pieces or part of them.
    """
    first_bound, first_count = table[0]
    if quantity < first_bound:
        return first_count
    for bound, count in table[1:]:
        if quantity <= bound:
            return count
    last_bound, last_count = table[-1]
    step, more = above
    return last_count + more * math.ceil((quantity - last_bound) / step)


def parse_mid_reports(text: str) -> tuple[tuple[tuple[int, int], ...], tuple[int, int]]:
    """Read the setting `mid_reports` ("1000:2,3000:4,5000:6,10000:8;5000:2"); raise ValueError if malformed."""
    table_text, _, above_text = text.partition(";")
    table = tuple(tuple(int(x) for x in pair.split(":")) for pair in table_text.split(","))
    above = tuple(int(x) for x in above_text.split(":")) if above_text else MID_ABOVE
    if (not table or any(len(p) != 2 or p[0] < 1 or p[1] < 0 for p in table) or len(above) != 2
            or above[0] < 1 or list(table) != sorted(table)):
        raise ValueError(text)
    return table, above  # type: ignore[return-value]


def add_working_days(start: date, days: int, working: frozenset[int] = WORKING_DAYS) -> date:
    """Return the date `days` working days after `start`."""
    at = start
    while days > 0:
        at += timedelta(days=1)
        if at.weekday() in working:
            days -= 1
    return at


@dataclass(frozen=True)
class MidStatus:
    """An order's mid-production reports: how many are signed, how many it needs, when the next is due."""

    signed: int
    required: int
    next_due: date | None  # the window opens (3 working days after the last)
    overdue_on: date | None  # later than this, the order is behind (6 working days)
    behind: bool
    reasons: tuple[str, ...]  # overdue | too_few_for_packed | too_few_at_final


def mid_status(quantity: int, packed: int, signed_dates: Sequence[date], started: date | None, today: date, *,
               every: tuple[int, int] = MID_EVERY, table=MID_REPORTS, above=MID_ABOVE,
               working: frozenset[int] = WORKING_DAYS, finished: bool = False,
               offer_percent: int = FINAL_OFFER_PERCENT) -> MidStatus:
    """Say whether an order is behind on its mid-production reports.

    Behind when: the last report (or the start of production: the first piece passed) is more
    than `every[1]` working days ago while the order is not finished; or fewer reports are signed
    than its share of the minimum for what is packed (the minimum × packed / quantity, rounded
    down); or the final inspection is due (packed ≥ 80%) and the minimum is not reached.
    """
    required = mid_reports_required(quantity, table, above)
    signed = len(signed_dates)
    since = max(signed_dates) if signed_dates else started
    reasons = []
    next_due = overdue_on = None
    if since is not None and not finished and signed < required:
        next_due = add_working_days(since, every[0], working)
        overdue_on = add_working_days(since, every[1], working)
        if today > overdue_on:
            reasons.append("overdue")
    if quantity > 0 and signed < (required * min(packed, quantity)) // quantity:
        reasons.append("too_few_for_packed")
    if quantity > 0 and packed * 100 >= offer_percent * quantity and signed < required:
        reasons.append("too_few_at_final")
    return MidStatus(signed, required, next_due, overdue_on, bool(reasons), tuple(reasons))


def final_offered(quantity: int, packed: int, percent: int = FINAL_OFFER_PERCENT) -> bool:
    """Say whether enough of the order is packed for its final inspection (80% by the seed)."""
    return quantity > 0 and packed * 100 >= percent * quantity


# --- Measurements --------------------------------------------------------------------------------

def number(text: Any) -> Decimal | None:
    """Return a measured value or a limit as a Decimal (None if it is not a finite number)."""
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def within(item: Mapping[str, Any], value: Any) -> bool | None:
    """Say whether a value of a checklist item is good: in tolerance, or "pass"; None if it cannot be judged."""
    if item.get("type") == "check":
        return None if value not in CHECK_VALUES else value == "pass"
    measured, nominal = number(value), number(item.get("nominal"))
    if measured is None or nominal is None:
        return None
    low = nominal - (number(item.get("minus")) or Decimal(0))
    high = nominal + (number(item.get("plus")) or Decimal(0))
    return low <= measured <= high


# --- The fold ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One handled event of an inspection, as its log keeps it."""

    order: tuple[int, str, int]  # (effective_at, device_id, seq): the log's order
    event_id: str
    kind: str  # started | measured | defect | completed | signed
    person_id: int
    role: str | None
    payload: Mapping[str, Any]
    verification: str = "device_user"


@dataclass
class Fold:
    """An inspection as its log says it is now."""

    started: Entry | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # item -> {unit (text): value}
    out_of_tolerance: list[tuple[str, int, Any]] = field(default_factory=list)  # (item, unit, value)
    defects: dict[str, Entry] = field(default_factory=dict)  # defect id -> its latest record
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    completed: Entry | None = None
    signatures: list[Entry] = field(default_factory=list)
    verdict: str | None = None
    decision: str | None = None  # accepted | rejected for a sampled lot; passed | failed otherwise
    classes: dict[str, Any] | None = None  # per class: found, Ac, Re, accepted (a sampled lot)
    status: str = "open"  # open | passed | failed
    flags: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)

    def flag(self, event_id: str, code: str, **detail: Any) -> None:
        self.flags.setdefault(event_id, []).append((code, detail))


def fold_inspection(entries: Iterable[Entry], items: Sequence[Mapping[str, Any]] = (),
                    plans: Mapping[str, aql.SamplingPlan | None] | None = None) -> Fold:
    """Fold an inspection's log: results, defects per class, the decision, signatures, and flags.

    `items`: its template's checklist (to judge measured values); `plans`: per defect class, the
    sampling plan the server computed for it (a final inspection), or None when every unit is
    judged by the inspector. Flags (event id -> code, detail): `unknown_inspection` (a record
    before its start in the log), `after_completion` (measured or found after the verdict: it
    counts, and the office sees the verdict came first), `verdict_disagrees` (the inspector's
    verdict is not the plan's decision: the plan's stands), `passed_out_of_tolerance` (passed
    with measurements out of tolerance), `restarted` (started twice: the first start holds).
    """
    by_key = {item["key"]: item for item in items}
    fold = Fold()
    for e in sorted(entries, key=lambda e: e.order):
        if e.kind == "started":
            if fold.started is None:
                fold.started = e
            else:
                fold.flag(e.event_id, "restarted", first_event_id=fold.started.event_id)
            continue
        if fold.started is None:
            fold.flag(e.event_id, "unknown_inspection")
        if e.kind in ("measured", "defect") and fold.completed is not None:
            fold.flag(e.event_id, "after_completion", completed_event_id=fold.completed.event_id)
        if e.kind == "measured":
            unit = str(e.payload["unit"])
            for key, value in e.payload["values"].items():
                fold.results.setdefault(key, {})[unit] = value
        elif e.kind == "defect":
            fold.defects[e.payload["defect_id"]] = e
        elif e.kind == "completed":
            fold.completed = e
        elif e.kind == "signed":
            fold.signatures.append(e)
    for key, units in fold.results.items():
        item = by_key.get(key)
        for unit, value in units.items():
            if item is not None and within(item, value) is False:
                fold.out_of_tolerance.append((key, int(unit), value))
    fold.out_of_tolerance.sort(key=lambda x: (x[1], x[0]))
    for d in fold.defects.values():
        fold.found[d.payload["class"]] += d.payload["count"]
    if plans:
        decided = aql.decide(plans, fold.found)
        fold.classes = decided["classes"]
    if fold.completed is not None:
        fold.verdict = fold.completed.payload["verdict"]
        if plans:
            fold.decision = decided["lot"]
            if (fold.verdict == "pass") != (fold.decision == "accepted"):
                fold.flag(fold.completed.event_id, "verdict_disagrees", verdict=fold.verdict,
                          decision=fold.decision, found=dict(fold.found))
            fold.status = "passed" if fold.decision == "accepted" else "failed"
        else:
            fold.status = "passed" if fold.verdict == "pass" else "failed"
            fold.decision = fold.status
        if fold.status == "passed" and fold.out_of_tolerance:
            fold.flag(fold.completed.event_id, "passed_out_of_tolerance",
                      items=sorted({key for key, _, _ in fold.out_of_tolerance}))
    return fold


def cosigners_missing(kind: str, signatures: Sequence[Entry]) -> list[str]:
    """Return the co-signing steps a completed inspection of `kind` still lacks (proven signers only)."""
    have = {e.payload["step"] for e in signatures if e.verification != "unverified"}
    return [step for step in COSIGNERS.get(kind, ()) if step not in have]


def focus_points(items: Sequence[Mapping[str, Any]], fold: Fold, names: Mapping[str, str] | None = None
                 ) -> list[dict[str, Any]]:
    """What a first piece's findings make the focus of the mid-production checks: items out of
    tolerance and the defect types (or descriptions) found."""
    labels = {item["key"]: item for item in items}
    out: list[dict[str, Any]] = []
    for key in dict.fromkeys(key for key, _, _ in fold.out_of_tolerance):
        item = labels.get(key, {})
        out.append({"item": key, "type": None, "text_zh": item.get("label_zh", key),
                    "text_en": item.get("label_en", key)})
    for d in fold.defects.values():
        code = d.payload.get("type")
        text = d.payload.get("description") or (names or {}).get(code or "", code or "")
        if not any(p["type"] == code and code for p in out):
            out.append({"item": None, "type": code, "text_zh": text, "text_en": text})
    return out

