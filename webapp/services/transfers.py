"""Transfer slips (转序单): opened by the clerk, signed four times at the handover, explained or refused.

Event types (v1): `transfer.opened`, `transfer.signed`, `transfer.explained`, `transfer.refused`,
and the statistician's `transfer.written_off`. Every one names its slip (`transfer_id`, made by
the device) and is its subject (`transfer:<id>`).

Each handled event is written to the slip's log (`transfer_log`, with the order keys of the
event log, the signer proven: the device's signed-in person, or a badge and PIN proof checked
here). The slip's state is then folded from that log in log order
(`webapp.domain.transfers.fold_slip`), whatever order the events arrived in, and written to its
`transfers` row and `signatures` rows; the flags the fold decides are brought in line for every
event of the slip (a late event can void or reorder earlier ones). A slip that completes moves
its bins through the same log as `bin.moved` (`moving.follow_log`): the bin stands where the
last completed transfer in the log took it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, insert, select, update

from sync.flags import settle
from sync.registry import EventType, HandlerContext, PayloadInvalid, RuleBroken
from sync.spec import Choice, Digests, Integer, PayloadSpec, Shape, Text, TextList, storable_text
from webapp.domain import transfers as rules
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY
from webapp.domain.roles import ALL_ROLES, CAPABILITIES, Can, Role
from webapp.events import Area, Flag, Kind
from webapp.extensions import db
from webapp.models import (Bin, Location, Operation, Product, RouteStep, Setting, Signature, Transfer, TransferBin,
                           TransferLog)
from webapp.models.types import from_ms
from webapp.services import inspections, logged, moving, review, signers, warehouse
from webapp.services.bins import bins_by_code

OPENED, SIGNED, EXPLAINED, REFUSED, WRITTEN_OFF = (
    "transfer.opened", "transfer.signed", "transfer.explained", "transfer.refused", "transfer.written_off")
KIND_OF = {OPENED: "opened", SIGNED: "signed", EXPLAINED: "explained", REFUSED: "refused", WRITTEN_OFF: "written_off"}
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
HEX64 = r"[0-9a-f]{64}"
MAX_BINS = 20
MAX_TEXT = 2000
MIXUP_SETTING = "mixup_minutes"  # the §3.3 interval, in minutes (default 30)
REASONS = ("return", "replacement", "swap")  # §5.3: each needs the inspector's or the director's explanation


def _check_to(value: Any) -> dict[str, Any]:
    """Return a destination in its one form: next operation, an operation by code, the waiting area or a warehouse."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(value)
    if value.get("next") is True:
        return {"next": True}
    if value.get("area") in ("waiting", "warehouse"):
        return {"area": value["area"]}
    code = value.get("operation")
    if isinstance(code, str) and 0 < len(code.strip()) <= 20 and storable_text(code):
        return {"operation": code.strip().upper()}
    raise ValueError(value)


TO_SCHEMA = {"oneOf": [
    {"type": "object", "properties": {"next": {"const": True}}, "required": ["next"], "additionalProperties": False},
    {"type": "object", "properties": {"operation": {"type": "string", "minLength": 1, "maxLength": 20}},
     "required": ["operation"], "additionalProperties": False},
    {"type": "object", "properties": {"area": {"enum": ["waiting", "warehouse"]}}, "required": ["area"],
     "additionalProperties": False},
]}
TRANSFER_ID = Text("transfer_id", required=True, max_length=36, pattern=UUID,
                   description="the slip, made by the device")

OPEN = PayloadSpec((
    TRANSFER_ID,
    TextList("bin_codes", required=True, max_items=MAX_BINS, max_length=40, upper=True,
             description="the bins on the slip: one part"),
    Shape("to", required=True, checker=_check_to, json=TO_SCHEMA,
          description='{"next": true} (default), {"operation": code}, {"area": "waiting"} or {"area": "warehouse"}'),
    Integer("quantity", required=True, minimum=1, maximum=MAX_QUANTITY, description="pieces on the slip"),
    Text("part", max_length=120, description="the part as the process-state list names it (§4.2)"),
    Text("issue_slip", max_length=40, description="the material's issue slip (§3.1: out of cutting)"),
    Choice("reason", choices=REASONS, description="a return, replacement part or swap (§5.3)"),
    Text("note", max_length=MAX_NOTE),
), description="A clerk opens a transfer slip; opened again with the same id, its content changes "
               "(signatures made before the change are void).")
