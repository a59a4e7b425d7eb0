"""Switching between normal, tightened and reduced inspection: ISO 2859-1:1999 clause 9.

A series is one product from one supplier; its lots, in the order they were inspected, decide the
severity the next lot is inspected at (webapp/domain/aql.py gives the plan for that severity). The
rules, as the standard words them:

- start on normal inspection (9.1);
- normal -> tightened when 2 out of 5 or fewer consecutive lots are not accepted on original
  inspection (9.3.1);
- tightened -> normal when 5 consecutive lots are accepted on original inspection (9.3.2);
- normal -> reduced when the switching score is at least 30, production is at a steady rate and the
  responsible authority approves reduced inspection (9.3.3). The score starts at 0 at the start of
  normal inspection and is updated after each lot on original normal inspection (9.3.3.2): when the
  plan's Ac is 2 or more, add 3 if the lot would have been accepted had the AQL been one step tighter,
  else reset to 0; when Ac is 0 or 1, add 2 if the lot is accepted, else reset to 0;
- reduced -> normal when a lot is not accepted on original inspection, production becomes irregular
  or delayed, or other conditions warrant it (9.3.4);
- discontinued when the cumulative number of lots not accepted on original tightened inspection
  reaches 5 (9.4): no inspection under the standard until the supplier has improved; then the series
  resumes on tightened inspection.

Choices made here:

- **Resubmitted lots** (a reworked lot inspected again, LotResult.resubmitted) are part of the
  series' history, with the severity they were inspected at, but they do not count for switching:
  the standard counts lots "on original inspection" only (9.3.1 says "ignoring resubmitted lots").
  The reworked lot's first, not accepted, inspection is the one that counts.
- **Several defect classes.** ISO 2859-1 9.2 applies the switching rules to each class independently;
  a series here has one severity, so the lot-level decision counts for 2 of 5, 5 accepted and
  discontinuation (a lot rejected by any class is not accepted), and for the score lot_from_inspection
  takes the AQL classes together: the smallest Ac decides which branch applies, and "accepted one step
  tighter" must hold for every AQL class. Zero-acceptance classes (AQL 0) have no AQL to tighten and
  take no part in the score beyond the lot's decision.
- **Inputs that are not lots**: ``steady`` (production is at a steady rate now), ``approved_reduced``
  (the responsible authority's standing approval of reduced inspection for the series) and
  ``resumed`` (inspection may resume after a discontinuation) are the series' current settings and
  apply over the whole fold: an approval given late re-judges the series as if it had always held,
  so the history then shows where reduced inspection would have begun. What happened at one lot goes
  on the lot: LotResult.irregular (production was irregular or delayed, or other conditions called
  for normal inspection, when it came) and LotResult.resumed (the first lot after a discontinuation).

Pure functions over plain data, no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from webapp.domain import aql

NORMAL, TIGHTENED, REDUCED, DISCONTINUED = "normal", "tightened", "reduced", "discontinued"
SEVERITIES = (NORMAL, TIGHTENED, REDUCED, DISCONTINUED)
REASONS = ("start", "two_of_five_rejected", "five_accepted_on_tightened", "switching_score", "rejected_on_reduced",
           "irregular_production", "five_rejected_on_tightened", "resumed")
REDUCED_SCORE = 30  # 9.3.3.1 a)


@dataclass(frozen=True)
class LotResult:
    """One lot's inspection, as the switching rules need it."""

    accepted: bool
    accept: int = 0  # Ac of the plan it was inspected with (for several classes, see lot_from_inspection)
    accepted_tighter: bool = False  # it would have been accepted with the AQL one step tighter (same sample)
    resubmitted: bool = False  # a re-inspection of a lot not accepted before: history only, no switching
    irregular: bool = False  # production was irregular or delayed (or other conditions) when it came
    resumed: bool = False  # the first lot after the supplier's improvement ended a discontinuation
    uid: str = ""  # the inspection's id, for the history
    label: str = ""  # what people call the lot (order, lot number), for messages
    found: Mapping[str, int] = field(default_factory=dict)  # per defect class, for the office's history


