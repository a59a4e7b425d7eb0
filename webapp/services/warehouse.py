"""Warehouse slips: entry (入库单) and issue (出库单), numbered per book, signed in order, voided never erased.

Event types (v1): `warehouse.slip_opened`, `warehouse.slip_signed`, `warehouse.slip_voided`. Each
names its slip by the id the device made (`slip_id`) and has it as its subject
(`warehouse_slip:<slip_id>`). The rules are `webapp.domain.warehouse`; the seed's §3.4-§3.8.

- **Numbers.** The server numbers a slip when it handles the opening: the next number of the
  book of its kind and owner (`slip_numbers.book_for`: one book per workshop for own parts, per
  supplier or outside factory otherwise), taken with `slip_numbers.take_number` inside the push's
  write transaction (`sync_service.push` and `record_locally` run under `immediate_writes`, so on
  SQLite it began IMMEDIATE). A handler error rolls the event's savepoint back, its number with it:
  no gap. A device knows a slip's number only from the server (warehouse slips are not pulled:
  `GET /api/v1/warehouse-slips/<slip_id>` or the slip's page); until then it is provisional.
- **Content.** A slip's content is fixed at its opening; a second opening of the same slip id is
  stored, flagged `warehouse_slip_reopened` and changes nothing (a wrong slip is voided, and a new
  one opened).
- **Signatures** are kept in `signatures` (the handled log: a push stores a batch's events before
  their handlers run, so the fold reads only rows its handlers wrote). After each one the slip's
  signatures are folded again in log order (effective time, device, seq) and every signature's
  state and flags brought in line, so a late one re-judges those after it. A signature whose slip
  the server does not have yet is kept (`unknown_warehouse_slip`) and joins the slip, its flag
  withdrawn, when the opening arrives.
- **Void** keeps the number and the row: status void, who, when, why. Only who keeps the book (its
  fillers) or an admin may void; anyone else's void is stored, flagged and not applied.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update

from sync import schema
from sync.flags import flags_of, raise_flags, withdraw
from sync.registry import EventType, HandlerContext, PayloadInvalid, RuleBroken
from sync.spec import Choice, Integer, PayloadSpec, Text, TextList
from webapp.domain import warehouse as rules
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY
from webapp.domain.roles import ALL_ROLES
from webapp.events import Area, Flag, Kind
from webapp.extensions import db
from webapp.models import Location, Plant, Product, Signature, SlipBook, Transfer, WarehouseSlip, WorkOrder, Workshop
from webapp.models.types import from_ms
from webapp.services import signers, slip_numbers
from webapp.services.bins import bins_by_code
from webapp.services.warehouse_slips import content_for, subject as subject_of

log = logging.getLogger(__name__)

OPENED, SIGNED, VOIDED = "warehouse.slip_opened", "warehouse.slip_signed", "warehouse.slip_voided"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
HEX64 = r"[0-9a-f]{64}"
MAX_BINS = 20
MAX_TEXT = 2000
# Slips made from a transfer slip into a warehouse have an id of their own, the same every time.
TRANSFER_ENTRY = uuid.UUID("6f0d3c1e-2b1a-4d4e-9a55-57a7e6b1c0de")

SLIP_ID = Text("slip_id", required=True, max_length=36, pattern=UUID, description="the slip, made by the device")
OPEN = PayloadSpec((
    SLIP_ID,
    Choice("kind", required=True, choices=rules.KINDS, description="entry (入库单) or issue (出库单)"),
    Choice("source", required=True, choices=rules.SOURCES,
           description="own production, bought in, or outsourced (外协); no issue slip of bought parts"),
    Text("book", required=True, max_length=60,
         description="the book's owner: the workshop's code (own), the supplier or outside factory (bought, "
                     "outsourced)"),
    Text("product", required=True, max_length=40, upper=True, description="the product's code"),
    Text("work_order", max_length=40, description="the work order's number"),
    Integer("quantity", required=True, minimum=1, maximum=MAX_QUANTITY, description="pieces on the slip"),
    Text("party", max_length=120, description="who the parts come from or go to (default: the book's owner)"),
    TextList("bin_codes", max_items=MAX_BINS, max_length=40, upper=True, description="the bins, if any"),
    Text("transfer_id", max_length=36, pattern=UUID, description="the transfer slip it comes from (§3.4)"),
    Text("note", max_length=MAX_NOTE),
), description="A slip is filled in; the server gives its number from the book. Its content never changes: "
               "a wrong slip is voided and another one opened.")
SIGN = PayloadSpec((
    SLIP_ID,
    Choice("step", required=True, choices=rules.STEPS),
    Integer("quantity", required=True, minimum=0, maximum=MAX_QUANTITY,
            description="the quantity this signer confirms"),
    Text("content_hash", required=True, max_length=64, pattern=HEX64,
         description="SHA-256 of the slip content signed (canonical JSON of the opening's content fields)"),
    Text("signature_sha256", required=True, max_length=64, pattern=HEX64, description="the drawn signature (PNG blob)"),
    Text("note", max_length=MAX_NOTE),
), stored_only=("signer",), description="One signature of the slip; signer: a person signing on another's device "
                                        "(a buyer or outsourcing clerk, who has no role, by badge and PIN)")
VOID = PayloadSpec((
    SLIP_ID,
    Text("reason", required=True, max_length=MAX_TEXT, description="why the slip is void; it keeps its number"),
))


def check_open(clean: dict[str, Any]) -> dict[str, Any]:
    """The product, the work order and (own parts) the workshop must be the plant's; a supplier's book is not a
    workshop's; no issue slip of bought parts."""
    if not rules.valid_kind(clean["kind"], clean["source"]):
        raise PayloadInvalid("source", "an issue slip is for own or outsourced parts", "choice",
                             choices=("own", "outsourced"))
    if db.session.execute(select(Product.id).where(Product.code == clean["product"])).first() is None:
        raise PayloadInvalid("product", "is not a known product", "unknown")
    number = clean.get("work_order")
    if number is not None and db.session.execute(
            select(WorkOrder.id).where(WorkOrder.number == number)).first() is None:
        raise PayloadInvalid("work_order", "is not a known work order", "unknown")
    workshop = db.session.execute(select(Workshop.id).where(Workshop.code == clean["book"])).first()
    if clean["source"] == "own" and workshop is None:
        raise PayloadInvalid("book", "is not a workshop's code", "unknown")
    if clean["source"] != "own" and workshop is not None:  # one book per owner: a supplier's is not a workshop's
        raise PayloadInvalid("book", "is a workshop's code, not a supplier's", "workshop")
    return clean


