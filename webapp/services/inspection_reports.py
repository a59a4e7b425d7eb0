"""Reading inspections: one inspection as its report (page and PDF) shows it, the office's lists, the
switching series, the defect library, and the orders' quality.

A read model: it folds an inspection from its log through `webapp.services.quality` (so the report
says what the log says, value by value and signature by signature) and never imports the write side
(`webapp/services/inspections.py`). Names people read (kinds, classes, severities, reasons) are here,
translated lazily, for the pages, the PDF and the record partials alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from sync.flags import flags_of
from webapp.domain import inspections as rules
from webapp.domain import switching
from webapp import names
from webapp.extensions import db
from webapp.models import (Bin, Blob, Defect, DefectType, Inspection, InspectionTemplate, Operation, Product,
                           ReworkOrder, SamplingSeries, User, WorkOrder)
from webapp.models.types import from_ms, utcnow
from webapp.services import quality

KIND_NAMES = names.INSPECTION_KINDS
STATUS_NAMES = names.INSPECTION_STATUSES
DECISION_NAMES = {"accepted": _l("Lot accepted"), "rejected": _l("Lot rejected"), "passed": _l("Passed"),
                  "failed": _l("Failed")}
CLASS_NAMES = names.DEFECT_CLASSES
SEVERITY_NAMES = names.SEVERITIES
STEP_NAMES = {"inspector": _l("Inspector"), "operator": _l("Operator"), "factory": _l("The factory")}
GROUP_NAMES = {"size": _l("Size"), "workmanship": _l("Workmanship"), "materials": _l("Materials"),
               "pressing": _l("Pressing"), "packaging": _l("Packaging"), "quantity": _l("Quantity"),
               "other": _l("Other")}
CHECK_NAMES = {"pass": _l("OK"), "fail": _l("Not OK")}
REWORK_NAMES = {"open": _l("Rework open"), "reinspected": _l("Reworked lot re-inspected")}
MID_REASONS = {
    "overdue": _l("the last report is more than the allowed working days old"),
    "too_few_for_packed": _l("fewer reports than the packed quantity needs"),
    "too_few_at_final": _l("the final inspection is due and the minimum is not reached"),
}
FIRST_PIECE_NAMES = {"passed": _l("passed"), "failed": _l("failed"), "open": _l("open")}
# Why a series is inspected at its severity (webapp/domain/switching.py says which applies).
REASON_NAMES = {
    "start": _l("Normal inspection at the start (no switching yet)"),
    "two_of_five_rejected": _l("Tightened: 2 of 5 or fewer consecutive lots were not accepted"),
    "five_accepted_on_tightened": _l("Back to normal: 5 consecutive lots accepted on tightened inspection"),
    "switching_score": _l("Reduced: the switching score reached 30, production is steady and reduced "
                          "inspection is approved"),
    "rejected_on_reduced": _l("Back to normal: a lot was not accepted on reduced inspection"),
    "irregular_production": _l("Back to normal: production is irregular or delayed"),
    "five_rejected_on_tightened": _l("Discontinued: 5 lots not accepted while on tightened inspection"),
    "resumed": _l("Resumed on tightened inspection: the supplier has improved"),
}
UNKNOWN = "—"


def names() -> dict[str, dict[str, Any]]:
    """Return the names templates show for inspections (kinds, statuses, classes, severities, reasons…)."""
    return {"kinds": KIND_NAMES, "statuses": STATUS_NAMES, "decisions": DECISION_NAMES, "classes": CLASS_NAMES,
            "severities": SEVERITY_NAMES, "steps": STEP_NAMES, "groups": GROUP_NAMES, "checks": CHECK_NAMES,
            "rework": REWORK_NAMES, "mid_reasons": MID_REASONS, "first_piece": FIRST_PIECE_NAMES,
            "reasons": REASON_NAMES}


def reason_text(reason: str | None) -> str:
    """Say in the reader's language why a series is inspected at its severity."""
    if not reason:
        return UNKNOWN
    return str(REASON_NAMES.get(reason, reason))


# --- Photos and their markup ---------------------------------------------------------------------

MARK_COLOUR = "#e8171f"  # a shape without a colour: the red the device draws it in
PHOTO_FALLBACK = (1200, 900)  # a photo not uploaded yet: its markup is laid out on a 4:3 box