@dataclass(frozen=True)
class Step:
    """One lot in a series' history: the severity it was inspected at, the one after it, any switch."""

    position: int  # 1 for the series' first lot
    uid: str
    label: str
    accepted: bool
    resubmitted: bool
    counted: bool  # it took part in switching (original inspection, inspection not discontinued)
    inspected_under: str
    after: str
    reason: str | None  # the switch at this lot (REASONS), None if none
    reason_detail: dict[str, Any]
    score: int  # the switching score after it (kept while on tightened or reduced, 0 again back on normal)


@dataclass(frozen=True)
class SeriesState:
    """Where a series stands: the severity of its next lot, why, the score and every lot's step."""

    severity: str
    reason: str  # why the series is at this severity: the latest switch, or "start"
    reason_detail: dict[str, Any]  # lots: [positions], uids, labels; or score, or lot
    score: int
    history: tuple[Step, ...] = ()


def accepted_one_step_tighter(lot_size: int, level: str, aql_value: str | Decimal, found: int) -> bool:
    """Return whether ``found`` would have been accepted on normal inspection at the next tighter AQL.

    The tighter acceptance number is read in the row of the plan actually used (its plan letter), so
    it judges the same sample; for plans with Ac 2 or more (the only ones 9.3.3.2 asks this of) that
    row always has a plan one AQL step to the left. At the smallest AQL there is no tighter one: False.
    """
    plan = aql.sampling_plan(lot_size, aql_value, level, "normal")
    return _accepted_tighter(plan.plan_letter, plan.aql, found)


def _accepted_tighter(plan_letter: str, aql_value: Any, found: int) -> bool:
    try:
        tighter = aql.one_step_tighter(aql_value)
        return tighter is not None and found <= aql.plan_for_letter(plan_letter, tighter, NORMAL)[2]
    except (KeyError, aql.AqlError):  # no letter of Table 2-A (S is tightened only), or no AQL of the tables
        return False


def lot_from_inspection(row: Any) -> LotResult:
    """Return a final inspection as a LotResult.

    ``row`` is anything with the attributes of an inspections row: uid, decision ("accepted" or
    "rejected"), reinspects (the inspection it re-inspects, if any), severity it was inspected at,
    plans ({class: {"aql", "plan_letter", "accept", ...} or None}) and found ({class: count}).
    Several classes are taken together as the module docstring says.
    """
    plans = getattr(row, "plans", None) or {}
    found = {str(name): int(count) for name, count in (getattr(row, "found", None) or {}).items()}
    aql_plans = {name: plan for name, plan in plans.items() if plan and not _zero(plan.get("aql"))}
    accept = min((int(plan["accept"]) for plan in aql_plans.values()), default=0)
    tighter = (getattr(row, "severity", NORMAL) or NORMAL) == NORMAL and bool(aql_plans) and all(
        _accepted_tighter(str(plan.get("plan_letter")), str(plan["aql"]), found.get(name, 0))
        for name, plan in aql_plans.items())
    uid = str(getattr(row, "uid", "") or "")
    return LotResult(accepted=getattr(row, "decision", None) == "accepted", accept=accept, accepted_tighter=tighter,
                     resubmitted=bool(getattr(row, "reinspects", None)), uid=uid,
                     label=str(getattr(row, "label", "") or uid), found=found)


def _zero(value: Any) -> bool:
    try:
        return value is None or Decimal(str(value)) == 0
    except ArithmeticError:
        return False


def _next_score(score: int, lot: LotResult) -> int:
    """9.3.3.2 a): the switching score after a lot on original normal inspection."""
    if lot.accept >= 2:
        return score + 3 if lot.accepted and lot.accepted_tighter else 0
    return score + 2 if lot.accepted else 0