def subject(payload: dict[str, Any]) -> str:
    """Return the subject of a slip's events: the slip."""
    return subject_of(payload["slip_id"])


# --- Handling ----------------------------------------------------------------------------------


def handle(ctx: HandlerContext) -> list[RuleBroken]:
    """Handle one event of a slip: open it (numbered), sign it (and fold it again), or void it."""
    if ctx.envelope.type == OPENED:
        return _open(ctx)
    if ctx.envelope.type == SIGNED:
        return _sign(ctx)
    return _void_event(ctx)


def _shown(prefix: str, number: int) -> str:
    """Return a slip's number as printed (slip_numbers.display_number, from its parts)."""
    return f"{prefix}{number:0{slip_numbers.DIGITS}d}"


def _slip_row(session, slip_id: str):
    w = WarehouseSlip.__table__.c
    return session.execute(
        select(w.id, w.number, w.status, w.source, w.quantity, w.book_id, SlipBook.kind, SlipBook.prefix)
        .join(SlipBook, SlipBook.id == w.book_id).where(w.slip_id == slip_id)).first()


def _open(ctx: HandlerContext) -> list[RuleBroken]:
    """Number and store a new slip; adopt signatures and voids that arrived before it; flag what is wrong."""
    session, p = ctx.session, ctx.payload
    found = _slip_row(session, p["slip_id"])
    if found is not None:
        return [RuleBroken("warehouse_slip_reopened", {"slip_id": p["slip_id"],
                                                       "number": _shown(found.prefix, found.number)})]
    flags: list[RuleBroken] = []
    kind, source = p["kind"], p["source"]
    if not rules.may_fill(kind, source, ctx.actor_role):
        flags.append(RuleBroken("warehouse_role_not_allowed", {"action": "open", "role": ctx.actor_role}))
    transfer_pk = None
    if p.get("transfer_id"):
        transfer_pk = session.execute(select(Transfer.id).where(Transfer.number == p["transfer_id"])).scalar()
        if transfer_pk is None:
            flags.append(RuleBroken("unknown_transfer_slip", {"transfer_id": p["transfer_id"]}))
        elif kind == "entry":
            flags += _entry_twice(session, transfer_pk)
    if p.get("bin_codes"):
        unknown = [c for c in p["bin_codes"] if c not in bins_by_code(session, p["bin_codes"])]
        if unknown:
            flags.append(RuleBroken("unknown_bin", {"bin_code": ", ".join(unknown)}))
    product_pk = session.execute(select(Product.id).where(Product.code == p["product"])).scalar()
    work_order_pk = (session.execute(select(WorkOrder.id).where(WorkOrder.number == p["work_order"])).scalar()
                     if p.get("work_order") else None)
    slip_pk = _store(session, slip_id=p["slip_id"], kind=kind, owner=p["book"], source=source, quantity=p["quantity"],
                     product_id=product_pk, work_order_id=work_order_pk, transfer_id=transfer_pk,
                     party=p.get("party") or (None if source == "own" else p["book"]), note=p.get("note"),
                     event_id=ctx.envelope.id, created_by=ctx.actor_id, at_ms=ctx.effective_at,
                     workshop=p["book"] if source == "own" else None)
    _adopt(session, slip_pk, p["slip_id"], ctx)
    return flags


