"""Reading warehouse slips: one slip as its page, its copies and the API show it; the books; what is out.

A read model: it never imports the write side (webapp/services/warehouse.py imports it, for the
content a slip's signatures sign). The states of the signatures are the ones the write side's
fold stored; the flags are read from `sync_exceptions` by the slip's events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from sync import schema
from sync.flags import flags_of
from webapp.domain import warehouse as rules
from webapp.extensions import db
from webapp.models import (Bin, Location, Product, Signature, SlipBook, Transfer, TransferBin, User, WarehouseSlip,
                           WorkOrder)
from webapp.services.signers import role_at
from webapp.services.slip_numbers import display_number

KIND_NAMES = {"entry": _l("Entry slip"), "issue": _l("Issue slip")}
SOURCE_NAMES = {"own": _l("Own production"), "bought": _l("Bought in"), "outsourced": _l("Outsourced")}
STEP_NAMES = {
    "inspector": _l("Inspector"),
    "director": _l("Workshop director"),
    "keeper": _l("Warehouse keeper"),
    "buyer": _l("Buyer"),
    "accountant": _l("Workshop accountant: fills in"),
    "outsourcer": _l("Outsourcing clerk"),
    "clerk": _l("Transfer clerk: quantity issued"),
}
STATUS_NAMES = {"open": _l("Waiting for signatures"), "complete": _l("Complete"), "void": _l("Void"),
                "provisional": _l("Provisional: no number yet")}
STATE_NAMES = {
    "valid": _l("valid"),
    "replaced": _l("replaced by a later signature"),
    "void": _l("void: signed over other content"),
    "out_of_order": _l("out of order"),
    "wrong_step": _l("not a step of this slip"),
    "pending": _l("slip not received yet"),
}
COPY_NAMES = {
    "keeper": _l("Warehouse keeper"),
    "chief_keeper": _l("Chief keeper"),
    "cost_accountant": _l("Cost accountant"),
    "material_accountant": _l("Material accountant"),
    "statistician": _l("Statistician"),
    "buyer": _l("Buyer"),
    "workshop_accountant": _l("Workshop accountant"),
}
COPY_ORDINALS = {4: _l("4th copy"), 3: _l("3rd copy"), 2: _l("2nd copy"), 1: _l("Bottom copy")}
PAGE = 200  # slips of a book on one page


def subject(slip_id: str) -> str:
    """Return the subject of a slip's events (the review queue groups by it)."""
    return f"warehouse_slip:{slip_id}"


def _iso(at: datetime | int | None) -> str | None:
    if at is None:
        return None
    if isinstance(at, int):
        at = datetime.fromtimestamp(at / 1000, UTC)
    return at.isoformat()


def content_for(session, slip_pk: int) -> dict[str, Any]:
    """Return what a slip's signatures sign: its opening's content, or, for a slip made from a transfer slip
    (no opening event), the same fields from its row (`webapp.domain.warehouse.slip_content`)."""
    w, e = WarehouseSlip.__table__.c, schema.events.c
    row = session.execute(
        select(w.slip_id, w.event_id, w.source, w.quantity, w.party, SlipBook.kind, SlipBook.owner,
               Product.code.label("product"), WorkOrder.number.label("work_order"),
               Transfer.number.label("transfer_id"))
        .join(SlipBook, SlipBook.id == w.book_id).outerjoin(Product, Product.id == w.product_id)
        .outerjoin(WorkOrder, WorkOrder.id == w.work_order_id).outerjoin(Transfer, Transfer.id == w.transfer_id)
        .where(w.id == slip_pk)).one()
    if row.event_id is not None:
        opened = session.execute(select(e.payload).where(e.id == row.event_id)).scalar()
        if isinstance(opened, dict):
            return rules.slip_content(opened)
    return rules.slip_content({"slip_id": row.slip_id, "kind": row.kind, "source": row.source, "book": row.owner,
                               "product": row.product, "work_order": row.work_order, "quantity": row.quantity,
                               "party": row.party, "transfer_id": row.transfer_id})


def _people(ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()}


def _signatures(slip_pk: int) -> list[dict[str, Any]]:
    """Return a slip's signatures in log order, with who signed (their role then) and each one's state."""
    s, e = Signature.__table__.c, schema.events.c
    rows = db.session.execute(
        select(s.event_id, s.step, s.quantity, s.note, s.user_id, s.image_sha256, s.device_id, s.signed_at,
               s.content_hash, s.verification, s.state, e.effective_at, e.seq, e.received_at)
        .join(schema.events, e.id == s.event_id).where(s.warehouse_slip_id == slip_pk)
        .order_by(e.effective_at, e.device_id, e.seq)).all()
    people = _people({r.user_id for r in rows})
    out = []
    for r in rows:
        user = people.get(r.user_id)
        out.append({
            "event_id": r.event_id, "step": r.step, "quantity": r.quantity, "note": r.note,
            "signer": {"id": r.user_id, "name": user.display_name if user else None,
                       "role": role_at(r.user_id, r.effective_at)},
            "signed_at": _iso(r.signed_at), "received_at": _iso(r.received_at), "device_id": r.device_id,
            "verification": r.verification, "state": r.state or "pending", "content_hash": r.content_hash,
            "signature_sha256": r.image_sha256})
    return out