SIGN = PayloadSpec((
    TRANSFER_ID,
    Choice("step", required=True, choices=rules.STEPS),
    Integer("quantity", required=True, minimum=0, maximum=MAX_QUANTITY,
            description="the quantity this signer confirms"),
    Choice("verdict", choices=("pass", "fail"), description="the inspector's quality verdict"),
    Text("content_hash", required=True, max_length=64, pattern=HEX64,
         description="SHA-256 of the slip content signed"),
    Text("signature_sha256", required=True, max_length=64, pattern=HEX64, description="the drawn signature (PNG blob)"),
    Text("defects", max_length=MAX_TEXT, description="what the inspector found (a fail)"),
    Digests("photos", max_items=10),
    Text("note", max_length=MAX_NOTE),
), stored_only=("signer",), description="One of the four sign-offs; signer: a person signing on another's device")
EXPLAIN = PayloadSpec((
    TRANSFER_ID,
    Text("explanation", required=True, max_length=MAX_TEXT, description="why the quantities differ (§5.4)"),
))
REFUSE = PayloadSpec((
    TRANSFER_ID,
    Choice("step", required=True, choices=("clerk", "receiver")),
    Text("reason", required=True, max_length=MAX_TEXT),
    Digests("photos", max_items=10),
))
WRITE_OFF = PayloadSpec((
    TRANSFER_ID,
    Text("reason", required=True, max_length=MAX_TEXT, description="why the difference is booked as scrap"),
))


def check_open(clean: dict[str, Any]) -> dict[str, Any]:
    """A destination operation must be one the plant has."""
    code = clean["to"].get("operation")
    if code is not None and db.session.execute(select(Operation.id).where(Operation.code == code)).first() is None:
        raise PayloadInvalid("to", "is not a known operation", "unknown")
    return clean


def subject(payload: dict[str, Any]) -> str:
    """Return the subject of a slip's events: the slip."""
    return f"transfer:{payload['transfer_id']}"


# --- Handling ----------------------------------------------------------------------------------


def handle(ctx: HandlerContext) -> list[RuleBroken]:
    """Handle one slip event (see `handle_run`)."""
    return handle_run(ctx.session, [ctx])[0]


def handle_run(session, ctxs: list[HandlerContext]) -> list[list[RuleBroken]]:
    """Log each event of a run, then fold every slip it touched, together; return each event's flags."""
    return logged.handle_run(session, ctxs, TransferLog.__table__, "transfer_id", _log, refold)


def _log(session, ctx: HandlerContext) -> tuple[list[RuleBroken], dict[str, Any]]:
    """Return one event's row of its slip's log, and the flags that depend on this event alone."""
    env, p = ctx.envelope, ctx.payload
    kind = KIND_OF[env.type]
    signed = kind == "signed"
    person, role, how = signers.proven_signer(ctx, SIGNED_TYPE) if signed else (ctx.actor_id, ctx.actor_role,
                                                                                "device_user")
    flags = _open(session, ctx) if kind == "opened" else []
    return flags, {"event_id": env.id, "slip_id": p["transfer_id"], "kind": kind, "effective_at": ctx.effective_at,
                   "device_id": env.device_id, "seq": env.seq, "person_id": person, "role": role,
                   "verification": how, "payload": p}