def _entry_twice(session, transfer_pk: int) -> list[RuleBroken]:
    """Flag a second entry slip for one transfer slip (one of them is voided by the office)."""
    w, b = WarehouseSlip.__table__.c, SlipBook.__table__.c
    other = session.execute(select(w.number, b.prefix).join(SlipBook.__table__, b.id == w.book_id).where(
        w.transfer_id == transfer_pk, w.status != "void", b.kind == "entry")).first()
    return [RuleBroken("warehouse_entry_twice", {"other": _shown(other.prefix, other.number)})] if other else []


def _store(session, *, slip_id: str, kind: str, owner: str, source: str, quantity: int, product_id: int | None,
           work_order_id: int | None, transfer_id: int | None, party: str | None, note: str | None,
           event_id: str | None, created_by: int, at_ms: int, workshop: str | None,
           location_id: int | None = None) -> int:
    """Take the book's next number and insert the slip, in the caller's write transaction; return its id."""
    book = slip_numbers.book_for(session, kind, owner, prefix=None if workshop else _prefix(session, kind, owner))
    if location_id is None:
        location_id = _store_location(session, workshop)
    number = slip_numbers.take_number(session, book.id)  # late: the book stays locked until the commit
    return session.execute(insert(WarehouseSlip.__table__).values(
        book_id=book.id, number=number, event_id=event_id, transfer_id=transfer_id, work_order_id=work_order_id,
        product_id=product_id, quantity=quantity, source=source, status="open", created_by=created_by,
        created_at=from_ms(at_ms), slip_id=slip_id, party=party, location_id=location_id, note=note,
    )).inserted_primary_key[0]


def _prefix(session, kind: str, owner: str) -> str:
    """Return the prefix a new supplier's book gets: "RK-<owner>-" shortened to fit, and unlike any other book's.

    A workshop's book keeps the default ("RK-W1-"); a supplier's name is often longer than a
    prefix holds, and two names alike at the start must still print different numbers.
    """
    base = f"{slip_numbers.PREFIXES[kind]}-{' '.join(owner.split())}"[:19].rstrip()
    taken = set(session.execute(select(SlipBook.prefix).where(SlipBook.owner != owner)).scalars())
    candidate, n = f"{base}-", 1
    while candidate in taken:
        n += 1
        candidate = f"{base[:19 - len(str(n))].rstrip()}{n}-"
    return candidate


def _store_location(session, workshop: str | None) -> int | None:
    """Return the store a slip is for: the workshop's warehouse, else the plant's first one."""
    loc = Location.__table__.c
    places = session.execute(select(loc.id, Workshop.code).outerjoin(Workshop, Workshop.id == loc.workshop_id)
                             .where(loc.kind == "warehouse").order_by(loc.code)).all()
    return next((r.id for r in places if workshop and r.code == workshop), places[0].id if places else None)


