"""Quality as pages and devices read it: plans, series, inspections folded from their logs, orders' summaries.

The read side of inspections (the write side, `webapp/services/inspections.py`, records the
events and writes what these functions fold): the quality plan of a product and customer, the
switching state of a series (product + supplier) from its final lots, an inspection folded from
its log, and each order's quality summary (packed, first pieces, mid-production reports, the
final, the series' severity, the first piece's focus points).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, or_, select

from webapp.domain import aql, switching
from webapp.domain import inspections as rules
from webapp.models import (DefectType, Inspection, InspectionLog, InspectionTemplate, Operation, QualityPlan,
                           ReworkOrder, SamplingSeries, Setting, WorkOrder)


def setting(session, key: str, default: str) -> str:
    """Return a plant setting's value, or `default`."""
    value = session.execute(select(Setting.value).where(Setting.key == key)).scalar()
    return value if value not in (None, "") else default


def quality_plan(session, product_id: int | None, customer: str | None) -> tuple[str, dict[str, str]]:
    """Return the inspection level and the AQL per defect class for a product and customer.

    The most specific plan wins: product and customer, product, customer, then the plant's
    settings (`inspection_level`, `aql_critical`, `aql_major` (or the older `aql`), `aql_minor`).
    """
    q = QualityPlan.__table__.c
    rows = session.execute(select(QualityPlan.__table__).where(
        or_(q.product_id == product_id, q.product_id.is_(None)),
        or_(q.customer == customer, q.customer.is_(None)))).all()
    rows = [r for r in rows if r.product_id is not None or r.customer is not None]
    if rows:
        best = max(rows, key=lambda r: (r.product_id is not None, r.customer is not None))
        return best.level, {"critical": best.aql_critical, "major": best.aql_major, "minor": best.aql_minor}
    level = setting(session, "inspection_level", "II")
    return level, {"critical": setting(session, "aql_critical", rules.DEFAULT_AQLS["critical"]),
                   "major": setting(session, "aql_major", setting(session, "aql", rules.DEFAULT_AQLS["major"])),
                   "minor": setting(session, "aql_minor", rules.DEFAULT_AQLS["minor"])}


def plans_json(plans: dict[str, aql.SamplingPlan | None]) -> dict[str, Any]:
    """A class's plan as stored and shown: code letter, plan letter, n, Ac, Re, every unit or not."""
    return {cls: None if p is None else {"aql": str(p.aql), "code_letter": p.code_letter,
                                         "plan_letter": p.plan_letter, "sample_size": p.sample_size,
                                         "accept": p.accept, "reject": p.reject, "inspect_all": p.inspect_all}
            for cls, p in plans.items()}


def plans_from_json(stored: dict[str, Any] | None) -> dict[str, aql.SamplingPlan | None] | None:
    """The stored plans back as the fold takes them."""
    if not stored:
        return None
    return {cls: None if p is None else aql.SamplingPlan(
        aql=p["aql"], level="", severity="", code_letter=p["code_letter"], plan_letter=p["plan_letter"],
        sample_size=p["sample_size"], accept=p["accept"], reject=p["reject"], inspect_all=p["inspect_all"])
        for cls, p in stored.items()}


def series_lots(session, product_id: int, supplier: str) -> list[Any]:
    """The final inspections of a series (product + supplier) that have a decision, in log order."""
    i = Inspection.__table__.c
    return session.execute(
        select(i.uid, i.decision, i.found, i.plans, i.lot_size, i.level, i.aqls, i.reinspects, i.finished_at,
               i.work_order_id, i.severity)
        .where(i.product_id == product_id, func.coalesce(i.supplier, "") == supplier, i.kind == "final",
               i.decision.in_(("accepted", "rejected")))
        .order_by(i.finished_at, i.id)).all()


def series_state(session, product_id: int, supplier: str | None) -> switching.SeriesState:
    """The switching state of a series: which severity applies to its next lot, and why."""
    supplier = supplier or ""
    s = SamplingSeries.__table__.c
    row = session.execute(select(SamplingSeries.__table__).where(s.product_id == product_id,
                                                                 s.supplier == supplier)).first()
    lots = [switching.lot_from_inspection(r) for r in series_lots(session, product_id, supplier)]
    return switching.fold_series(lots, steady=row.production_steady if row else True,
                                 approved_reduced=row.reduced_approved if row else False,
                                 resumed=row.resumed_at is not None if row else False,
                                 count_resubmitted=setting(session, "reinspections_count", "1") == "1")