def _open(session, ctx: HandlerContext) -> list[RuleBroken]:
    """Create or change the slip's row: its bins, where it goes from and to; flag what §3 forbids."""
    p, flags = ctx.payload, []
    b = Bin.__table__.c
    found = bins_by_code(session, p["bin_codes"], b.location_id, b.work_order_id, b.product_id, b.quantity)
    unknown = [code for code in p["bin_codes"] if code not in found]
    if unknown:
        flags.append(RuleBroken("unknown_bin", {"bin_code": ", ".join(unknown)}))
    if not found:
        return flags
    t = Transfer.__table__.c
    row = session.execute(select(t.id, t.from_location_id, t.created_at).where(t.number == p["transfer_id"])).first()
    first = found[next(code for code in p["bin_codes"] if code in found)]
    products = _products(session, {r.product_id for r in found.values() if r.product_id})
    from_id = row.from_location_id if row else first.location_id
    to_id, kind, route_flags = _destination(session, p["to"], from_id, products.get(first.product_id), p.get("reason"))
    flags += route_flags
    flags += _mixups(session, p, found, products, to_id, from_ms(ctx.effective_at))
    if _leaves_cutting(session, from_id, products.get(first.product_id)) and not p.get("issue_slip"):
        flags.append(RuleBroken("issue_slip_missing", {"bin_code": first.code}))
    flags += inspections.first_piece_gate(session, first.work_order_id, first.product_id,
                                          _operation_of(session, from_id))
    values = dict(kind=kind, bin_id=first.id, work_order_id=first.work_order_id, product_id=first.product_id,
                  part_name=p.get("part") or _part_name(session, first.product_id, from_id), to_location_id=to_id,
                  quantity=p["quantity"],
                  quantity_in=sum(r.quantity or 0 for r in found.values()) if all(
                      r.quantity is not None for r in found.values()) else None,
                  custodian_id=ctx.actor_id if kind == "waiting" else None)
    if row is None:
        slip = session.execute(insert(Transfer.__table__).values(
            number=p["transfer_id"], event_id=ctx.envelope.id, status="open", from_location_id=from_id,
            created_by=ctx.actor_id, created_at=from_ms(ctx.effective_at), **values)).inserted_primary_key[0]
    else:
        slip = row.id
        session.execute(update(Transfer.__table__).where(t.id == slip).values(**values))
        session.execute(delete(TransferBin.__table__).where(TransferBin.__table__.c.transfer_id == slip))
    session.execute(insert(TransferBin.__table__), [{"transfer_id": slip, "bin_id": r.id} for r in found.values()])
    return flags


def _products(session, ids: set[int]) -> dict[int, Any]:
    """Return products by id: code, similar-spec group, route."""
    if not ids:
        return {}
    p = Product.__table__.c
    return {r.id: r for r in session.execute(select(p.id, p.code, p.spec_group_id, p.route_id).where(p.id.in_(ids)))}


def _route(session, route_id: int | None) -> list[int]:
    """Return a route's operation ids in order."""
    if route_id is None:
        return []
    s = RouteStep.__table__.c
    return list(session.execute(select(s.operation_id).where(s.route_id == route_id).order_by(s.position)).scalars())


def _operation_of(session, location_id: int | None) -> int | None:
    if location_id is None:
        return None
    return session.execute(select(Location.operation_id).where(Location.id == location_id)).scalar()


def _destination(session, to: dict[str, Any], from_id: int | None, product, reason: str | None
                 ) -> tuple[int | None, str, list[RuleBroken]]:
    """Return where a slip goes (a location id), its kind, and a flag when the route cannot say."""
    loc = Location.__table__.c
    route = _route(session, product.route_id if product else None)
    here = _operation_of(session, from_id)
    if "area" in to:
        kind = to["area"]
        workshop = session.execute(select(loc.workshop_id).where(loc.id == from_id)).scalar() if from_id else None
        places = session.execute(select(loc.id, loc.workshop_id).where(loc.kind == kind).order_by(loc.code)).all()
        place = next((r.id for r in places if r.workshop_id == workshop), places[0].id if places else None)
        return place, kind, ([] if place else [RuleBroken("no_destination", {"to": kind})])
    if "next" in to:
        if here not in route or route.index(here) + 1 >= len(route):
            return None, "next_operation", [RuleBroken("no_destination", {"to": "next"})]
        target = route[route.index(here) + 1]
    else:
        target = session.execute(select(Operation.id).where(Operation.code == to["operation"])).scalar()
    place = session.execute(select(loc.id).where(loc.operation_id == target)).scalar()
    backwards = here in route and target in route and route.index(target) <= route.index(here)
    kind = "return" if backwards or reason in REASONS else "next_operation"
    return place, kind, ([] if place else [RuleBroken("no_destination", {"to": "operation"})])


def _leaves_cutting(session, from_id: int | None, product) -> bool:
    """Say whether a slip leaves the first operation of the part's route (cutting, §3.1)."""
    route = _route(session, product.route_id if product else None)
    return bool(route) and _operation_of(session, from_id) == route[0]