def _adopt(session, slip_pk: int, slip_id: str, ctx: HandlerContext) -> None:
    """Join the signatures and voids that arrived before the opening (flagged unknown) to the new slip."""
    s, e = Signature.__table__.c, schema.events.c
    mine = select(e.id).where(e.subject == subject_of(slip_id))
    orphans = select(s.id).where(s.warehouse_slip_id.is_(None), s.event_id.in_(mine))
    if session.execute(orphans.limit(1)).first() is not None:
        session.execute(update(Signature.__table__).where(s.id.in_(orphans)).values(warehouse_slip_id=slip_pk)
                        .execution_options(synchronize_session=False))
        _refold(session, slip_pk, ctx, run=set())
    x = schema.exceptions.c
    waiting = session.execute(
        select(e.id, e.actor_id, e.effective_at, e.payload).join(schema.exceptions, x.event_id == e.id)
        .where(e.subject == subject_of(slip_id), e.type == VOIDED, x.code == "unknown_warehouse_slip",
               x.withdrawn.is_(False)).order_by(e.effective_at, e.device_id, e.seq)).all()
    for void in waiting:
        withdraw(session, [(void.id, "unknown_warehouse_slip")], by_event=ctx.envelope.id, by_actor=ctx.actor_id,
                 at=ctx.effective_at, note="the slip's opening arrived")
        flags = _void(session, _slip_row(session, slip_id), void.actor_id, signers.role_at(void.actor_id,
                      void.effective_at), void.effective_at, str(void.payload.get("reason", "")))
        raise_flags(session, [{"code": f.code, "event_id": void.id, "subject": subject_of(slip_id),
                               "detail": f.detail, "created_at": ctx.received_at} for f in flags])


def _sign(ctx: HandlerContext) -> list[RuleBroken]:
    """Keep a signature, then fold the slip's signatures again; return this signature's flags."""
    session, p = ctx.session, ctx.payload
    person, _role, how = signers.proven_signer(ctx, SIGNED_TYPE)
    found = _slip_row(session, p["slip_id"])
    session.execute(insert(Signature.__table__).values(
        event_id=ctx.envelope.id, warehouse_slip_id=found.id if found else None, step=p["step"], decision="sign",
        quantity=p["quantity"], note=p.get("note"), user_id=person, image_sha256=p["signature_sha256"],
        device_id=ctx.envelope.device_id, signed_at=from_ms(ctx.effective_at), content_hash=p["content_hash"],
        verification=how, state="pending"))
    if found is None:
        return [RuleBroken("unknown_warehouse_slip", {"slip_id": p["slip_id"]})]
    folded = _refold(session, found.id, ctx, run={ctx.envelope.id})
    return [RuleBroken(code, detail) for code, detail in folded.flags.get(ctx.envelope.id, [])]


def _signed_log(session, slip_pk: int) -> list[rules.Signed]:
    """Return a slip's handled signatures as the fold takes them, each signer's role as it was then."""
    s, e = Signature.__table__.c, schema.events.c
    rows = session.execute(
        select(s.event_id, s.step, s.quantity, s.user_id, s.content_hash, s.verification, e.effective_at,
               e.device_id, e.seq).join(schema.events, e.id == s.event_id)
        .where(s.warehouse_slip_id == slip_pk)).all()
    return [rules.Signed((r.effective_at, r.device_id, r.seq), r.event_id, r.step,
                         signers.role_at(r.user_id, r.effective_at), r.content_hash, r.quantity,
                         r.verification or "device_user") for r in rows]