def _bins(row: WarehouseSlip, content: dict[str, Any]) -> list[str]:
    if content.get("bin_codes"):
        return list(content["bin_codes"])
    if row.transfer_id is None:
        return []
    tb = TransferBin.__table__.c
    return list(db.session.execute(select(Bin.code).join(TransferBin.__table__, tb.bin_id == Bin.id)
                                   .where(tb.transfer_id == row.transfer_id).order_by(Bin.code)).scalars())


def slip(slip_id: str) -> dict[str, Any] | None:
    """Return a slip as the server has it now; provisional (no number) when only its other events arrived."""
    row = db.session.execute(select(WarehouseSlip).where(WarehouseSlip.slip_id == slip_id)).scalar_one_or_none()
    event_ids = list(db.session.execute(select(schema.events.c.id)
                                        .where(schema.events.c.subject == subject(slip_id))).scalars())
    flags = [{"event_id": event_id, **f} for event_id, found in flags_of(db.session, event_ids).items() for f in found]
    if row is None:
        if not event_ids:
            return None
        return {"slip_id": slip_id, "provisional": True, "number": None, "display_number": None,
                "status": "provisional", "flags": flags}
    book = row.book
    content = content_for(db.session, row.id)
    signatures = _signatures(row.id)
    steps = rules.steps_for(book.kind, row.source)
    valid = {s["step"]: s for s in signatures if s["state"] == "valid"}
    people = _people({row.created_by} | ({row.voided_by} if row.voided_by else set()))

    def person(user_id: int | None) -> dict[str, Any] | None:
        user = people.get(user_id) if user_id is not None else None
        return {"id": user_id, "name": user.display_name if user else None} if user_id is not None else None

    product = row.product_id and db.session.get(Product, row.product_id)
    work_order = row.work_order_id and db.session.get(WorkOrder, row.work_order_id)
    transfer = row.transfer_id and db.session.get(Transfer, row.transfer_id)
    location = row.location_id and db.session.get(Location, row.location_id)
    return {
        "slip_id": row.slip_id, "provisional": False, "kind": book.kind, "source": row.source,
        "book": {"id": book.id, "kind": book.kind, "owner": book.owner, "prefix": book.prefix},
        "number": row.number, "display_number": display_number(book, row.number), "status": row.status,
        "product": {"code": product.code, "name_zh": product.name_zh, "name_en": product.name_en} if product else None,
        "work_order": work_order.number if work_order else None,
        "quantity": row.quantity, "party": row.party, "note": row.note,
        "location": {"code": location.code, "name_zh": location.name_zh, "name_en": location.name_en}
        if location else None,
        "transfer": {"transfer_id": transfer.number, "status": transfer.status} if transfer else None,
        "transfer_id": content.get("transfer_id"),
        "bin_codes": _bins(row, content),
        "created_by": person(row.created_by), "created_at": _iso(row.created_at),
        "void": {"by": person(row.voided_by), "at": _iso(row.voided_at), "reason": row.void_reason}
        if row.status == "void" else None,
        "content": content, "content_hash": rules.content_hash(content),
        "steps": [{"step": step, "signature": valid.get(step)} for step in steps],
        "next_step": next((step for step in steps if step not in valid), None) if row.status == "open" else None,
        "signatures": signatures,
        "copies": list(rules.copies_of(book.kind, row.source)),
        "flags": flags,
    }


# --- Lists ---------------------------------------------------------------------------------------


def books(kind: str | None = None) -> list[dict[str, Any]]:
    """List the books (kind, owner) with the last number given and how many slips are open, complete, void."""
    w = WarehouseSlip.__table__.c
    counts: dict[int, dict[str, int]] = {}
    for book_id, status, n in db.session.execute(select(w.book_id, w.status, func.count()).group_by(w.book_id,
                                                                                                   w.status)):
        counts.setdefault(book_id, {})[status] = n
    stmt = select(SlipBook).order_by(SlipBook.kind, SlipBook.owner)
    if kind in rules.KINDS:
        stmt = stmt.where(SlipBook.kind == kind)
    return [{"id": b.id, "kind": b.kind, "owner": b.owner, "prefix": b.prefix, "last_number": b.last_number,
             "counts": counts.get(b.id, {})} for b in db.session.execute(stmt).scalars()]