def _part_name(session, product_id: int | None, from_id: int | None) -> str | None:
    """Return the part's name after the operation it leaves, as the process-state list names it (§4.2)."""
    here = _operation_of(session, from_id)
    product = db.session.get(Product, product_id) if product_id else None
    if product is None or product.route is None:
        return None
    step = next((s for s in product.route.steps if s.operation_id == here), None)
    return step.state_name_zh if step else product.name_zh


def mixup_interval(session) -> timedelta:
    """Return the §3.3 interval (a plant setting, default 30 minutes)."""
    value = session.execute(select(Setting.value).where(Setting.key == MIXUP_SETTING)).scalar()
    return timedelta(minutes=int(value)) if value and value.isdigit() else rules.MIXUP_INTERVAL


def _mixups(session, p: dict[str, Any], found: dict[str, Any], products: dict[int, Any], to_id: int | None,
            at) -> list[RuleBroken]:
    """Flag parts of one similar-specification group on one slip, or sent to one place within the interval."""
    group = {pid: str(prod.spec_group_id) if prod.spec_group_id else None for pid, prod in products.items()}
    parts = [(products[r.product_id].code, group[r.product_id]) for r in found.values() if r.product_id in products]
    both = rules.mixed_on_one_slip(parts)
    if both:
        return [RuleBroken("mixup_risk", {"part": both[1], "other_part": both[0], "other_slip": None})]
    if not parts or parts[0][1] is None or to_id is None:
        return []
    interval = mixup_interval(session)
    t, pr = Transfer.__table__.c, Product.__table__.c
    recent = session.execute(
        select(t.number, t.created_at, pr.code, pr.spec_group_id).join(Product.__table__, pr.id == t.product_id)
        .where(t.to_location_id == to_id, t.status != "refused", t.number != p["transfer_id"],
               t.created_at >= at - interval, t.created_at <= at + interval)).all()
    sent = [rules.Sent(r.number, r.code, str(r.spec_group_id) if r.spec_group_id else None, str(to_id),
                       r.created_at) for r in recent]
    other = rules.mixup_risk(parts[0][0], parts[0][1], str(to_id), at, sent, interval)
    if other is None:
        return []
    return [RuleBroken("mixup_risk", {"part": parts[0][0], "other_part": other.part, "other_slip": other.slip_id})]


def entries(session, slip_ids: list[str]) -> dict[str, list[rules.Entry]]:
    """Return the slips' handled events as the fold takes them."""
    log = TransferLog.__table__.c
    found: dict[str, list[rules.Entry]] = {slip_id: [] for slip_id in slip_ids}
    for r in session.execute(select(TransferLog.__table__).where(log.slip_id.in_(slip_ids))):
        found[r.slip_id].append(rules.Entry((r.effective_at, r.device_id, r.seq), r.event_id, r.kind, r.person_id,
                                            r.role, r.payload, r.verification))
    return found


def refold(session, slip_ids: list[str], run: set[str], ctx: HandlerContext) -> dict[str, rules.SlipFold]:
    """Fold slips from their logs and write what they say: rows, signatures, bins, flags of earlier events.

    `run`: the events being handled now (ingest writes their flags); `ctx`: the last of them,
    named as what withdrew a flag of an earlier event.
    """
    t = Transfer.__table__.c
    rows = {r.number: r for r in session.execute(
        select(t.id, t.number, t.status, t.kind, t.moved_event_id, t.quantity).where(t.number.in_(slip_ids)))}
    logs = entries(session, slip_ids)
    folds = {slip_id: rules.fold_slip(logs[slip_id], is_return=slip_id in rows and rows[slip_id].kind == "return")
             for slip_id in slip_ids}
    _write(session, rows, folds, logs)
    _settle_flags(session, folds, logs, run, ctx)
    return folds