def _refold(session, slip_pk: int, ctx: HandlerContext, run: set[str]) -> rules.SlipFold:
    """Fold a slip's signatures and write what it says: each signature's state, the slip's status, the flags
    of signatures not in this run (ingest writes the run's own)."""
    w = WarehouseSlip.__table__.c
    row = session.execute(select(w.status, w.source, w.quantity, SlipBook.kind)
                          .join(SlipBook, SlipBook.id == w.book_id).where(w.id == slip_pk)).one()
    log_ = _signed_log(session, slip_pk)
    fold = rules.fold_signatures(row.kind, row.source, row.quantity, rules.content_hash(content_for(session, slip_pk)),
                                 log_)
    s = Signature.__table__.c
    for sig in log_:
        session.execute(update(Signature.__table__).where(s.event_id == sig.event_id)
                        .values(state=fold.states.get(sig.event_id, "pending")))
    if row.status != "void" and row.status != fold.status:
        session.execute(update(WarehouseSlip.__table__).where(w.id == slip_pk).values(status=fold.status))
    earlier = [sig.event_id for sig in log_ if sig.event_id not in run]
    if earlier:
        stored = flags_of(session, earlier, rules.FOLD_FLAGS)
        withdrawn, raised = [], []
        slip_id = session.execute(select(w.slip_id).where(w.id == slip_pk)).scalar()
        for event_id in earlier:
            have = stored.get(event_id, [])
            want = [{"code": code, **detail} for code, detail in fold.flags.get(event_id, [])]
            withdrawn.extend((event_id, f["code"]) for f in have if f not in want)
            raised.extend({"code": f["code"], "event_id": event_id, "subject": subject_of(slip_id),
                           "detail": {k: v for k, v in f.items() if k != "code"}, "created_at": ctx.received_at}
                          for f in want if f not in have)
        withdraw(session, withdrawn, by_event=ctx.envelope.id, by_actor=ctx.actor_id, at=ctx.effective_at,
                 note="the slip's log changed")
        raise_flags(session, raised)
    return fold


def _void_event(ctx: HandlerContext) -> list[RuleBroken]:
    found = _slip_row(ctx.session, ctx.payload["slip_id"])
    if found is None:
        return [RuleBroken("unknown_warehouse_slip", {"slip_id": ctx.payload["slip_id"]})]
    return _void(ctx.session, found, ctx.actor_id, ctx.actor_role, ctx.effective_at, ctx.payload["reason"])


def _void(session, found, actor_id: int, role: str | None, at_ms: int, reason: str) -> list[RuleBroken]:
    """Void a slip (it keeps its number and row), unless the person may not; a void slip stays as it was voided."""
    if not rules.may_void(found.kind, found.source, role):
        return [RuleBroken("warehouse_role_not_allowed", {"action": "void", "role": role})]
    if found.status == "void":
        return []
    w = WarehouseSlip.__table__.c
    session.execute(update(WarehouseSlip.__table__).where(w.id == found.id).values(
        status="void", voided_by=actor_id, voided_at=from_ms(at_ms), void_reason=" ".join(reason.split())))
    log.info("warehouse slip %s voided by user %s", _shown(found.prefix, found.number), actor_id)
    return []


# --- From a transfer slip into a warehouse (§3.4) --------------------------------------------------


def transfer_entry_id(transfer_number: str) -> str:
    """Return the slip id of the entry slip made from a transfer slip: the same for the same transfer, always."""
    return str(uuid.uuid5(TRANSFER_ENTRY, transfer_number))


def entry_for_transfer(session, transfer_id: int, actor_id: int, at_ms: int) -> None:
    """Open the entry slip (own parts, the transfer's workshop book) for a completed transfer slip into a warehouse.

    Runs in the caller's write transaction (it takes a number: on SQLite the transaction must have
    begun IMMEDIATE, as every push does). Does nothing when the transfer slip does not go into a
    warehouse, is not complete, or already has its entry slip: this one (made before, even if since
    voided) or one a device opened for it (§3.4: the clerk opens it with the transfer slip). The
    book is the workshop the parts leave (else the bin's, the warehouse's, or the plant's code).
    """
    # Fresh from the database: the caller's handler changed the row with Core statements a moment ago.
    t = session.get(Transfer, transfer_id, populate_existing=True)
    if t is None or t.kind != "warehouse" or t.status != "complete":
        log.warning("no entry slip for transfer %s: not a completed transfer into a warehouse", transfer_id)
        return
    slip_id = transfer_entry_id(t.number)
    w, b = WarehouseSlip.__table__.c, SlipBook.__table__.c
    made = session.execute(select(w.id).where(w.slip_id == slip_id)).first()
    opened = session.execute(select(w.id).join(SlipBook.__table__, b.id == w.book_id).where(
        w.transfer_id == t.id, w.status != "void", b.kind == "entry")).first()
    if made is not None or opened is not None:
        return
    owner = next((x.workshop.code for x in (t.from_location, t.bin, t.to_location)
                  if x is not None and x.workshop is not None), None)
    if owner is None:
        owner = session.execute(select(Plant.code).order_by(Plant.id)).scalar() or "PLANT"
    _store(session, slip_id=slip_id, kind="entry", owner=owner, source="own",
           quantity=t.quantity_received if t.quantity_received is not None else t.quantity,
           product_id=t.product_id, work_order_id=t.work_order_id, transfer_id=t.id, party=None, note=None,
           event_id=None, created_by=actor_id, at_ms=at_ms, workshop=owner, location_id=t.to_location_id)