def markup_geometry(shapes: list[dict[str, Any]], width: int | None, height: int | None) -> dict[str, Any]:
    """Lay a markup layer out in the photo's pixels, as the device draws it (static/js/behaviours/photo-markup.js).

    Coordinates are fractions of the photo's width (x, r) and height (y); the stroke is wide enough to
    see on a thumbnail; an arrow's head is a triangle five strokes long; a text is a fourteenth of the
    photo's height. Pages draw the result as SVG with the photo's pixels as viewBox, the PDF with reportlab.
    """
    w, h = (width, height) if width and height else PHOTO_FALLBACK
    stroke = max(2, round(min(w, h) / 90))
    out: list[dict[str, Any]] = []
    for shape in shapes:
        colour = shape.get("color") or MARK_COLOUR
        if shape["kind"] == "circle":
            out.append({"kind": "circle", "colour": colour, "cx": shape["x"] * w, "cy": shape["y"] * h,
                        "r": max(1.0, shape["r"] * w)})
        elif shape["kind"] == "arrow":
            x1, y1, x2, y2 = shape["x1"] * w, shape["y1"] * h, shape["x2"] * w, shape["y2"] * h
            angle, head = math.atan2(y2 - y1, x2 - x1), stroke * 5
            wings = [(x2 - head * math.cos(angle + turn), y2 - head * math.sin(angle + turn)) for turn in (0.45, -0.45)]
            out.append({"kind": "arrow", "colour": colour, "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                        "head": [(x2, y2), *wings],
                        "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in [(x2, y2), *wings])})
        elif shape["kind"] == "text":
            out.append({"kind": "text", "colour": colour, "x": shape["x"] * w, "y": shape["y"] * h,
                        "size": round(h / 14), "text": shape.get("text", "")})
    return {"width": w, "height": h, "stroke": stroke, "shapes": out}


# --- One inspection -------------------------------------------------------------------------------

def _people(ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {r.id: r for r in db.session.execute(select(User.id, User.display_name, User.role)
                                                .where(User.id.in_(wanted)))}


def _photo_sizes(shas: Iterable[str]) -> dict[str, tuple[int | None, int | None, bool]]:
    """Each photo the server holds: its width, height and whether it has fully arrived."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    b = Blob.__table__.c
    return {r.sha256: (r.width, r.height, r.complete) for r in db.session.execute(
        select(b.sha256, b.width, b.height, b.complete).where(b.sha256.in_(wanted)))}


def _photos(shas: list[str], markup: list[dict[str, Any]] | None,
            sizes: dict[str, tuple[int | None, int | None, bool]]) -> list[dict[str, Any]]:
    """The photos of a defect, each with the layer of shapes drawn over it (the photo itself as taken)."""
    layers: dict[str, list[dict[str, Any]]] = {}
    for layer in markup or []:
        layers.setdefault(layer["photo"], []).extend(layer["shapes"])
    out = []
    for sha in shas:
        width, height, complete = sizes.get(sha, (None, None, False))
        out.append({"sha256": sha, "shapes": layers.get(sha, []), "width": width, "height": height,
                    "held": bool(complete)})
    return out


def _checklist(items: list[dict[str, Any]], fold: rules.Fold) -> list[dict[str, Any]]:
    """Each checklist item with its value per unit, each in or out of tolerance (items measured but not in
    the template come last, unjudged)."""
    known = {item["key"] for item in items}
    extra = [{"key": key, "label_zh": key, "label_en": key, "group": "other", "type": None}
             for key in fold.results if key not in known]
    out = []
    for item in [*items, *extra]:
        measured = fold.results.get(item["key"], {})
        values = [{"unit": int(unit), "value": value, "ok": rules.within(item, value) if item.get("type") else None}
                  for unit, value in sorted(measured.items(), key=lambda kv: int(kv[0]))]
        out.append({"key": item["key"], "label_zh": item.get("label_zh") or item["key"],
                    "label_en": item.get("label_en") or item["key"], "group": item.get("group") or "other",
                    "type": item.get("type"), "nominal": item.get("nominal"), "minus": item.get("minus"),
                    "plus": item.get("plus"), "unit": item.get("unit"), "values": values,
                    "out": sum(1 for v in values if v["ok"] is False)})
    return out


def _plans(row: Any, fold: rules.Fold) -> list[dict[str, Any]]:
    """A sampled lot's plan per defect class (code letter, plan letter, n, Ac, Re) and what was found."""
    stored = row.plans or {}
    decided = fold.classes or {}
    out = []
    for cls in rules.CLASSES:
        if cls not in stored:
            continue
        plan = stored[cls]
        found = (fold.found or {}).get(cls, 0)
        verdict = decided.get(cls) or {}
        entry = {"class": cls, "aql": (row.aqls or {}).get(cls), "found": found, "code_letter": None,
                 "plan_letter": None, "sample_size": None, "accept": None, "reject": None, "inspect_all": False}
        if plan is None:  # no plan for this class (AQL 0): any defect of it rejects the lot
            entry.update(accept=0, reject=1)
        else:
            entry.update(aql=plan.get("aql", entry["aql"]), code_letter=plan.get("code_letter"),
                         plan_letter=plan.get("plan_letter"), sample_size=plan.get("sample_size"),
                         accept=plan.get("accept"), reject=plan.get("reject"),
                         inspect_all=bool(plan.get("inspect_all")))
        accepted = None
        if isinstance(verdict, dict):  # aql.decide's per class: {"decision": accepted | rejected, ...}
            accepted = verdict["accepted"] if "accepted" in verdict else (
                verdict["decision"] == "accepted" if verdict.get("decision") else None)
        if accepted is None and entry["reject"] is not None:
            accepted = found < entry["reject"]
        entry["accepted"] = accepted
        out.append(entry)
    return out


def _signatures(fold: rules.Fold, people: dict[int, Any]) -> list[dict[str, Any]]:
    signed = ([fold.completed] if fold.completed is not None else []) + sorted(fold.signatures, key=lambda e: e.order)
    out = []
    for e in signed:
        person = people.get(e.person_id)
        out.append({"event_id": e.event_id, "step": e.payload.get("step", "inspector"),
                    "signer": person.display_name if person else None,
                    "role": e.role or (person.role if person else None),
                    "verification": e.verification, "signed_at": from_ms(e.order[0]), "device_id": e.order[1],
                    "signature_sha256": e.payload.get("signature_sha256"),
                    # The completion's note is the inspection's (shown with the decision), not the signature's.
                    "note": e.payload.get("note") if e.kind == "signed" else None})
    return out


def report(uid: str) -> dict[str, Any] | None:
    """Return an inspection as its log says it is now (the report's page and PDF), or None if the server has none."""
    rows, folds, logs = quality.fold(db.session, [uid])
    row = rows.get(uid)
    if row is None:
        return None
    fold, log = folds[uid], logs[uid]
    order = db.session.get(WorkOrder, row.work_order_id)
    product = db.session.get(Product, row.product_id or order.product_id) if order else None
    operation = db.session.get(Operation, row.operation_id) if row.operation_id else None
    bin_code = db.session.execute(select(Bin.code).where(Bin.id == row.bin_id)).scalar() if row.bin_id else None
    t = InspectionTemplate.__table__.c
    template = db.session.execute(select(t.code, t.name_zh, t.name_en, t["items"]).where(
        t.code == row.template_code)).first() if row.template_code else None
    people = _people([row.inspector_id, *(e.person_id for e in log)])
    defects = sorted(fold.defects.values(), key=lambda e: e.order)
    sizes = _photo_sizes(sha for e in defects for sha in e.payload.get("photos") or [])
    type_codes = {e.payload.get("type") for e in defects if e.payload.get("type")}
    types = {r.code: r for r in db.session.execute(
        select(DefectType.code, DefectType.name_zh, DefectType.name_en).where(DefectType.code.in_(type_codes)))} \
        if type_codes else {}
    started = fold.started
    starter = people.get(started.person_id if started else row.inspector_id)
    flags = flags_of(db.session, [e.event_id for e in log])
    state = None
    if row.kind == "final" and row.product_id is not None:
        state = quality.series_state(db.session, row.product_id, row.supplier)
    r = ReworkOrder.__table__.c
    rework = db.session.execute(select(ReworkOrder.__table__).where(r.inspection_uid == uid)).first()
    i = Inspection.__table__.c
    reinspections = [x.uid for x in db.session.execute(
        select(i.uid).where(i.reinspects == uid).order_by(i.started_at, i.id))]
    done = fold.completed
    return {
        "uid": uid,
        "kind": row.kind,
        "status": fold.status,
        "decision": fold.decision,
        "verdict": fold.verdict,
        "note": done.payload.get("note") if done else None,
        "work_order": order.number if order else None,
        "order_quantity": order.quantity if order else None,
        "customer": order.customer if order else None,
        "supplier": row.supplier or (order.factory if order else None),
        "product": {"code": product.code, "name_zh": product.name_zh, "name_en": product.name_en} if product else None,
        "operation": ({"code": operation.code, "name_zh": operation.name_zh, "name_en": operation.name_en}
                      if operation else None),
        "bin_code": bin_code,
        "template": ({"code": template.code, "name_zh": template.name_zh, "name_en": template.name_en}
                     if template else ({"code": row.template_code, "name_zh": row.template_code,
                                        "name_en": row.template_code} if row.template_code else None)),
        "lot_size": row.lot_size,
        "level": row.level,
        "severity": row.severity,
        "severity_reason": _lot_reason(state, uid) if state is not None else None,
        "aqls": row.aqls,
        "sample_size": row.sample_size,
        "units": row.units,
        "cartons": row.cartons or [],
        "plans": _plans(row, fold) if row.plans else [],
        "checklist": _checklist(template.items if template else [], fold),
        "out_of_tolerance": len(fold.out_of_tolerance),
        "found": dict(fold.found),
        "defects": [{
            "defect_id": e.payload["defect_id"], "class": e.payload["class"], "type": e.payload.get("type"),
            "type_zh": types[e.payload["type"]].name_zh if e.payload.get("type") in types else None,
            "type_en": types[e.payload["type"]].name_en if e.payload.get("type") in types else None,
            "description": e.payload.get("description"), "location": e.payload.get("location"),
            "count": e.payload["count"], "unit": e.payload.get("unit"), "note": e.payload.get("note"),
            "photos": _photos(e.payload.get("photos") or [], e.payload.get("markup"), sizes),
            "recorded_by": (people.get(e.person_id).display_name if people.get(e.person_id) else None),
            "recorded_at": from_ms(e.order[0]), "event_id": e.event_id} for e in defects],
        "signatures": _signatures(fold, people),
        "cosigners_missing": rules.cosigners_missing(row.kind, fold.signatures) if done else [],
        "flags": [{"event_id": event_id, **f} for event_id, found in flags.items() for f in found],
        "started_by": starter.display_name if starter else None,
        "started_at": from_ms(started.order[0]) if started else row.started_at,
        "started_device": started.order[1] if started else row.device_id,
        "started_note": started.payload.get("note") if started else None,
        "completed_at": from_ms(done.order[0]) if done else None,
        "reinspects": row.reinspects,
        "rework": ({"status": rework.status, "opened_at": rework.opened_at, "closed_at": rework.closed_at,
                    "reinspection_uid": rework.reinspection_uid, "reason": rework.reason} if rework else None),
        "reinspections": reinspections,
    }


# --- The switching series --------------------------------------------------------------------------

def _lot_reason(state: switching.SeriesState, uid: str) -> str:
    """Why a lot was inspected at its severity: the last switch before it in its series (a resumption after a
    discontinuation: at the lot itself), or, for a lot without a decision yet, the series' reason now."""
    last = "start"
    for step in state.history:
        if step.uid == uid:
            return step.reason if step.reason == "resumed" else last
        last = step.reason or last
    return state.reason


def _series_keys() -> list[tuple[int, str]]:
    """Every series the plant has: a product from a supplier that has a setting, an order or a final inspection."""
    s, i, w = SamplingSeries.__table__.c, Inspection.__table__.c, WorkOrder.__table__.c
    keys = {(p, f) for p, f in db.session.execute(select(s.product_id, s.supplier))}
    keys |= {(p, f or "") for p, f in db.session.execute(
        select(i.product_id, i.supplier).where(i.kind == "final", i.product_id.is_not(None)).distinct())}
    keys |= {(p, f or "") for p, f in db.session.execute(select(w.product_id, w.factory).distinct())}
    return sorted(keys, key=lambda k: (k[0], k[1]))


def _settings(product_id: int, supplier: str) -> Any:
    s = SamplingSeries.__table__.c
    return db.session.execute(select(SamplingSeries.__table__).where(s.product_id == product_id,
                                                                     s.supplier == supplier)).first()


def series_list() -> list[dict[str, Any]]:
    """List every series (product + supplier) with its current severity, the reason in words, and its lots."""
    products = {p.id: p for p in db.session.execute(select(Product.id, Product.code, Product.name_zh,
                                                           Product.name_en))}
    out = []
    for product_id, supplier in _series_keys():
        product = products.get(product_id)
        if product is None:
            continue
        state = quality.series_state(db.session, product_id, supplier)
        lots = quality.series_lots(db.session, product_id, supplier)
        settings = _settings(product_id, supplier)
        out.append({
            "product": {"code": product.code, "name_zh": product.name_zh, "name_en": product.name_en},
            "supplier": supplier, "severity": state.severity, "reason": state.reason,
            "reason_text": reason_text(state.reason), "detail": state.reason_detail,
            "score": state.score, "lots": len(lots),
            "rejected": sum(1 for x in lots if x.decision == "rejected"),
            "last_lot": lots[-1].finished_at if lots else None,
            "reduced_approved": bool(settings.reduced_approved) if settings else False,
            "production_steady": bool(settings.production_steady) if settings else True,
            "resumed_at": settings.resumed_at if settings else None,
        })
    return out


def _product(code: str) -> Any:
    return db.session.execute(select(Product.id, Product.code, Product.name_zh, Product.name_en)
                              .where(Product.code == code)).first()


def series_history(product_code: str, supplier: str | None) -> dict[str, Any] | None:
    """Return one series' history: each lot, its decision, the severity it was inspected under, switches and why."""
    product = _product(product_code)
    if product is None:
        return None
    supplier = supplier or ""
    state = quality.series_state(db.session, product.id, supplier)
    lots = quality.series_lots(db.session, product.id, supplier)
    orders = dict(db.session.execute(select(WorkOrder.id, WorkOrder.number).where(
        WorkOrder.id.in_({x.work_order_id for x in lots}))).all()) if lots else {}
    steps = {step.uid: step for step in state.history}
    entries = []
    for n, lot in enumerate(lots):
        step = steps.get(lot.uid)
        under = step.inspected_under if step else lot.severity
        after = step.after if step else under
        reason = step.reason if step else None
        entries.append({
            "n": n + 1, "uid": lot.uid, "work_order": orders.get(lot.work_order_id), "finished_at": lot.finished_at,
            "lot_size": lot.lot_size, "decision": lot.decision, "found": lot.found or {}, "severity": under,
            "stored_severity": lot.severity, "after": after, "switched": reason is not None,
            "reason": reason, "reason_text": reason_text(reason) if reason else None,
            "reason_lots": (step.reason_detail or {}).get("lots", []) if step and reason else [],
            "counted": step.counted if step else True, "reinspects": lot.reinspects,
            "score": step.score if step else None,
        })
    settings = _settings(product.id, supplier)
    editor = _people([settings.updated_by]).get(settings.updated_by) if settings and settings.updated_by else None
    return {
        "product": {"code": product.code, "name_zh": product.name_zh, "name_en": product.name_en},
        "supplier": supplier, "severity": state.severity, "reason": state.reason,
        "reason_text": reason_text(state.reason), "detail": state.reason_detail,
        "score": state.score, "lots": entries,
        "reduced_approved": bool(settings.reduced_approved) if settings else False,
        "production_steady": bool(settings.production_steady) if settings else True,
        "resumed_at": settings.resumed_at if settings else None,
        "updated_at": settings.updated_at if settings else None,
        "updated_by": editor.display_name if editor else None,
    }


def update_series(product_code: str, supplier: str | None, *, reduced_approved: bool, production_steady: bool,
                  resumed: bool, by: int) -> set[int] | None:
    """Set what the switching rules need beyond a series' lots; return the orders whose quality this changes.

    `resumed`: inspection goes on after a discontinuation (the supplier improved): `resumed_at` is set
    when first said, kept while it stays said, cleared when unsaid. The caller refreshes the orders'
    quality summaries (the write side's `refresh_quality`) and commits. None if the product is unknown.
    """
    product = _product(product_code)
    if product is None:
        return None
    supplier = supplier or ""
    row = db.session.execute(select(SamplingSeries).where(SamplingSeries.product_id == product.id,
                                                          SamplingSeries.supplier == supplier)).scalar()
    now = utcnow()
    if row is None:
        row = SamplingSeries(product_id=product.id, supplier=supplier)
        db.session.add(row)
    row.reduced_approved, row.production_steady = reduced_approved, production_steady
    row.resumed_at = (row.resumed_at or now) if resumed else None
    row.updated_by, row.updated_at = by, now
    db.session.flush()
    w = WorkOrder.__table__.c
    return set(db.session.execute(select(w.id).where(
        w.product_id == product.id, func.coalesce(w.factory, "") == supplier)).scalars())


# --- The office's list --------------------------------------------------------------------------------

def inspectors() -> list[Any]:
    """The people who have run an inspection, by name (the list's filter)."""
    i = Inspection.__table__.c
    return list(db.session.execute(select(User.id, User.display_name).where(
        User.id.in_(select(i.inspector_id).where(i.uid.is_not(None)))).order_by(User.display_name)))


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone)


def office_list(kind: str | None = None, status: str | None = None, order: str | None = None,
                product: str | None = None, inspector: int | None = None, date_from: date | None = None,
                date_to: date | None = None, limit: int = 200, zone: ZoneInfo | None = None) -> list[dict[str, Any]]:
    """List inspections, newest first, filtered by kind, status (open, passed, failed), order and product
    (the start of their number or code), inspector, and the plant days they started on."""
    zone = zone or ZoneInfo("Asia/Shanghai")
    i = Inspection.__table__.c
    w = WorkOrder.__table__.c
    p = Product.__table__.c
    stmt = (select(i.uid, i.kind, i.status, i.decision, i.started_at, i.finished_at, i.lot_size, i.sample_size,
                   i.found, i.out_of_tolerance, i.severity, i.supplier, i.reinspects, i.rework_status,
                   w.number.label("work_order"), p.code.label("product_code"), p.name_zh, p.name_en,
                   User.display_name.label("inspector"), Operation.code.label("operation"))
            .select_from(Inspection.__table__)
            .join(WorkOrder.__table__, w.id == i.work_order_id)
            .outerjoin(Product.__table__, p.id == func.coalesce(i.product_id, w.product_id))
            .outerjoin(User, User.id == i.inspector_id)
            .outerjoin(Operation, Operation.id == i.operation_id)
            .where(i.uid.is_not(None)).order_by(i.started_at.desc(), i.id.desc()).limit(limit))
    if kind:
        stmt = stmt.where(i.kind == kind)
    if status:
        stmt = stmt.where(i.status == status)
    if order:
        stmt = stmt.where(func.upper(w.number).like(_starts(order), escape="\\"))
    if product:
        stmt = stmt.where(or_(func.upper(p.code).like(_starts(product), escape="\\"),
                              p.name_zh.like(f"%{_escape(product.strip())}%", escape="\\"),
                              func.upper(p.name_en).like(f"%{_escape(product.strip().upper())}%", escape="\\")))
    if inspector:
        stmt = stmt.where(i.inspector_id == inspector)
    if date_from:
        stmt = stmt.where(i.started_at >= _day_start(date_from, zone))
    if date_to:
        stmt = stmt.where(i.started_at < _day_start(date_to + timedelta(days=1), zone))
    return [dict(r._mapping) for r in db.session.execute(stmt)]


def _escape(text: str) -> str:
    """Text to find as it is in a LIKE pattern (escaped with a backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts(text: str) -> str:
    """A LIKE pattern for what starts with `text` (upper case)."""
    return _escape(text.strip().upper()) + "%"


# --- The defect library -----------------------------------------------------------------------------

EXAMPLES = 4  # recent photos of a defect type on the product, beside its reference photo


def defect_library(product_code: str) -> dict[str, Any] | None:
    """Return a product's defect types and the plant's, each with its reference photo, how often it was found on
    the product (pieces, in how many inspections, when last), and recent photos of it with their markup."""
    product = _product(product_code)
    if product is None:
        return None
    d = DefectType.__table__.c
    types = db.session.execute(select(DefectType.__table__).where(
        or_(d.product_id == product.id, d.product_id.is_(None))).order_by(d.product_id.is_(None), d.code)).all()
    f = Defect.__table__.c
    i = Inspection.__table__.c
    on_product = (select(f.type_code, f.quantity, f.inspection_id, f.recorded_at, f.photos, f.markup,
                         f.inspection_uid)
                  .join(Inspection.__table__, i.id == f.inspection_id)
                  .where(i.product_id == product.id, f.type_code.in_([t.code for t in types]))
                  .order_by(f.recorded_at.desc()))
    found: dict[str, dict[str, Any]] = {}
    for r in db.session.execute(on_product):
        seen = found.setdefault(r.type_code, {"pieces": 0, "inspections": set(), "last": None, "examples": []})
        seen["pieces"] += r.quantity or 0
        seen["inspections"].add(r.inspection_id)
        seen["last"] = seen["last"] or r.recorded_at
        for sha in r.photos or []:
            if len(seen["examples"]) < EXAMPLES:
                seen["examples"].append((sha, r.markup, r.inspection_uid))
    shas = [t.reference_sha256 for t in types if t.reference_sha256]
    shas += [sha for seen in found.values() for sha, _, _ in seen["examples"]]
    sizes = _photo_sizes(shas)
    out = []
    for t in types:
        seen = found.get(t.code, {"pieces": 0, "inspections": set(), "last": None, "examples": []})
        reference = _photos([t.reference_sha256], None, sizes)[0] if t.reference_sha256 else None
        out.append({
            "code": t.code, "name_zh": t.name_zh, "name_en": t.name_en, "class": t.default_class,
            "description_zh": t.description_zh, "description_en": t.description_en, "own": t.product_id is not None,
            "reference": reference, "pieces": seen["pieces"], "inspections": len(seen["inspections"]),
            "last_found": seen["last"],
            "examples": [{**_photos([sha], markup, sizes)[0], "inspection_uid": uid}
                         for sha, markup, uid in seen["examples"]],
        })
    return {"product": {"code": product.code, "name_zh": product.name_zh, "name_en": product.name_en},
            "types": out}


# --- Orders' quality --------------------------------------------------------------------------------

def orders_quality(include_finished: bool = False, today: date | None = None, limit: int = 300
                   ) -> list[dict[str, Any]]:
    """List orders with their quality summary (packed, first pieces, mid-production reports, the final, rework)."""
    w = WorkOrder.__table__.c
    p = Product.__table__.c
    stmt = (select(w.id, w.number, w.quantity, w.customer, w.factory, w.status, w.due_date, w.packed, w.cartons,
                   p.code.label("product_code"), p.name_zh, p.name_en)
            .join(Product.__table__, p.id == w.product_id).order_by(w.due_date, w.number).limit(limit))
    if not include_finished:
        stmt = stmt.where(w.status.not_in(("done", "closed")))
    orders = db.session.execute(stmt).all()
    # Computed now rather than read from work_orders.quality: whether an order is behind changes with the days.
    summaries = quality.quality_summary(db.session, {o.id for o in orders}, today)
    r = ReworkOrder.__table__.c
    rework: dict[int, list[Any]] = {}
    for x in db.session.execute(select(r.work_order_id, r.inspection_uid, r.status, r.opened_at)
                                .where(r.work_order_id.in_([o.id for o in orders]), r.status == "open")
                                .order_by(r.id)):
        rework.setdefault(x.work_order_id, []).append(x)
    out = []
    for o in orders:
        q = summaries.get(o.id) or {}
        out.append({
            "number": o.number, "quantity": o.quantity, "customer": o.customer, "factory": o.factory,
            "status": o.status, "due_date": o.due_date,
            "product": {"code": o.product_code, "name_zh": o.name_zh, "name_en": o.name_en},
            "packed": q.get("packed", o.packed), "cartons": q.get("cartons", o.cartons),
            "packed_percent": (100 * (q.get("packed", o.packed) or 0) // o.quantity) if o.quantity else None,
            "first_piece": q.get("first_piece") or {}, "mid": q.get("mid") or {}, "final": q.get("final") or {},
            "series": q.get("series") or {}, "rework_open": rework.get(o.id, []),
        })
    return out