def _write(session, rows: dict[str, Any], folds: dict[str, rules.SlipFold], logs: dict[str, list[rules.Entry]]
           ) -> None:
    """Write folds to the slips' rows and signatures; move bins of slips that completed or stopped being complete."""
    if not rows:
        return
    t = Transfer.__table__.c
    updates, moved, settled, stored = [], [], [], []
    for slip_id, row in rows.items():
        fold, log = folds[slip_id], logs[slip_id]
        quantity = fold.content.get("quantity") if fold.content else row.quantity
        scrap = None
        if fold.written_off is not None and fold.explanation is None and fold.received is not None:
            scrap = quantity - fold.received
        completed = next((e for e in log if e.event_id == fold.completed_by), None)
        updates.append({
            "_id": row.id, "status": fold.status, "content_hash": fold.content_hash,
            "quantity_received": fold.received, "scrap_quantity": scrap,
            "explanation": fold.explanation.payload["explanation"] if fold.explanation else None,
            "refused_reason": fold.refusal.payload["reason"] if fold.refusal else None,
            "completed_at": from_ms(completed.order[0]) if completed else None, "moved_event_id": fold.completed_by})
        if fold.completed_by != row.moved_event_id:
            moved.append((row.id, fold.received if fold.status == "complete" else None))
            if completed is not None and row.kind == "warehouse":
                stored.append((row.id, completed.person_id, completed.order[0]))
        settle = fold.explanation or fold.written_off
        if fold.status == "complete" and settle is not None:
            note = settle.payload.get("explanation") or settle.payload.get("reason")
            settled.append((f"transfer:{slip_id}", settle.event_id, settle.person_id, settle.order[0], note))
    columns = [k for k in updates[0] if k != "_id"]
    session.execute(update(Transfer.__table__).where(t.id == bindparam("_id"))
                    .values({k: bindparam(k) for k in columns}), updates)
    _write_signatures(session, rows, folds, logs)
    tb = TransferBin.__table__.c
    for transfer_id, received in moved:
        for bin_id in session.execute(select(tb.bin_id).where(tb.transfer_id == transfer_id)).scalars():
            moving.follow_log(session, bin_id, quantity=received)
    for transfer_id, person_id, at in stored:  # §3.4: into a warehouse on an entry slip, numbered in its book
        warehouse.entry_for_transfer(session, transfer_id, person_id, at)
    if settled:
        review.close_for_subjects(session, "transfer_discrepancy", settled)


def _write_signatures(session, rows: dict[str, Any], folds: dict[str, rules.SlipFold],
                      logs: dict[str, list[rules.Entry]]) -> None:
    """Insert the slips' new signatures and bring the states of the others in line with the folds."""
    s = Signature.__table__.c
    have = dict(session.execute(select(s.event_id, s.state).where(s.transfer_id.in_([r.id for r in rows.values()]))
                                .where(s.event_id.is_not(None))).all())
    new, changed = [], []
    for slip_id, row in rows.items():
        states = folds[slip_id].states
        for e in logs[slip_id]:
            if e.kind != "signed":
                continue
            state = states.get(e.event_id, "pending")
            if e.event_id not in have:
                p = e.payload
                new.append({"event_id": e.event_id, "transfer_id": row.id, "step": p["step"], "decision": "sign",
                            "quantity": p["quantity"], "note": p.get("note"), "user_id": e.person_id,
                            "image_sha256": p["signature_sha256"], "device_id": e.order[1],
                            "signed_at": from_ms(e.order[0]), "content_hash": p["content_hash"],
                            "verdict": p.get("verdict"), "verification": e.verification, "state": state})
            elif have[e.event_id] != state:
                changed.append({"_event": e.event_id, "_state": state})
    if new:
        session.execute(insert(Signature.__table__), new)
    if changed:
        session.execute(update(Signature.__table__).where(s.event_id == bindparam("_event"))
                        .values(state=bindparam("_state")), changed)


def _settle_flags(session, folds: dict[str, rules.SlipFold], logs: dict[str, list[rules.Entry]], run: set[str],
                  ctx: HandlerContext) -> None:
    """Bring the fold's flags of the slips' earlier events (not of this run: ingest writes those) in line."""
    earlier = {e.event_id: f"transfer:{slip_id}" for slip_id, log in logs.items() for e in log
               if e.event_id not in run}
    wanted = {event_id: found for fold in folds.values() for event_id, found in fold.flags.items()}
    settle(session, wanted, earlier, rules.FOLD_FLAGS, by_event=ctx.envelope.id, by_actor=ctx.actor_id,
           at=ctx.effective_at, created_at=ctx.received_at, note="the slip's log changed")