# --- Event types ---------------------------------------------------------------------------------

_FILLERS = frozenset().union(*rules.FILLERS.values())
_VOIDERS = frozenset(r for r in _FILLERS if r != "clerk")
OPENED_TYPE = EventType(name=OPENED, version=1, spec=OPEN, check=check_open, handler=handle, roles=_FILLERS,
                        subject=subject)
# Whoever holds the device records a signature; the fold flags a signer whose role may not sign the step.
SIGNED_TYPE = EventType(name=SIGNED, version=1, spec=SIGN, handler=handle, roles=rules.READERS, subject=subject,
                        signer_roles=frozenset(ALL_ROLES))
VOIDED_TYPE = EventType(name=VOIDED, version=1, spec=VOID, handler=handle, roles=_VOIDERS, subject=subject)
ROLES = {t.name: t.roles for t in (OPENED_TYPE, SIGNED_TYPE, VOIDED_TYPE)}

AREA = Area(
    name="warehouse",
    kinds=(
        Kind(OPENED_TYPE, _l("Warehouse slip filled in"), "warehouse/record.html", on_device=False, form_errors={
            ("quantity", "*"): _l("Enter the number of pieces, from 1 to %(maximum)s."),
            ("product", "unknown"): _l("No product has this code."),
            ("work_order", "unknown"): _l("No work order has this number."),
            ("book", "unknown"): _l("Enter the workshop's code (own parts)."),
            ("book", "workshop"): _l("Bought and outsourced parts go in the supplier's book, not a workshop's."),
            ("book", "*"): _l("Enter the book: the workshop's code, or the supplier or outside factory."),
            ("source", "choice"): _l("An issue slip is for own or outsourced parts."),
            ("bin_codes", "*"): _l("Enter at most %(max_items)s bin codes, each once."),
        }),
        Kind(SIGNED_TYPE, _l("Warehouse slip signed"), "warehouse/record.html", form_errors={
            ("quantity", "*"): _l("Enter the number of pieces, from 0 to %(maximum)s."),
            ("signature_sha256", "*"): _l("Sign in the box."),
            ("content_hash", "*"): _l("The slip changed. Open it again."),
        }),
        Kind(VOIDED_TYPE, _l("Warehouse slip voided"), "warehouse/record.html", on_device=False, form_errors={
            ("reason", "*"): _l("Say why the slip is void (at most %(max_length)s characters)."),
        }),
    ),
    flags=(
        Flag("warehouse_out_of_order_signature", _l("Warehouse slip signed out of order"),
             "warehouse/flags/signature.html"),
        Flag("warehouse_signature_void", _l("Signature over other content than the warehouse slip's"),
             "warehouse/flags/signature.html"),
        Flag("warehouse_step_not_allowed", _l("Signer may not sign this step of the warehouse slip"),
             "warehouse/flags/signature.html"),
        Flag("warehouse_quantity_differs", _l("Signed quantity differs from the warehouse slip's"),
             "warehouse/flags/quantity.html"),
        Flag("warehouse_role_not_allowed", _l("Role may not fill or void this warehouse slip"),
             "warehouse/flags/role.html"),
        Flag("unknown_warehouse_slip", _l("Record for a warehouse slip the server does not have")),
        Flag("warehouse_slip_reopened", _l("Warehouse slip filled in twice: the first one holds")),
        Flag("warehouse_entry_twice", _l("Second entry slip for one transfer slip")),
        Flag("unknown_transfer_slip", _l("Entry slip names a transfer slip the server does not have")),
    ),
)
