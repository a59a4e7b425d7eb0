"""Inspections (检验) and packing: the event types, the fold written to the tables, what devices pull.

Event types (v1): `inspection.started`, `inspection.measured`, `inspection.defect_recorded`,
`inspection.completed`, `inspection.signed` (a co-signer: the operator of a first piece, the
factory's person; badge + PIN on the inspector's phone) and `packing.recorded`. Each
inspection event names its inspection (`inspection_id`, made by the device) and is its subject
(`inspection:<id>`).

As with transfer slips, each handled event goes to the inspection's log (`inspection_log`, the
signer proven), and the inspection is folded from that log in log order
(`webapp.domain.inspections.fold_inspection`) and written to its `inspections` row, its
`defects` and `signatures`; flags of earlier events are brought in line. A final inspection's
plan (per defect class: code letter, n, Ac, Re) is computed here when it starts, from the lot
size, the order's quality plan (level, AQL per class) and the switching state of its series
(product + supplier, `series_state`), and its decision follows that plan. A rejected final lot
opens a rework order; the re-inspection of the reworked lot closes it.

After each run the quality summary of the orders it touched (`quality_summary`: packed, first
pieces, mid-production reports, the final, the series' severity) is written to `work_orders`,
which devices pull.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, insert, select, update

from sync.flags import settle
from sync.registry import EventType, HandlerContext, PayloadInvalid, RuleBroken
from sync.spec import Choice, Digests, Integer, PayloadSpec, Shape, Text, storable_text
from webapp.domain import aql
from webapp.domain import inspections as rules
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY
from webapp.domain.roles import ALL_ROLES, CAPABILITIES, Can
from webapp.events import Area, Flag, Kind
from webapp.extensions import db
from webapp.models import (Bin, Defect, Inspection, InspectionLog, Operation, PackingRecord, ReworkOrder, Signature,
                           WorkOrder)
from webapp.models.types import from_ms
from webapp.services import logged, quality, signers

STARTED, MEASURED, DEFECT, COMPLETED, SIGNED, PACKED = (
    "inspection.started", "inspection.measured", "inspection.defect_recorded", "inspection.completed",
    "inspection.signed", "packing.recorded")
KIND_OF = {STARTED: "started", MEASURED: "measured", DEFECT: "defect", COMPLETED: "completed", SIGNED: "signed"}
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
HEX64 = r"[0-9a-f]{64}"
KEY = r"[A-Za-z0-9_.-]{1,40}"
VALUE = r"-?[0-9]{1,9}(\.[0-9]{1,6})?"
MAX_TEXT = 2000
MAX_UNITS = 5000
MAX_ITEMS = 80
MAX_SHAPES = 20

INSPECTION_ID = Text("inspection_id", required=True, max_length=36, pattern=UUID,
                     description="the inspection, as the device that started it named it")


def _values(value: Any) -> dict[str, str]:
    """A unit's values: item key -> a number as text ("42.15") or "pass" / "fail"."""
    if not isinstance(value, dict) or not 1 <= len(value) <= MAX_ITEMS:
        raise ValueError("values")
    out = {}
    for key, v in value.items():
        if not isinstance(key, str) or not _full(KEY, key) or not isinstance(v, str):
            raise ValueError("values")
        v = v.strip()
        if v not in rules.CHECK_VALUES and not _full(VALUE, v):
            raise ValueError("values")
        out[key] = v
    return out