def _lots_detail(lots: list[tuple[int, LotResult]]) -> dict[str, Any]:
    return {"lots": [position for position, _ in lots], "uids": [lot.uid for _, lot in lots],
            "labels": [lot.label or lot.uid for _, lot in lots]}


def fold_series(lots: Iterable[LotResult], *, steady: bool = True, approved_reduced: bool = False,
                resumed: bool = False, count_resubmitted: bool = False) -> SeriesState:
    """Fold a series' lots, in inspection order, into the severity of its next lot (ISO 2859-1 clause 9).

    ``steady``: production is at a steady rate now (if not, reduced inspection ends after the last
    lot); ``approved_reduced``: the responsible authority approves reduced inspection for the series;
    ``resumed``: inspection may resume, on tightened, after the series was discontinued;
    ``count_resubmitted``: a plant's rule that re-inspections of reworked lots count for switching like
    any lot (the standard ignores them: the default).
    """
    severity, reason, detail, score = NORMAL, "start", {}, 0
    window: list[tuple[int, LotResult]] = []  # the last 5 lots on original normal inspection, this normal period
    accepted_run: list[tuple[int, LotResult]] = []  # consecutive lots accepted on original tightened inspection
    rejected_on_tightened: list[tuple[int, LotResult]] = []  # lots not accepted, this tightened period
    history: list[Step] = []
    switches: list[str] = []  # the switches made at the lot being folded

    def switch(to: str, why: str, why_detail: dict[str, Any]) -> None:
        nonlocal severity, reason, detail, score, window, accepted_run, rejected_on_tightened
        severity, reason, detail = to, why, why_detail
        window, accepted_run, rejected_on_tightened = [], [], []
        if to == NORMAL:  # 9.3.3.2: the score starts at 0 at the start of normal inspection
            score = 0
        switches.append(why)

    for position, lot in enumerate(lots, start=1):
        switches.clear()
        about_lot = {"lot": position, "uid": lot.uid, "label": lot.label or lot.uid}
        if severity == DISCONTINUED and (lot.resumed or resumed):
            switch(TIGHTENED, "resumed", about_lot)
        inspected_under = severity
        counted = (count_resubmitted or not lot.resubmitted) and severity != DISCONTINUED
        entry = (position, lot)
        if counted and severity == NORMAL:
            window = [*window, entry][-5:]
            score = _next_score(score, lot)
            not_accepted = [item for item in window if not item[1].accepted]
            if len(not_accepted) >= 2:
                switch(TIGHTENED, "two_of_five_rejected", {**_lots_detail(not_accepted), "window": len(window)})
            elif score >= REDUCED_SCORE and approved_reduced and not lot.irregular:
                switch(REDUCED, "switching_score", {"score": score, **about_lot})
        elif counted and severity == TIGHTENED:
            if lot.accepted:
                accepted_run.append(entry)
                if len(accepted_run) == 5:
                    switch(NORMAL, "five_accepted_on_tightened", _lots_detail(accepted_run))
            else:
                accepted_run = []
                rejected_on_tightened.append(entry)
                if len(rejected_on_tightened) == 5:
                    switch(DISCONTINUED, "five_rejected_on_tightened", _lots_detail(rejected_on_tightened))
        elif counted and severity == REDUCED and not lot.accepted:
            switch(NORMAL, "rejected_on_reduced", about_lot)
        if severity == REDUCED and lot.irregular:
            switch(NORMAL, "irregular_production", about_lot)
        history.append(Step(position, lot.uid, lot.label or lot.uid, lot.accepted, lot.resubmitted, counted,
                            inspected_under, severity, switches[-1] if switches else None,
                            detail if switches else {}, score))
    if severity == DISCONTINUED and resumed:
        switch(TIGHTENED, "resumed", {})
    elif severity == REDUCED and not steady:
        switch(NORMAL, "irregular_production", {})
    return SeriesState(severity, reason, detail, score, tuple(history))