def template_for(session, product_id: int | None, kind: str) -> str | None:
    """The checklist for a product and kind: its own, else the plant's."""
    t = InspectionTemplate.__table__.c
    rows = session.execute(select(t.code, t.product_id).where(
        t.kind == kind, t.active.is_(True), or_(t.product_id == product_id, t.product_id.is_(None)))
        .order_by(t.id)).all()
    own = [r.code for r in rows if r.product_id is not None]
    return (own or [r.code for r in rows] or [None])[0]


def entries(session, uids: list[str]) -> dict[str, list[rules.Entry]]:
    """The inspections' handled events as the fold takes them."""
    log = InspectionLog.__table__.c
    found: dict[str, list[rules.Entry]] = {uid: [] for uid in uids}
    for r in session.execute(select(InspectionLog.__table__).where(log.inspection_uid.in_(uids))):
        found[r.inspection_uid].append(rules.Entry((r.effective_at, r.device_id, r.seq), r.event_id, r.kind,
                                                   r.person_id, r.role, r.payload, r.verification))
    return found


def template_items(session, codes: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Checklist items of templates by code."""
    if not codes:
        return {}
    t = InspectionTemplate.__table__.c
    return dict(session.execute(select(t.code, t["items"]).where(t.code.in_(codes))).all())


def fold(session, uids: list[str]) -> tuple[dict[str, Any], dict[str, rules.Fold], dict[str, list[rules.Entry]]]:
    """Read and fold inspections: their rows (by uid), folds and logs."""
    i = Inspection.__table__.c
    rows = {r.uid: r for r in session.execute(select(Inspection.__table__).where(i.uid.in_(uids)))}
    logs = entries(session, uids)
    items = template_items(session, {r.template_code for r in rows.values() if r.template_code})
    folds = {uid: rules.fold_inspection(logs[uid], items.get(rows[uid].template_code, []) if uid in rows else [],
                                        plans_from_json(rows[uid].plans) if uid in rows else None)
             for uid in uids}
    return rows, folds, logs



def quality_summary(session, order_ids: set[int], today: date | None = None) -> dict[int, dict[str, Any]]:
    """Each order's quality as devices pull it and the office sees it (see the contract in the README)."""
    today = today or date.today()
    w = WorkOrder.__table__.c
    i = Inspection.__table__.c
    orders = session.execute(select(w.id, w.product_id, w.customer, w.factory, w.quantity, w.packed, w.cartons,
                                    w.status).where(w.id.in_(order_ids))).all()
    found: dict[int, dict[str, Any]] = {}
    if not orders:
        return found
    inspections = session.execute(
        select(i.uid, i.kind, i.status, i.work_order_id, i.operation_id, i.finished_at, i.started_at, i.decision,
               i.template_code, i.results, i.id, i.reinspects, i.lot_size)
        .where(i.work_order_id.in_(order_ids), i.uid.is_not(None)).order_by(i.started_at, i.id)).all()
    ops = dict(session.execute(select(Operation.id, Operation.code)).all())
    r = ReworkOrder.__table__.c
    rework = {x.work_order_id: x for x in session.execute(
        select(ReworkOrder.__table__).where(r.work_order_id.in_(order_ids)).order_by(r.id))}
    gate = setting(session, "first_piece_gate", "warn")
    every = _every(session)
    table, above = _mid_table(session)
    percent = int(setting(session, "final_offer_percent", str(rules.FINAL_OFFER_PERCENT)))
    series_cache: dict[tuple[int, str], Any] = {}
    for o in orders:
        mine = [x for x in inspections if x.work_order_id == o.id]
        first = {}
        for x in mine:
            if x.kind == "first_piece" and x.operation_id is not None:
                first[ops.get(x.operation_id, "?")] = x.status  # the latest started holds
        passed = [x.finished_at for x in mine if x.kind == "first_piece" and x.status == "passed"]
        mids = [x.finished_at.date() for x in mine if x.kind == "mid_production" and x.finished_at is not None]
        mid = rules.mid_status(o.quantity, o.packed, mids, min(passed).date() if passed else None, today,
                               every=every, table=table, above=above, finished=o.status in ("done", "closed"),
                               offer_percent=percent)
        finals = [x for x in mine if x.kind == "final"]
        last_final = finals[-1] if finals else None
        key = (o.product_id, o.factory or "")
        if key not in series_cache:
            series_cache[key] = series_state(session, o.product_id, o.factory)
        state = series_cache[key]
        level, aqls = quality_plan(session, o.product_id, o.customer)
        rw = rework.get(o.id)
        # The first piece that counts at each operation is the last one completed: its findings are the focus.
        latest = {x.operation_id: x for x in mine if x.kind == "first_piece" and x.finished_at is not None}
        focus = _focus(session, list(latest.values()))
        found[o.id] = {
            "packed": o.packed, "cartons": o.cartons, "level": level, "aqls": aqls,
            "series": {"severity": state.severity, "reason": state.reason, "detail": state.reason_detail,
                       "supplier": o.factory},
            "first_piece": first, "first_piece_gate": gate,
            "first_piece_required": template_for(session, o.product_id, "first_piece") is not None,
            "mid": {"signed": mid.signed, "required": mid.required,
                    "next_due": mid.next_due.isoformat() if mid.next_due else None,
                    "overdue_on": mid.overdue_on.isoformat() if mid.overdue_on else None,
                    "behind": mid.behind, "reasons": list(mid.reasons)},
            "final": {"offered": rules.final_offered(o.quantity, o.packed, percent),
                      "status": last_final.status if last_final else None,
                      "inspection_id": last_final.uid if last_final else None,
                      "rework": {"inspection_id": rw.inspection_uid, "status": rw.status} if rw else None,
                      # After an accepted final, the rest of the order is still followed until it ships.
                      "lot_size": last_final.lot_size if last_final else None,
                      "packed_since": max(0, o.packed - (last_final.lot_size or 0))
                      if last_final and last_final.status == "passed" else None,
                      "remaining": max(0, o.quantity - o.packed)},
            "focus": focus,
        }
    return found


def current(session, orders) -> dict[int, dict[str, Any]]:
    """Each order's quality summary: as last written, or computed now for an order no record touched yet."""
    missing = {o.id for o in orders if o.quality is None}
    computed = quality_summary(session, missing) if missing else {}
    return {o.id: o.quality if o.quality is not None else computed.get(o.id, {}) for o in orders}


def series_orders(session, order_ids: set[int]) -> set[int]:
    """The orders in production of the same series (product + factory) as these: a lot of one switches them all."""
    w = WorkOrder.__table__.c
    keys = set(session.execute(select(w.product_id, func.coalesce(w.factory, "")).where(w.id.in_(order_ids))).all())
    if not keys:
        return set()
    rows = session.execute(select(w.id, w.product_id, func.coalesce(w.factory, "").label("factory")).where(
        w.product_id.in_({k[0] for k in keys}), w.status.in_(("planned", "in_progress")))).all()
    return {r.id for r in rows if (r.product_id, r.factory) in keys}


def _focus(session, firsts: list[Any]) -> list[dict[str, Any]]:
    """The focus points the first pieces' findings give the mid-production checks."""
    if not firsts:
        return []
    rows, folds, _ = fold(session, [x.uid for x in firsts])
    items = template_items(session, {r.template_code for r in rows.values() if r.template_code})
    names = dict(session.execute(select(DefectType.code, DefectType.name_zh)).all())
    out: list[dict[str, Any]] = []
    for uid, f in folds.items():
        for point in rules.focus_points(items.get(rows[uid].template_code, []), f, names):
            if point not in out:
                out.append(point)
    return out


def _every(session) -> tuple[int, int]:
    text = setting(session, "mid_every_days", "3-6")
    low, _, high = text.partition("-")
    try:
        every = (int(low), int(high or low))
    except ValueError:
        return rules.MID_EVERY
    return every if 1 <= every[0] <= every[1] else rules.MID_EVERY


def _mid_table(session):
    try:
        return rules.parse_mid_reports(setting(session, "mid_reports", ""))
    except ValueError:
        return rules.MID_REPORTS, rules.MID_ABOVE



def first_piece_status(session, order_id: int | None, operation_id: int | None) -> str | None:
    """The first piece of an order at an operation: passed, failed, open, or None (not inspected)."""
    if order_id is None or operation_id is None:
        return None
    i = Inspection.__table__.c
    return session.execute(select(i.status).where(
        i.work_order_id == order_id, i.operation_id == operation_id, i.kind == "first_piece")
        .order_by(i.started_at.desc(), i.id.desc()).limit(1)).scalar()