# --- Event types ---------------------------------------------------------------------------------

_SIGNERS = frozenset(ALL_ROLES)  # the fold flags a role that may not sign its step; nobody is refused here
OPENED_TYPE = EventType(name=OPENED, version=1, spec=OPEN, check=check_open, handler=handle, batch=handle_run,
                        roles=CAPABILITIES[Can.MOVE_BIN], subject=subject)
SIGNED_TYPE = EventType(name=SIGNED, version=1, spec=SIGN, handler=handle, batch=handle_run,
                        roles=frozenset({Role.CLERK, Role.INSPECTOR, Role.OPERATOR, Role.RECEIVER, Role.DIRECTOR,
                                         Role.KEEPER, Role.ADMIN}),
                        subject=subject, signer_roles=_SIGNERS)
EXPLAINED_TYPE = EventType(name=EXPLAINED, version=1, spec=EXPLAIN, handler=handle, batch=handle_run,
                           roles=frozenset({Role.OPERATOR, Role.INSPECTOR, Role.DIRECTOR, Role.ADMIN}), subject=subject)
REFUSED_TYPE = EventType(name=REFUSED, version=1, spec=REFUSE, handler=handle, batch=handle_run,
                         roles=frozenset({Role.CLERK, Role.RECEIVER, Role.DIRECTOR, Role.ADMIN}), subject=subject)
WRITTEN_OFF_TYPE = EventType(name=WRITTEN_OFF, version=1, spec=WRITE_OFF, handler=handle, batch=handle_run,
                             roles=CAPABILITIES[Can.REVIEW], subject=subject)

ROLES = {t.name: t.roles for t in (OPENED_TYPE, SIGNED_TYPE, EXPLAINED_TYPE, REFUSED_TYPE, WRITTEN_OFF_TYPE)}

AREA = Area(
    name="transfers",
    kinds=(
        Kind(OPENED_TYPE, _l("Transfer slip opened"), "transfers/record.html", form_errors={
            ("quantity", "*"): _l("Enter the number of pieces, from 1 to %(maximum)s."),
            ("bin_codes", "*"): _l("Scan the bins on the slip (at most %(max_items)s)."),
            ("to", "*"): _l("Choose where the parts go."),
        }),
        Kind(SIGNED_TYPE, _l("Slip signed"), "transfers/record.html", form_errors={
            ("quantity", "*"): _l("Enter the number of pieces, from 0 to %(maximum)s."),
            ("signature_sha256", "*"): _l("Sign in the box."),
            ("content_hash", "*"): _l("The slip changed. Open it again."),
        }),
        Kind(EXPLAINED_TYPE, _l("Difference explained"), "transfers/record.html", on_device=False, form_errors={
            ("explanation", "*"): _l("Say why the quantities differ (at most %(max_length)s characters)."),
        }),
        Kind(REFUSED_TYPE, _l("Transfer refused"), "transfers/record.html", form_errors={
            ("reason", "*"): _l("Say why (at most %(max_length)s characters)."),
        }),
        Kind(WRITTEN_OFF_TYPE, _l("Difference booked as scrap"), "transfers/record.html", on_device=False, form_errors={
            ("reason", "*"): _l("Say why (at most %(max_length)s characters)."),
        }),
    ),
    flags=(
        Flag("out_of_order_signature", _l("Signed out of order"), "transfers/flags/signature.html"),
        Flag("signature_void", _l("Signature void: the slip changed after it"), "transfers/flags/signature.html"),
        Flag("step_not_allowed", _l("Signer's role may not sign this step"), "transfers/flags/signature.html"),
        Flag("transfer_discrepancy", _l("Quantity differs on the slip"), "transfers/flags/discrepancy.html"),
        Flag("unknown_transfer", _l("Signature for a slip the server does not have")),
        Flag("mixup_risk", _l("Mix-up risk: similar parts"), "transfers/flags/mixup.html"),
        Flag("issue_slip_missing", _l("Leaving cutting without the material's issue slip")),
        Flag("no_destination", _l("The route does not say where the parts go")),
    ),
)