def _full(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError("coordinate")
    return round(float(value), 4)


SHAPE_FIELDS = {"circle": ("x", "y", "r"), "arrow": ("x1", "y1", "x2", "y2"), "text": ("x", "y")}


def _markup(value: Any) -> list[dict[str, Any]]:
    """Layers of shapes over photos: [{"photo": sha256, "shapes": [circle | arrow | text]}] (fractions 0..1)."""
    if not isinstance(value, list) or len(value) > 6:
        raise ValueError("markup")
    layers = []
    for layer in value:
        photo, shapes = layer["photo"], layer["shapes"]
        if not isinstance(photo, str) or not _full(HEX64, photo) or not isinstance(shapes, list) or len(
                shapes) > MAX_SHAPES:
            raise ValueError("markup")
        clean = []
        for shape in shapes:
            kind = shape["kind"]
            one: dict[str, Any] = {"kind": kind, **{k: _fraction(shape[k]) for k in SHAPE_FIELDS[kind]}}
            if kind == "text":
                text = shape["text"]
                if not isinstance(text, str) or not text.strip() or len(text) > 60 or not storable_text(text):
                    raise ValueError("text")
                one["text"] = text.strip()
            color = shape.get("color")
            if color is not None:
                if not isinstance(color, str) or not _full(r"#[0-9a-fA-F]{6}", color):
                    raise ValueError("color")
                one["color"] = color
            clean.append(one)
        layers.append({"photo": photo, "shapes": clean})
    return layers


MARKUP_SCHEMA = {"type": "array", "maxItems": 6, "items": {
    "type": "object", "required": ["photo", "shapes"], "properties": {
        "photo": {"type": "string", "pattern": HEX64},
        "shapes": {"type": "array", "maxItems": MAX_SHAPES, "items": {
            "type": "object", "required": ["kind"], "properties": {
                "kind": {"enum": list(SHAPE_FIELDS)}, "text": {"type": "string", "maxLength": 60},
                "color": {"type": "string", "pattern": "#[0-9a-fA-F]{6}"},
                **{k: {"type": "number", "minimum": 0, "maximum": 1} for k in ("x", "y", "r", "x1", "y1", "x2", "y2")},
            }}},
    }}}


def _aqls(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - set(rules.CLASSES):
        raise ValueError("aqls")
    out = {}
    for cls, v in value.items():
        if not isinstance(v, str):
            raise ValueError("aqls")
        try:
            out[cls] = v.strip() if v.strip() in ("0", "0.0") else aql.normalise_aql(v)
        except aql.AqlError:
            raise ValueError("aqls") from None
    return out


def _cartons(value: Any) -> list[int]:
    if (not isinstance(value, list) or len(value) > 500
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1_000_000 for v in value)):
        raise ValueError("cartons")
    return value


START = PayloadSpec((
    INSPECTION_ID,
    Choice("kind", required=True, choices=rules.KINDS),
    Text("work_order", required=True, max_length=40, upper=True, description="the order's number"),
    Text("operation", max_length=20, upper=True, description="the operation (a first piece is inspected at one)"),
    Text("bin_code", max_length=40, upper=True),
    Text("template", max_length=40, description="the checklist template's code"),
    Integer("lot_size", minimum=2, maximum=MAX_QUANTITY, description="pieces in the lot (a final inspection)"),
    Choice("level", choices=aql.LEVELS, description="the inspection level the device used"),
    Choice("severity", choices=("normal", "tightened", "reduced"), description="the severity the device used"),
    Shape("aqls", checker=_aqls, json={"type": "object", "additionalProperties": {"type": "string"}},
          description='AQL per defect class as the device used them, e.g. {"critical": "0", "major": "2.5"}'),
    Integer("sample_size", minimum=1, maximum=MAX_QUANTITY, description="units the device said to pull"),
    Integer("units", minimum=1, maximum=MAX_UNITS, description="units the checklist is filled for"),
    Shape("cartons", checker=_cartons, json={"type": "array", "maxItems": 500, "items": {"type": "integer"}},
          description="the carton numbers drawn"),
    Text("reinspection_of", max_length=36, pattern=UUID, description="the rejected final this re-inspects"),
    Text("note", max_length=MAX_NOTE),
), description="An inspector starts an inspection of an order (the device makes its id).")
MEASURE = PayloadSpec((
    INSPECTION_ID,
    Integer("unit", required=True, minimum=1, maximum=MAX_UNITS, description="which unit (piece) of the sample"),
    Shape("values", required=True, checker=_values,
          json={"type": "object", "maxProperties": MAX_ITEMS, "additionalProperties": {
              "type": "string", "pattern": f"^(pass|fail|{VALUE})$"}},
          description='item key -> a measured number as text ("42.15") or "pass" / "fail"'),
), description="What one unit measured; a later value of the same unit and item replaces the earlier one.")
DEFECT_SPEC = PayloadSpec((
    INSPECTION_ID,
    Text("defect_id", required=True, max_length=36, pattern=UUID),
    Choice("class", required=True, choices=rules.CLASSES),
    Text("type", max_length=40, description="the defect type's code in the catalogue"),
    Text("description", max_length=500),
    Text("location", max_length=120, description="where on the part"),
    Integer("count", required=True, minimum=1, maximum=MAX_QUANTITY),
    Integer("unit", minimum=1, maximum=MAX_UNITS),
    Text("note", max_length=MAX_NOTE),
    Digests("photos", max_items=6, description="SHA-256 of the original photos uploaded to /api/v1/blobs"),
    Shape("markup", checker=_markup, json=MARKUP_SCHEMA,
          description="a layer of shapes (circle, arrow, text; fractions of the photo) drawn over each photo"),
), description="A defect found: its class, type, where, how many, photos and their markup.")
COMPLETE = PayloadSpec((
    INSPECTION_ID,
    Choice("verdict", required=True, choices=("pass", "fail")),
    Text("signature_sha256", required=True, max_length=64, pattern=HEX64,
         description="the inspector's drawn signature (PNG blob)"),
    Text("note", max_length=MAX_TEXT),
), description="The inspector's verdict and signature; a sampled lot's decision is the plan's.")
SIGN = PayloadSpec((
    INSPECTION_ID,
    Choice("step", required=True, choices=rules.STEPS),
    Text("signature_sha256", required=True, max_length=64, pattern=HEX64, description="the drawn signature"),
    Text("note", max_length=MAX_NOTE),
), stored_only=("signer",), description="A co-signer (the operator, the factory's person): signer is their "
                                        "badge + PIN proof on the inspector's device")
PACK = PayloadSpec((
    Text("work_order", required=True, max_length=40, upper=True),
    Integer("cartons", required=True, minimum=1, maximum=100_000),
    Integer("per_carton", required=True, minimum=1, maximum=100_000, description="pieces in each carton"),
    Text("note", max_length=MAX_NOTE),
), description="Cartons packed for an order; they are numbered on from the order's last carton.")


def _known_order(number: str) -> int:
    order_id = db.session.execute(select(WorkOrder.id).where(WorkOrder.number == number)).scalar()
    if order_id is None:
        raise PayloadInvalid("work_order", "is not a known work order", "unknown")
    return order_id


def check_start(clean: dict[str, Any]) -> dict[str, Any]:
    """The order (and operation) must be the plant's; a final inspection needs its lot size."""
    _known_order(clean["work_order"])
    code = clean.get("operation")
    if code is not None and db.session.execute(select(Operation.id).where(Operation.code == code)).first() is None:
        raise PayloadInvalid("operation", "is not a known operation", "unknown")
    if clean["kind"] == "final" and clean.get("lot_size") is None:
        raise PayloadInvalid("lot_size", "is required for a final inspection", "required")
    return clean


def check_pack(clean: dict[str, Any]) -> dict[str, Any]:
    """Packing is for a known order."""
    _known_order(clean["work_order"])
    return clean


def subject(payload: dict[str, Any]) -> str:
    """An inspection's events are about the inspection."""
    return f"inspection:{payload['inspection_id']}"


def packing_subject(payload: dict[str, Any]) -> str:
    """Packing is about the order."""
    return f"order:{payload['work_order']}"


# --- Handling ------------------------------------------------------------------------------------

def handle(ctx: HandlerContext) -> list[RuleBroken]:
    """Handle one inspection event (see `handle_run`)."""
    return handle_run(ctx.session, [ctx])[0]


def handle_run(session, ctxs: list[HandlerContext]) -> list[list[RuleBroken]]:
    """Log each event of a run, start the inspections it starts, then fold every inspection it touched."""
    starts = _Starts(session, [c.payload for c in ctxs if c.envelope.type == STARTED])
    return logged.handle_run(session, ctxs, InspectionLog.__table__, "inspection_id",
                             lambda session, ctx: _log(session, ctx, starts), refold)


class _Starts:
    """What a run's starts look up, read once: their orders, operations, bins, and the ids already started."""

    def __init__(self, session, payloads: list[dict[str, Any]]) -> None:
        if not payloads:
            return
        w, i = WorkOrder.__table__.c, Inspection.__table__.c
        self.orders = {r.number: r for r in session.execute(
            select(w.id, w.number, w.product_id, w.customer, w.factory)
            .where(w.number.in_({p["work_order"] for p in payloads})))}
        self.operations = dict(session.execute(select(Operation.code, Operation.id).where(
            Operation.code.in_({p["operation"] for p in payloads if p.get("operation")}))).all())
        self.bins = dict(session.execute(select(Bin.code, Bin.id).where(
            Bin.code.in_({p["bin_code"] for p in payloads if p.get("bin_code")}))).all())
        self.started = set(session.execute(select(i.uid).where(
            i.uid.in_({p["inspection_id"] for p in payloads}))).scalars())


def _log(session, ctx: HandlerContext, starts: _Starts) -> tuple[list[RuleBroken], dict[str, Any]]:
    """One event's row of its inspection's log (the signer proven), and the flags of its start."""
    env, p = ctx.envelope, ctx.payload
    kind = KIND_OF[env.type]
    person, role, how = (signers.proven_signer(ctx, SIGNED_TYPE) if kind == "signed"
                         else (ctx.actor_id, ctx.actor_role, "device_user"))
    flags = _start(session, ctx, starts) if kind == "started" else []
    return flags, {"event_id": env.id, "inspection_uid": p["inspection_id"], "kind": kind,
                   "effective_at": ctx.effective_at, "device_id": env.device_id, "seq": env.seq,
                   "person_id": person, "role": role, "verification": how, "payload": p}


def _start(session, ctx: HandlerContext, starts: _Starts) -> list[RuleBroken]:
    """Create the inspection's row (a second start changes nothing: the fold flags it); compute its plan."""
    p = ctx.payload
    if p["inspection_id"] in starts.started:
        return []
    starts.started.add(p["inspection_id"])
    order = starts.orders[p["work_order"]]
    operation_id = starts.operations.get(p.get("operation"))
    bin_id = starts.bins.get(p.get("bin_code"))
    template = p.get("template") or quality.template_for(session, order.product_id, p["kind"])
    flags: list[RuleBroken] = []
    values: dict[str, Any] = {}
    if p["kind"] == "final":
        level, aqls = quality.quality_plan(session, order.product_id, order.customer)
        state = quality.series_state(session, order.product_id, order.factory)
        severity = state.severity if state.severity in aql.SEVERITIES else "tightened"
        plans = aql.class_plans(p["lot_size"], aqls, level, severity)
        stored = quality.plans_json(plans)
        largest = max((x for x in plans.values() if x is not None), key=lambda x: x.sample_size, default=None)
        values = {"level": level, "severity": severity, "aqls": aqls, "plans": stored,
                  "sample_size": largest.sample_size if largest else None,
                  "aql": aqls.get("major"), "accept_number": (stored.get("major") or {}).get("accept"),
                  "reject_number": (stored.get("major") or {}).get("reject")}
        device = {"level": p.get("level"), "severity": p.get("severity"), "sample_size": p.get("sample_size")}
        server = {"level": level, "severity": severity, "sample_size": values["sample_size"]}
        if any(device[k] is not None and device[k] != server[k] for k in device):
            flags.append(RuleBroken("plan_differs", {"device": device, "server": server}))
        if state.severity == "discontinued":
            flags.append(RuleBroken("series_discontinued", {"reason": state.reason}))
    session.execute(insert(Inspection.__table__).values(
        uid=p["inspection_id"], event_id=ctx.envelope.id, kind=p["kind"], status="open", work_order_id=order.id,
        product_id=order.product_id, operation_id=operation_id, bin_id=bin_id, lot_size=p.get("lot_size"),
        template_code=template, units=p.get("units"), cartons=p.get("cartons"), supplier=order.factory,
        reinspects=p.get("reinspection_of"), inspector_id=ctx.actor_id, started_at=from_ms(ctx.effective_at),
        device_id=ctx.envelope.device_id, **values))
    return flags


def refold(session, uids: list[str], run: set[str], ctx: HandlerContext) -> dict[str, rules.Fold]:
    """Fold inspections from their logs and write what they say; then the quality of their orders."""
    rows, folds, logs = quality.fold(session, uids)
    _write(session, rows, folds)
    _write_defects(session, rows, folds)
    _write_signatures(session, rows, folds)
    _rework(session, rows, folds)
    earlier = {e.event_id: f"inspection:{uid}" for uid, log in logs.items() for e in log if e.event_id not in run}
    wanted = {event_id: found for f in folds.values() for event_id, found in f.flags.items()}
    settle(session, wanted, earlier, FOLD_FLAGS, by_event=ctx.envelope.id, by_actor=ctx.actor_id,
           at=ctx.effective_at, created_at=ctx.received_at, note="the inspection's log changed")
    orders = {r.work_order_id for r in rows.values()}
    decided = {r.work_order_id for uid, r in rows.items() if r.kind == "final" and folds[uid].completed is not None}
    refresh_quality(session, orders | quality.series_orders(session, decided))  # a lot may switch its series
    return folds


def _write(session, rows: dict[str, Any], folds: dict[str, rules.Fold]) -> None:
    if not rows:
        return
    values = []
    for uid, row in rows.items():
        f = folds[uid]
        done = f.completed
        values.append({
            "_id": row.id, "status": f.status, "results": f.results, "out_of_tolerance": len(f.out_of_tolerance),
            "found": f.found, "verdict": f.verdict, "decision": f.decision,
            "note": done.payload.get("note") if done else None, "completed_by": done.person_id if done else None,
            "finished_at": from_ms(done.order[0]) if done else None,
            "findings": "; ".join(f"{k}#{u}={v}" for k, u, v in f.out_of_tolerance) or None,
        })
    i = Inspection.__table__.c
    session.execute(update(Inspection.__table__).where(i.id == bindparam("_id")).values(
        **{k: bindparam(k) for k in values[0] if k != "_id"}), values)


def _write_defects(session, rows: dict[str, Any], folds: dict[str, rules.Fold]) -> None:
    """Defects as their latest records say (a record of the same defect id replaces the earlier one)."""
    d = Defect.__table__.c
    wanted = {}
    for uid, row in rows.items():
        for defect_id, e in folds[uid].defects.items():
            p = e.payload
            wanted[defect_id] = {
                "event_id": e.event_id, "inspection_id": row.id, "inspection_uid": uid, "severity": p["class"],
                "description": p.get("description") or p.get("type") or "", "quantity": p["count"],
                "recorded_by": e.person_id, "recorded_at": from_ms(e.order[0]), "defect_uid": defect_id,
                "type_code": p.get("type"), "location": p.get("location"), "unit": p.get("unit"),
                "note": p.get("note"), "photos": p.get("photos") or [], "markup": p.get("markup") or [],
                "device_id": e.order[1]}
    if not wanted:
        return
    have = dict(session.execute(select(d.defect_uid, d.event_id).where(d.defect_uid.in_(list(wanted)))).all())
    new = [v for k, v in wanted.items() if k not in have]
    changed = [{"_uid": k, **v} for k, v in wanted.items() if k in have and have[k] != v["event_id"]]
    if new:
        session.execute(insert(Defect.__table__), new)
    if changed:
        session.execute(update(Defect.__table__).where(d.defect_uid == bindparam("_uid")).values(
            **{k: bindparam(k) for k in changed[0] if k != "_uid"}), changed)


def _write_signatures(session, rows: dict[str, Any], folds: dict[str, rules.Fold]) -> None:
    """The inspector's signature (on completing) and the co-signers', one row each, never rewritten."""
    s = Signature.__table__.c
    ids = [r.id for r in rows.values()]
    have = set(session.execute(select(s.event_id).where(s.inspection_id.in_(ids))).scalars())
    new = []
    for uid, row in rows.items():
        f = folds[uid]
        signed = ([f.completed] if f.completed else []) + f.signatures
        for e in signed:
            if e.event_id in have:
                continue
            p = e.payload
            new.append({"event_id": e.event_id, "inspection_id": row.id,
                        "step": p.get("step", "inspector"), "decision": "sign", "note": p.get("note"),
                        "user_id": e.person_id, "image_sha256": p["signature_sha256"], "device_id": e.order[1],
                        "signed_at": from_ms(e.order[0]), "verdict": p.get("verdict"),
                        "verification": e.verification, "state": "valid"})
    if new:
        session.execute(insert(Signature.__table__), new)


def _rework(session, rows: dict[str, Any], folds: dict[str, rules.Fold]) -> None:
    """A rejected final lot opens a rework order; a completed re-inspection of it closes the order."""
    r = ReworkOrder.__table__.c
    i = Inspection.__table__.c
    finals = {uid: row for uid, row in rows.items() if row.kind == "final"}
    if not finals:
        return
    have = {x.inspection_uid: x for x in session.execute(
        select(ReworkOrder.__table__).where(r.inspection_uid.in_(list(finals))))}
    for uid, row in finals.items():
        f = folds[uid]
        if f.status == "failed" and uid not in have:
            session.execute(insert(ReworkOrder.__table__).values(
                inspection_uid=uid, work_order_id=row.work_order_id, quantity=row.lot_size,
                reason="; ".join(f"{cls}: {n}" for cls, n in f.found.items() if n), status="open",
                opened_at=from_ms(f.completed.order[0])))
            session.execute(update(Inspection.__table__).where(i.id == row.id).values(rework_status="open"))
        elif f.status != "failed" and uid in have and have[uid].status == "open":
            # A late record changed the decision: the lot was not rejected after all.
            session.execute(delete(ReworkOrder.__table__).where(r.inspection_uid == uid))
            session.execute(update(Inspection.__table__).where(i.id == row.id).values(rework_status=None))
        if row.reinspects and f.completed is not None:
            session.execute(update(ReworkOrder.__table__).where(r.inspection_uid == row.reinspects).values(
                status="reinspected", reinspection_uid=uid, closed_at=from_ms(f.completed.order[0])))
            session.execute(update(Inspection.__table__).where(i.uid == row.reinspects).values(
                rework_status="reinspected"))


# --- Packing -------------------------------------------------------------------------------------

def handle_pack(ctx: HandlerContext) -> list[RuleBroken]:
    """Record cartons packed; number them on from the order's last, in log order."""
    return handle_packs(ctx.session, [ctx])[0]


def handle_packs(session, ctxs: list[HandlerContext]) -> list[list[RuleBroken]]:
    """Record a run of packing records; renumber the cartons of the orders they touch in log order."""
    orders = dict(session.execute(select(WorkOrder.number, WorkOrder.id).where(
        WorkOrder.number.in_({c.payload["work_order"] for c in ctxs}))).all())
    session.execute(insert(PackingRecord.__table__), [{
        "event_id": c.envelope.id, "work_order_id": orders[c.payload["work_order"]], "cartons": c.payload["cartons"],
        "per_carton": c.payload["per_carton"], "pieces": c.payload["cartons"] * c.payload["per_carton"],
        "first_carton": 0, "note": c.payload.get("note"), "recorded_by": c.actor_id,
        "device_id": c.envelope.device_id, "seq": c.envelope.seq, "effective_at": c.effective_at,
        "recorded_at": from_ms(c.effective_at)} for c in ctxs])
    pk = PackingRecord.__table__.c
    ids = set(orders.values())
    numbering, totals = [], {}
    for order_id in ids:
        rows = session.execute(select(pk.event_id, pk.cartons, pk.pieces, pk.first_carton)
                               .where(pk.work_order_id == order_id)
                               .order_by(pk.effective_at, pk.device_id, pk.seq)).all()
        next_carton, pieces = 1, 0
        for row in rows:
            if row.first_carton != next_carton:
                numbering.append({"_event": row.event_id, "_first": next_carton})
            next_carton += row.cartons
            pieces += row.pieces
        totals[order_id] = (pieces, next_carton - 1)
    if numbering:
        session.execute(update(PackingRecord.__table__).where(pk.event_id == bindparam("_event"))
                        .values(first_carton=bindparam("_first")), numbering)
    w = WorkOrder.__table__.c
    session.execute(update(WorkOrder.__table__).where(w.id == bindparam("_id")).values(
        packed=bindparam("_packed"), cartons=bindparam("_cartons")),
        [{"_id": k, "_packed": v[0], "_cartons": v[1]} for k, v in totals.items()])
    refresh_quality(session, ids)
    return [[] for _ in ctxs]


def refresh_quality(session, order_ids: set[int]) -> None:
    """Write the orders' quality summaries where they changed (devices pull orders)."""
    if not order_ids:
        return
    summaries = quality.quality_summary(session, set(order_ids))
    w = WorkOrder.__table__.c
    stored = dict(session.execute(select(w.id, w.quality).where(w.id.in_(list(summaries)))).all())
    changed = [{"_id": k, "_quality": v} for k, v in summaries.items() if stored.get(k) != v]
    if changed:
        session.execute(update(WorkOrder.__table__).where(w.id == bindparam("_id"))
                        .values(quality=bindparam("_quality")), changed)


def first_piece_gate(session, order_id: int | None, product_id: int | None, operation_id: int | None
                     ) -> list[RuleBroken]:
    """A transfer out of an operation before the order's first piece there passed: `first_piece_pending`.

    Only where the plant inspects first pieces (a first-piece checklist for the product or the
    plant exists). The setting `first_piece_gate` says how hard: warn (the slip goes on, flagged
    for a director's override) or block (the device refuses to open the slip without one).
    """
    if order_id is None or operation_id is None or quality.template_for(session, product_id, "first_piece") is None:
        return []
    status = quality.first_piece_status(session, order_id, operation_id)
    if status == "passed":
        return []
    return [RuleBroken("first_piece_pending", {"status": status or "not_inspected",
                                               "gate": quality.setting(session, "first_piece_gate", "warn")})]


# --- Event types ---------------------------------------------------------------------------------

INSPECTORS = CAPABILITIES[Can.INSPECT]
STARTED_TYPE = EventType(name=STARTED, version=1, spec=START, check=check_start, handler=handle, batch=handle_run,
                         roles=INSPECTORS, subject=subject)
MEASURED_TYPE = EventType(name=MEASURED, version=1, spec=MEASURE, handler=handle, batch=handle_run,
                          roles=INSPECTORS, subject=subject)
DEFECT_TYPE = EventType(name=DEFECT, version=1, spec=DEFECT_SPEC, handler=handle, batch=handle_run,
                        roles=INSPECTORS, subject=subject)
COMPLETED_TYPE = EventType(name=COMPLETED, version=1, spec=COMPLETE, handler=handle, batch=handle_run,
                           roles=INSPECTORS, subject=subject)
SIGNED_TYPE = EventType(name=SIGNED, version=1, spec=SIGN, handler=handle, batch=handle_run,
                        roles=INSPECTORS, subject=subject, signer_roles=frozenset(ALL_ROLES))
PACKED_TYPE = EventType(name=PACKED, version=1, spec=PACK, check=check_pack, handler=handle_pack,
                        batch=handle_packs, roles=CAPABILITIES[Can.RECORD_PACKING], subject=packing_subject)

FOLD_FLAGS = ("unknown_inspection", "after_completion", "verdict_disagrees", "passed_out_of_tolerance", "restarted")

AREA = Area(
    name="inspections",
    kinds=(
        Kind(STARTED_TYPE, _l("Inspection started"), "inspections/record.html"),
        Kind(MEASURED_TYPE, _l("Measured"), "inspections/record.html"),
        Kind(DEFECT_TYPE, _l("Defect recorded"), "inspections/record.html"),
        Kind(COMPLETED_TYPE, _l("Inspection completed"), "inspections/record.html"),
        Kind(SIGNED_TYPE, _l("Inspection signed"), "inspections/record.html"),
        Kind(PACKED_TYPE, _l("Packing recorded"), "inspections/record.html", form_errors={
            ("cartons", "*"): _l("Enter the number of cartons, from 1 to %(maximum)s."),
            ("per_carton", "*"): _l("Enter the pieces in each carton, from 1 to %(maximum)s."),
        }),
    ),
    flags=(
        Flag("unknown_inspection", _l("Record for an inspection the server does not have")),
        Flag("after_completion", _l("Recorded after the inspection's verdict")),
        Flag("verdict_disagrees", _l("The inspector's verdict differs from the sampling plan's decision"),
             "inspections/flags/verdict.html"),
        Flag("passed_out_of_tolerance", _l("Passed with measurements out of tolerance")),
        Flag("restarted", _l("Inspection started twice")),
        Flag("plan_differs", _l("The device used another sampling plan"), "inspections/flags/plan.html"),
        Flag("series_discontinued", _l("Inspection of this series is discontinued")),
        Flag("first_piece_pending", _l("Transfer before the first piece passed")),
    ),
)