def book(book_id: int, upto: int | None = None, size: int = PAGE) -> dict[str, Any] | None:
    """Return a book and its slips by number, `size` of them up to number `upto` (default: the last one given).

    A number with no slip is listed as missing: the numbering makes that impossible
    (webapp/services/slip_numbers.py), and the list says so, rather than hide it, if a database
    was ever changed by hand.
    """
    found = db.session.get(SlipBook, book_id)
    if found is None:
        return None
    last = max(0, min(found.last_number, upto if upto is not None else found.last_number))
    first = max(1, last - size + 1)
    w = WarehouseSlip
    rows = db.session.execute(
        select(w, Product.code, User.display_name).outerjoin(Product, Product.id == w.product_id)
        .outerjoin(User, User.id == w.created_by).where(w.book_id == book_id, w.number >= first, w.number <= last)
        .order_by(w.number)).all()
    by_number = {r[0].number: r for r in rows}
    slips, missing = [], []
    for number in range(first, last + 1):
        r = by_number.get(number)
        if r is None:
            missing.append(number)
            slips.append({"number": number, "display_number": display_number(found, number), "missing": True})
            continue
        s = r[0]
        slips.append({"number": number, "display_number": display_number(found, number), "missing": False,
                      "slip_id": s.slip_id, "status": s.status, "source": s.source, "product": r[1],
                      "quantity": s.quantity, "party": s.party, "created_by": r[2], "created_at": s.created_at,
                      "void_reason": s.void_reason})
    return {"id": found.id, "kind": found.kind, "owner": found.owner, "prefix": found.prefix,
            "last_number": found.last_number, "slips": slips, "missing": missing,
            "earlier": first - 1 if first > 1 else None,
            "later": min(found.last_number, last + size) if last < found.last_number else None}


def waiting_for(role: str | None, limit: int = 200) -> list[dict[str, Any]]:
    """List the open slips whose next signature a person in `role` may give (admins: every open slip)."""
    w = WarehouseSlip
    rows = db.session.execute(
        select(w, SlipBook, Product.code).join(SlipBook, SlipBook.id == w.book_id)
        .outerjoin(Product, Product.id == w.product_id).where(w.status == "open")
        .order_by(w.created_at).limit(limit)).all()
    if not rows:
        return []
    s = Signature.__table__.c
    valid: dict[int, set[str]] = {}
    for slip_pk, step in db.session.execute(select(s.warehouse_slip_id, s.step).where(
            s.warehouse_slip_id.in_([r[0].id for r in rows]), s.state == "valid")):
        valid.setdefault(slip_pk, set()).add(step)
    out = []
    for slip_row, slip_book, product in rows:
        steps = rules.steps_for(slip_book.kind, slip_row.source)
        step = next((x for x in steps if x not in valid.get(slip_row.id, set())), None)
        if step is None or not (role == rules.ADMIN or rules.may_sign(slip_book.kind, step, role)):
            continue
        out.append({"slip_id": slip_row.slip_id, "display_number": display_number(slip_book, slip_row.number),
                    "kind": slip_book.kind, "source": slip_row.source, "owner": slip_book.owner, "product": product,
                    "quantity": slip_row.quantity, "next_step": step, "created_at": slip_row.created_at})
    return out


def _completed_at(slip_pks: list[int]) -> dict[int, datetime]:
    """Return when each slip's last valid signature was given (when a complete slip completed)."""
    if not slip_pks:
        return {}
    s = Signature.__table__.c
    return {pk: at for pk, at in db.session.execute(
        select(s.warehouse_slip_id, func.max(s.signed_at)).where(s.warehouse_slip_id.in_(slip_pks),
                                                                 s.state == "valid")
        .group_by(s.warehouse_slip_id))}


def out_with_outsourcers() -> dict[str, Any]:
    """List what is out with outside factories: outsourced issue slips not yet matched by entry slips.

    Out: an outsourced issue slip once complete (the transfer clerk confirmed the quantity that
    left), since its last signature. Back: an outsourced entry slip once opened (the keeper fills it
    when the parts arrive, §3.6) and not void. Matching is `webapp.domain.warehouse.still_out`.
    """
    w = WarehouseSlip
    book_alias = aliased(SlipBook)
    rows = db.session.execute(
        select(w, book_alias, Product).join(book_alias, book_alias.id == w.book_id)
        .join(Product, Product.id == w.product_id)
        .where(w.source == "outsourced", w.status != "void")).all()
    issues = [r for r in rows if r[1].kind == "issue" and r[0].status == "complete"]
    done = _completed_at([r[0].id for r in issues])
    now = datetime.now(UTC)
    outs = [rules.Movement(r[0].slip_id, r[0].party or r[1].owner, r[2].code, r[0].quantity,
                           done.get(r[0].id) or r[0].created_at) for r in issues]
    backs = [rules.Movement(r[0].slip_id, r[0].party or r[1].owner, r[2].code, r[0].quantity, r[0].created_at)
             for r in rows if r[1].kind == "entry"]
    remaining, surplus = rules.still_out(outs, backs)
    by_id = {r[0].slip_id: r for r in rows}
    listed = []
    for item in remaining:
        slip_row, slip_book, product = by_id[item.out.key]
        listed.append({"slip_id": slip_row.slip_id, "display_number": display_number(slip_book, slip_row.number),
                       "party": item.out.party, "product": product, "quantity": slip_row.quantity,
                       "remaining": item.remaining, "since": item.out.at, "out_for": now - item.out.at})
    products = {r[2].code: r[2] for r in rows}
    return {"out": listed,
            "surplus": [{"party": s.party, "product": products.get(s.product), "quantity": s.quantity}
                        for s in surplus]}
