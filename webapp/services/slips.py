"""Reading transfer slips: one slip as the API, its page and its PDF show it; the lists the office and the floor see.

A read model: it never imports the write side (tests/unit/test_layering.py). A slip is folded
from its log here too, so what is shown is what the log says, signature by signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from typing import Any

from sqlalchemy import func, select

from sync import schema
from sync.flags import flags_of
from webapp.domain import transfers as rules
from webapp.extensions import db
from webapp.models import (Bin, Location, Operation, RouteStep, SpecGroup, Transfer, TransferBin, TransferLog,
                           User)
from webapp.models.types import from_ms


def _entries(slip_id: str) -> tuple[list[rules.Entry], dict[str, Any]]:
    log = TransferLog.__table__.c
    rows = db.session.execute(select(TransferLog.__table__).where(log.slip_id == slip_id)).all()
    found = [rules.Entry((r.effective_at, r.device_id, r.seq), r.event_id, r.kind, r.person_id, r.role, r.payload,
                         r.verification) for r in rows]
    return found, {r.event_id: r for r in rows}


def _place(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"code": location.code, "kind": location.kind, "name_zh": location.name_zh, "name_en": location.name_en}


def _iso(ms_or_dt) -> str | None:
    if ms_or_dt is None:
        return None
    when = from_ms(ms_or_dt) if isinstance(ms_or_dt, int) else ms_or_dt
    return when.isoformat()


def slip(slip_id: str) -> dict[str, Any] | None:
    """Return a slip as its log says it is now, or None when the server has nothing of it."""
    log, rows = _entries(slip_id)
    transfer = db.session.execute(select(Transfer).where(Transfer.number == slip_id)).scalar_one_or_none()
    if not log and transfer is None:
        return None
    fold = rules.fold_slip(log, is_return=transfer is not None and transfer.kind == "return")
    people = {u.id: u for u in db.session.execute(
        select(User).where(User.id.in_({e.person_id for e in log}))).scalars()}
    events = db.session.execute(select(schema.events.c.id, schema.events.c.received_at)
                                .where(schema.events.c.id.in_([e.event_id for e in log]))).all()
    received = {r.id: r.received_at for r in events}

    def person(entry: rules.Entry | None) -> dict[str, Any] | None:
        if entry is None:
            return None
        user = people.get(entry.person_id)
        return {"id": entry.person_id, "name": user.display_name if user else None, "role": entry.role}

    def said(entry: rules.Entry | None, field: str) -> dict[str, Any] | None:
        if entry is None:
            return None
        return {"text": entry.payload.get(field), "by": person(entry), "at": _iso(entry.order[0]),
                "event_id": entry.event_id, **({"step": entry.payload["step"]} if "step" in entry.payload else {}),
                **({"photos": entry.payload["photos"]} if entry.payload.get("photos") else {})}

    signatures = []
    for e in sorted((e for e in log if e.kind == "signed"), key=lambda e: e.order):
        p = e.payload
        signatures.append({
            "event_id": e.event_id, "step": p["step"], "signer": person(e), "quantity": p["quantity"],
            "verdict": p.get("verdict"), "defects": p.get("defects"), "photos": p.get("photos", []),
            "note": p.get("note"), "signed_at": _iso(e.order[0]), "received_at": _iso(received.get(e.event_id)),
            "device_id": e.order[1], "verification": e.verification,
            "state": fold.states.get(e.event_id, "pending"), "content_hash": p["content_hash"],
            "signature_sha256": p["signature_sha256"]})
    bins = []
    if transfer is not None:
        tb = TransferBin.__table__.c
        bins = [{"code": b.code, "quantity": b.quantity} for b in db.session.execute(
            select(Bin).join(TransferBin.__table__, tb.bin_id == Bin.id).where(tb.transfer_id == transfer.id)
            .order_by(Bin.code)).scalars()]
    flags = flags_of(db.session, [e.event_id for e in log])
    custodian = db.session.get(User, transfer.custodian_id) if transfer and transfer.custodian_id else None
    content = fold.content or {}
    return {
        "transfer_id": slip_id,
        "number": transfer.number if transfer else slip_id,
        "status": fold.status if fold.content else "open",
        "kind": transfer.kind if transfer else None,
        "content": fold.content,
        "content_hash": fold.content_hash,
        "quantity": content.get("quantity"),
        "quantity_in": transfer.quantity_in if transfer else None,
        "quantity_received": fold.received,
        "scrap_quantity": transfer.scrap_quantity if transfer else None,
        "differs": fold.differs,
        "part": content.get("part") or (transfer.part_name if transfer else None),
        "product": _product(transfer),
        "work_order": transfer.work_order.number if transfer and transfer.work_order else None,
        "bins": bins,
        "bin_codes": content.get("bin_codes", []),
        "from": _place(transfer.from_location) if transfer else None,
        "to": _place(transfer.to_location) if transfer else None,
        "custodian": {"id": custodian.id, "name": custodian.display_name} if custodian else None,
        "opened_by": person(fold.first_opened),
        "opened_at": _iso(fold.first_opened.order[0]) if fold.first_opened else None,
        "changed_at": _iso(fold.opened.order[0]) if fold.opened and fold.opened is not fold.first_opened else None,
        "completed_at": _iso(transfer.completed_at) if transfer else None,
        "next_step": fold.signatures.next_step if fold.status == "open" else None,
        "signatures": signatures,
        "explanation": said(fold.explanation, "explanation"),
        "written_off": said(fold.written_off, "reason"),
        "refusal": said(fold.refusal, "reason"),
        "flags": [{"event_id": event_id, **f} for event_id, found in flags.items() for f in found],
    }


def _product(transfer: Transfer | None) -> dict[str, Any] | None:
    if transfer is None or transfer.product is None:
        return None
    p = transfer.product
    return {"code": p.code, "name_zh": p.name_zh, "name_en": p.name_en}


def signed_slips(day_start: datetime, day_end: datetime, status: str | None = "complete", limit: int = 500
                 ) -> list[Transfer]:
    """List the signed slips completed (or, with status None, opened) in a time range, newest first."""
    t = Transfer
    stmt = select(t).where(t.content_hash.is_not(None)).order_by(t.created_at.desc()).limit(limit)
    if status == "complete":
        stmt = stmt.where(t.status == "complete", t.completed_at >= day_start, t.completed_at < day_end)
    else:
        stmt = stmt.where(t.created_at >= day_start, t.created_at < day_end)
        if status:
            stmt = stmt.where(t.status == status)
    return list(db.session.execute(stmt).scalars())


def open_slips_for_bin(bin_id: int) -> list[Transfer]:
    """Return the signed slips of a bin not yet complete (open, waiting for an explanation)."""
    tb = TransferBin.__table__.c
    return list(db.session.execute(
        select(Transfer).join(TransferBin.__table__, tb.transfer_id == Transfer.id)
        .where(tb.bin_id == bin_id, Transfer.status.in_(("open", "discrepancy")))
        .order_by(Transfer.created_at)).scalars())


def waiting_bins(limit: int = 200) -> list[dict[str, Any]]:
    """List the bins in a waiting area (§3.3): how long each has waited, and in whose keeping."""
    now = datetime.now(UTC)
    rows = db.session.execute(
        select(Bin, Location).join(Location, Location.id == Bin.location_id)
        .where(Location.kind == "waiting").order_by(Bin.location_since).limit(limit)).all()
    keepers = keepers_of([b.id for b, _ in rows])
    out = []
    for b, place in rows:
        since = b.location_since
        out.append({"code": b.code, "place": place, "since": since, "quantity": b.quantity,
                    "product": b.product, "work_order": b.work_order.number if b.work_order else None,
                    "waited": (now - since) if since else None, "keeper": keepers.get(b.id)})
    return out


def keeper_of(bin_id: int) -> str | None:
    """Return in whose keeping a bin in a waiting area is: the custodian of the last slip that took it there."""
    tb = TransferBin.__table__.c
    return db.session.execute(
        select(User.display_name).select_from(TransferBin).join(Transfer, Transfer.id == tb.transfer_id)
        .join(User, User.id == Transfer.custodian_id)
        .where(tb.bin_id == bin_id, Transfer.status == "complete", Transfer.kind == "waiting")
        .order_by(Transfer.completed_at.desc()).limit(1)).scalar()


def keepers_of(bin_ids: list[int]) -> dict[int, str]:
    """Return, for bins in a waiting area, the person whose keeping the last slip there put them in."""
    if not bin_ids:
        return {}
    tb = TransferBin.__table__.c
    rows = db.session.execute(
        select(tb.bin_id, User.display_name, Transfer.completed_at)
        .join(Transfer, Transfer.id == tb.transfer_id).join(User, User.id == Transfer.custodian_id)
        .where(tb.bin_id.in_(bin_ids), Transfer.status == "complete", Transfer.kind == "waiting")
        .order_by(Transfer.completed_at)).all()
    return {r.bin_id: r.display_name for r in rows}


def waited_text(delta: timedelta | None) -> str:
    """Return how long something waited as hours and minutes ("3 h 05 min"), or an empty text."""
    if delta is None:
        return ""
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def counts_by_status() -> dict[str, int]:
    """Count the signed slips by status (the office's overview)."""
    rows = db.session.execute(select(Transfer.status, func.count()).where(Transfer.content_hash.is_not(None))
                              .group_by(Transfer.status)).all()
    return {status: n for status, n in rows}



def slips_of(user_id: int, limit: int = 100) -> list[Transfer]:
    """Return the signed slips a person opened or signed, newest first (the clerk's own record)."""
    log = TransferLog.__table__.c
    mine = select(log.slip_id).where(log.person_id == user_id)
    return list(db.session.execute(
        select(Transfer).where(Transfer.content_hash.is_not(None), Transfer.number.in_(mine))
        .order_by(Transfer.created_at.desc()).limit(limit)).scalars())


# Who hears of a refusal in the app: the team leaders of the operation the parts came from.
TEAM_LEADERS = frozenset({"director", "receiver", "operator", "admin"})


def refusals_for(user, days: int = 7) -> list[Transfer]:
    """Return the refused slips of the last days from operations of the person's workshop (all, without one)."""
    if user.role not in TEAM_LEADERS:
        return []
    since = datetime.now(UTC) - timedelta(days=days)
    stmt = (select(Transfer).join(Location, Location.id == Transfer.from_location_id)
            .where(Transfer.status == "refused", Transfer.created_at >= since)
            .order_by(Transfer.created_at.desc()).limit(50))
    if user.workshop_id is not None and user.role != "admin":
        stmt = stmt.where(Location.workshop_id == user.workshop_id)
    return list(db.session.execute(stmt).scalars())


def opening(bin_row: Bin) -> dict[str, Any]:
    """Return what opening a slip for a bin offers, in three small queries (the bin page's form).

    The next operation on its part's route (the default destination), the other operations that have
    a place (the route's first, in its order), the part's name after the operation it leaves as the
    process-state list names it (§4.2), whether it leaves the route's first operation (§3.1: the
    material's issue slip), and its part's similar-specification group (§3.3).
    """
    product, here = bin_row.product, bin_row.location.operation_id if bin_row.location else None
    route = []
    if product is not None and product.route_id is not None:
        s, o = RouteStep.__table__.c, Operation.__table__.c
        route = db.session.execute(
            select(s.operation_id, s.state_name_zh, o.code, o.name_zh, o.name_en).join(Operation.__table__,
                                                                                        o.id == s.operation_id)
            .where(s.route_id == product.route_id).order_by(s.position)).all()
    at = next((i for i, step in enumerate(route) if step.operation_id == here), None)
    following = route[at + 1] if at is not None and at + 1 < len(route) else None
    o, loc = Operation.__table__.c, Location.__table__.c
    placed = db.session.execute(select(o.id, o.code, o.name_zh, o.name_en).where(
        o.id.in_(select(loc.operation_id).where(loc.operation_id.is_not(None)))).order_by(o.code)).all()
    order = {step.operation_id: i for i, step in enumerate(route)}
    others = sorted((op for op in placed if op.id not in (here, following.operation_id if following else None)),
                    key=lambda op: order.get(op.id, len(order)))
    group = None
    if product is not None and product.spec_group_id is not None:
        group = db.session.execute(select(SpecGroup.code).where(SpecGroup.id == product.spec_group_id)).scalar()
    return {"next": following, "operations": others, "part": route[at].state_name_zh if at is not None else None,
            "leaves_first": at == 0, "spec_group": group}
