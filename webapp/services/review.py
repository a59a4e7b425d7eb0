"""The office review queue: every exception a rule raised and every quarantined record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update

from sync import schema
from sync.envelope import MAX_INT32
from sync.registry import EventType, HandlerContext, RuleBroken
from sync.spec import Integer, PayloadSpec, Text
from webapp.domain.roles import CAPABILITIES, Can
from webapp.events import Area, Flag, Kind
from webapp.extensions import db
from webapp.models import User

EVENT_TYPE = "exception.resolved"
# Flags whose closing is an override only some may give: a transfer before the first piece passed
# goes on only by a director's word.
OVERRIDES = {"first_piece_pending": Can.OVERRIDE_FIRST_PIECE}
MAX_RESOLUTION_NOTE = 2000
RESOLUTION = PayloadSpec((
    Integer("exception_id", required=True, minimum=1, maximum=MAX_INT32, description="the flag closed"),
    Text("note", required=True, max_length=MAX_RESOLUTION_NOTE, description="what was decided"),
))


@dataclass
class Item:
    """One thing for the office to look at."""

    id: int
    code: str
    subject: str | None
    detail: dict[str, Any]
    created_at: int
    event: dict[str, Any] | None
    quarantined_raw: str | None
    resolved_at: int | None
    resolved_by: str | None
    resolution_note: str | None


def queue(include_resolved: bool = False, code: str | None = None, limit: int = 200) -> list[Item]:
    """List exceptions and quarantined records, oldest open first."""
    x, e, q = schema.exceptions, schema.events, schema.quarantine
    resolver = User.__table__.alias("resolver")
    actor = User.__table__.alias("actor")
    stmt = (
        select(x, e.c.type, e.c.v, e.c.payload, e.c.device_id, e.c.occurred_at, e.c.received_at,
               actor.c.display_name.label("actor_name"), q.c.raw, q.c.device_id.label("q_device"),
               resolver.c.display_name.label("resolver_name"))
        .outerjoin(e, e.c.id == x.c.event_id)
        .outerjoin(actor, actor.c.id == e.c.actor_id)
        .outerjoin(q, q.c.id == x.c.quarantine_id)
        .outerjoin(resolver, resolver.c.id == x.c.resolved_by)
        .order_by(x.c.resolved_at.is_not(None), x.c.created_at)
        .limit(limit)
    )
    if not include_resolved:
        stmt = stmt.where(x.c.resolved_at.is_(None))
    if code:
        stmt = stmt.where(x.c.code == code)
    items = []
    for r in db.session.execute(stmt).mappings():
        event = None
        if r["event_id"]:
            event = {"id": r["event_id"], "type": r["type"], "v": r["v"], "payload": r["payload"],
                     "device_id": r["device_id"], "occurred_at": r["occurred_at"], "received_at": r["received_at"],
                     "actor_name": r["actor_name"]}
        items.append(Item(r["id"], r["code"], r["subject"], r["detail"] or {}, r["created_at"], event, r["raw"],
                          r["resolved_at"], r["resolver_name"], r["resolution_note"]))
    return items


def open_count() -> int:
    """Count what is still open."""
    x = schema.exceptions
    return db.session.execute(select(func.count(x.c.id)).where(x.c.resolved_at.is_(None))).scalar() or 0


def handle_resolution(ctx: HandlerContext) -> list[RuleBroken]:
    """Close an exception with the reviewer's note; the resolution event is its record."""
    x = schema.exceptions
    found = ctx.session.execute(select(x.c.resolved_at, x.c.code).where(x.c.id == ctx.payload["exception_id"])).first()
    if found is None:
        return [RuleBroken("unknown_exception", {"exception_id": ctx.payload["exception_id"]})]
    if found.resolved_at is not None:
        return [RuleBroken("already_resolved", {"exception_id": ctx.payload["exception_id"]})]
    needs = OVERRIDES.get(found.code)
    if needs is not None and ctx.actor_role not in CAPABILITIES[needs]:
        return [RuleBroken("override_not_allowed", {"exception_id": ctx.payload["exception_id"], "flag": found.code})]
    ctx.session.execute(
        update(x).where(x.c.id == ctx.payload["exception_id"]).values(
            resolved_at=ctx.effective_at, resolved_by=ctx.actor_id, resolution_note=ctx.payload["note"],
            resolution_event_id=ctx.envelope.id)
    )
    return []


def close_for_subjects(session, code: str, closes: list[tuple[str, str, int, int, str]]) -> None:
    """Close open exceptions of one kind on subjects (e.g. recounts settle count discrepancies).

    Each close is (subject, by event, actor id, at, note).
    """
    x = schema.exceptions.c
    session.execute(
        update(schema.exceptions).where(x.subject == bindparam("_subject"), x.code == code, x.resolved_at.is_(None))
        .values(resolved_at=bindparam("_at"), resolved_by=bindparam("_by"), resolution_note=bindparam("_note"),
                resolution_event_id=bindparam("_event")),
        [{"_subject": s, "_event": e, "_by": by, "_at": at, "_note": note} for s, e, by, at, note in closes],
    )



RESOLVED = EventType(
    name=EVENT_TYPE, version=1, spec=RESOLUTION, handler=handle_resolution, roles=CAPABILITIES[Can.REVIEW],
    subject=lambda p: f"exception:{p['exception_id']}",
)

AREA = Area(
    name="review",
    kinds=(Kind(RESOLVED, _l("Closed with a note"), "review/record.html", on_device=False,
                form_errors={("note", "*"): _l("Say what was decided (at most %(max_length)s characters).")}),),
    flags=(Flag("unknown_exception", _l("Closing an unknown exception")),
           Flag("already_resolved", _l("Exception was already closed")),
           Flag("override_not_allowed", _l("Only a director may override this"))),
)
