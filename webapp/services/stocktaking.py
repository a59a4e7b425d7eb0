"""Stocktakes (盘点, seed 002 §1.5): started on an area, counted bin by bin, closed, approved by the statistician.

Event types (v1), each naming its stocktake (`stocktake_id`, made by the device or the page) and
with the stocktake as subject (`stocktake:<id>`):

- `stocktake.started` {stocktake_id, location}: a `stocktakes` row whose `expected` is the bins
  the server has at that location (code, book quantity) when it handles the event;
- `stocktake.closed` {stocktake_id}: the report is frozen (a second close changes nothing);
- `stocktake.approved` {stocktake_id, adjustments: [{bin_code, quantity}], note}: the statistician
  sets each bin's book quantity; the event is the record of who, when and why.

The counts are `bin.counted` with the optional `stocktake_id` (webapp/services/counting.py calls
`link_counts`): a count naming an open stocktake belongs to it (`counts.stocktake_id`); one naming
a closed or unknown stocktake is stored like any count, flagged, and stays out of the report, so
the report of a closed stocktake never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update

from sync import schema
from sync.flags import flags_of
from sync.registry import EventType, HandlerContext, PayloadInvalid, RuleBroken
from sync.spec import PayloadSpec, Shape, Text
from webapp.domain import stocktaking as rules
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY
from webapp.domain.roles import CAPABILITIES, Can
from webapp.events import Area, Flag, Kind
from webapp.extensions import db
from webapp.models import Bin, Count, Location, Stocktake, User
from webapp.models.types import from_ms, to_ms
from webapp.services import review
from webapp.services.bins import bins_by_code

STARTED, CLOSED, APPROVED = "stocktake.started", "stocktake.closed", "stocktake.approved"
COUNTED = "bin.counted"  # counting's type: its counts name a stocktake (counting imports this module)
MAX_CODE = 40
STATUS_NAMES = {
    "open": _l("Counting"),
    "closed": _l("Closed: waiting for approval"),
    "approved": _l("Approved"),
}

STOCKTAKE_ID = Text("stocktake_id", required=True, max_length=36, pattern=rules.UUID_PATTERN,
                    description="the stocktake, made by the device (a UUID)")
ADJUSTMENTS_SCHEMA = {
    "type": "array", "maxItems": rules.MAX_ADJUSTMENTS,
    "items": {"type": "object", "additionalProperties": False, "required": ["bin_code", "quantity"],
              "properties": {"bin_code": {"type": "string", "minLength": 1, "maxLength": MAX_CODE},
                             "quantity": {"type": "integer", "minimum": 0, "maximum": MAX_QUANTITY}}},
}

START = PayloadSpec((
    STOCKTAKE_ID,
    Text("location", required=True, max_length=MAX_CODE, description="the area counted: a location code"),
), description="A stocktake of an area starts: the server notes the bins it has there (code, quantity).")
CLOSE = PayloadSpec((STOCKTAKE_ID,), description="The stocktake ends: its report is frozen.")
APPROVE = PayloadSpec((
    STOCKTAKE_ID,
    Shape("adjustments", required=True, checker=lambda value: rules.clean_adjustments(value, MAX_QUANTITY),
          json=ADJUSTMENTS_SCHEMA, description="each bin's new book quantity (each bin once; may be empty)"),
    Text("note", required=True, max_length=MAX_NOTE, description="why: what was decided and on what evidence"),
), description="The statistician approves a closed stocktake's adjustments.")


def check_start(clean: dict[str, Any]) -> dict[str, Any]:
    """The area must be a location the plant has."""
    known = db.session.execute(select(Location.id).where(Location.code == clean["location"])).first()
    if known is None:
        raise PayloadInvalid("location", "is not a known location", "unknown")
    return clean


def subject(payload: dict[str, Any]) -> str:
    """Return the subject of a stocktake's events: the stocktake."""
    return f"stocktake:{payload['stocktake_id'].lower()}"


_STOCKTAKES = Stocktake.__table__


def _find(session, stocktake_id: str, lock: bool = False):
    """Return a stocktake's row by its device id (locked on PostgreSQL when it is about to change), or None.

    A UUID is one id in either case: kept and looked up in lower case.
    """
    s = _STOCKTAKES.c
    stmt = select(s.id, s.status, s.closed_at, s.location_id).where(s.stocktake_uuid == stocktake_id.lower())
    return session.execute(stmt.with_for_update() if lock else stmt).first()


# --- Handling ----------------------------------------------------------------------------------


def handle_started(ctx: HandlerContext) -> list[RuleBroken]:
    """Open the stocktake with the bins the server has at the area now (code, book quantity)."""
    p, session = ctx.payload, ctx.session
    if _find(session, p["stocktake_id"]) is not None:
        return [RuleBroken("duplicate_stocktake", {"stocktake_id": p["stocktake_id"]})]
    location_id = session.execute(select(Location.id).where(Location.code == p["location"])).scalar_one()
    b = Bin.__table__.c
    held = session.execute(select(b.code, b.quantity).where(b.location_id == location_id, b.status != "retired")
                           .order_by(b.code)).all()
    session.execute(insert(_STOCKTAKES).values(
        stocktake_uuid=p["stocktake_id"].lower(), location_id=location_id, started_by=ctx.actor_id,
        started_at=from_ms(ctx.effective_at), status="open",
        expected=[{"code": row.code, "quantity": row.quantity} for row in held]))
    return []


def handle_closed(ctx: HandlerContext) -> list[RuleBroken]:
    """Close an open stocktake: from now on counts naming it stay out of its report."""
    found = _find(ctx.session, ctx.payload["stocktake_id"], lock=True)
    if found is None:
        return [RuleBroken("unknown_stocktake", {"stocktake_id": ctx.payload["stocktake_id"]})]
    if rules.may_close(found.status):  # closed already (two people pressed it): nothing changes
        ctx.session.execute(update(_STOCKTAKES).where(_STOCKTAKES.c.id == found.id).values(
            status="closed", closed_at=from_ms(ctx.effective_at)))
    return []


def handle_approved(ctx: HandlerContext) -> list[RuleBroken]:
    """Set each adjusted bin's book quantity, settle its open count dispute, and mark the stocktake approved.

    The approval is a decision on the bins' quantities with a note, so a bin disputed by two
    counts that disagreed is no longer disputed and its `count_discrepancy` flags are closed
    with that note.
    """
    p, session = ctx.payload, ctx.session
    found = _find(session, p["stocktake_id"], lock=True)
    if found is None:
        return [RuleBroken("unknown_stocktake", {"stocktake_id": p["stocktake_id"]})]
    if not rules.may_approve(found.status):
        return [RuleBroken("approval_not_applied", {"stocktake_id": p["stocktake_id"], "status": found.status})]
    flags: list[RuleBroken] = []
    wanted = {a["bin_code"]: a["quantity"] for a in p["adjustments"]}
    b = Bin.__table__.c
    bins = bins_by_code(session, set(wanted), b.version)
    unknown = sorted(set(wanted) - bins.keys())
    if unknown:
        flags.append(RuleBroken("unknown_bin", {"bin_code": ", ".join(unknown)}))
    for code, row in bins.items():
        session.execute(update(Bin.__table__).where(b.id == row.id).values(
            quantity=wanted[code], disputed=False, version=b.version + 1))
    settled = {row.code for row in bins.values()} | set(bins)
    review.close_for_subjects(session, "count_discrepancy", [
        (f"bin:{code}", ctx.envelope.id, ctx.actor_id, ctx.effective_at, p["note"]) for code in sorted(settled)])
    session.execute(update(_STOCKTAKES).where(_STOCKTAKES.c.id == found.id).values(
        status="approved", approved_by=ctx.actor_id, approved_at=from_ms(ctx.effective_at)))
    return flags


def link_counts(session, ctxs: list[HandlerContext]) -> tuple[list[int | None], list[list[RuleBroken]]]:
    """Say for each count of a run which stocktake it belongs to (its row id, or None) and what it broke.

    A count belongs to the stocktake it names if it reached the server before the stocktake was
    closed (`rules.belongs`). One that came after the close, or names a stocktake the server does
    not have, is stored like any count, flagged, and belongs to none, so a closed stocktake's
    report stays as it was.
    """
    named = {ctx.payload["stocktake_id"].lower() for ctx in ctxs if ctx.payload.get("stocktake_id")}
    links: list[int | None] = [None] * len(ctxs)
    flags: list[list[RuleBroken]] = [[] for _ in ctxs]
    if not named:
        return links, flags
    s = _STOCKTAKES.c
    # FOR SHARE (PostgreSQL): a close waits for the counts being stored, counts never wait for each other.
    rows = {r.stocktake_uuid: r for r in session.execute(
        select(s.id, s.stocktake_uuid, s.status, s.closed_at).where(s.stocktake_uuid.in_(named))
        .with_for_update(read=True))}
    closed_by = _closes(session, [u for u, r in rows.items() if r.status != "open"])
    for i, ctx in enumerate(ctxs):
        stocktake_id = (ctx.payload.get("stocktake_id") or "").lower()
        if not stocktake_id:
            continue
        row = rows.get(stocktake_id)
        if row is None:
            flags[i] = [RuleBroken("unknown_stocktake", {"stocktake_id": stocktake_id,
                                                         "bin_code": ctx.payload["bin_code"]})]
        elif rules.belongs(row.status, (ctx.received_at, ctx.envelope.device_id, ctx.envelope.seq),
                           closed_by.get(stocktake_id)):
            links[i] = row.id
        else:
            closed_at = to_ms(row.closed_at) if row.closed_at else None
            flags[i] = [RuleBroken("stocktake_closed", {
                "stocktake_id": stocktake_id, "bin_code": ctx.payload["bin_code"],
                "quantity": ctx.payload["quantity"], "status": row.status, "closed_at": closed_at,
                "counted_before_close": closed_at is not None and ctx.effective_at <= closed_at})]
    return links, flags


def _closes(session, stocktake_ids: list[str]) -> dict[str, rules.Arrival]:
    """Return when each stocktake's first close reached the server (received at, device, seq)."""
    if not stocktake_ids:
        return {}
    e = schema.events.c
    rows = session.execute(select(e.subject, e.received_at, e.device_id, e.seq).where(
        e.type == CLOSED, e.subject.in_([f"stocktake:{u}" for u in stocktake_ids])))
    found: dict[str, rules.Arrival] = {}
    for r in rows:
        key, arrival = r.subject.removeprefix("stocktake:"), (r.received_at, r.device_id, r.seq)
        if key not in found or arrival < found[key]:
            found[key] = arrival
    return found


# --- What pages show ----------------------------------------------------------------------------


@dataclass
class StocktakeView:
    """A stocktake as its pages show it: the area, who and when, the expected bins, the counts, the report."""

    stocktake_id: str
    status: str
    location: Location | None
    started_by: str
    started_at: datetime
    closed_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    expected: list[dict[str, Any]]
    counted: dict[str, int]  # each bin's last count in log order (current codes)
    report: rules.Variance
    progress: rules.Progress
    approval: dict[str, Any] | None  # the approval event's payload (adjustments, note)
    late: list[dict[str, Any]]  # counts that named it after it was closed: kept, flagged, not in the report

    @property
    def expected_codes(self) -> set[str]:
        """The codes of the bins expected."""
        return {e["code"] for e in self.expected}

    @property
    def proposed(self) -> dict[str, int]:
        """The adjustments offered for approval, by bin."""
        return dict(rules.proposed_adjustments(self.report))


def _name(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    person = db.session.get(User, user_id)
    return person.display_name if person else "—"


def counted_in(session, row_id: int) -> list[tuple[str, int, rules.Order]]:
    """Return a stocktake's counts as (current bin code, quantity, log order)."""
    c, b = Count.__table__.c, Bin.__table__.c
    rows = session.execute(select(c.bin_code, b.code.label("current"), c.quantity, c.counted_at, c.device_id, c.seq)
                           .outerjoin(Bin.__table__, b.id == c.bin_id).where(c.stocktake_id == row_id))
    return [(r.current or r.bin_code, r.quantity, (to_ms(r.counted_at), r.device_id, r.seq)) for r in rows]


def stocktake_view(stocktake_id: str) -> StocktakeView | None:
    """Load a stocktake by its device id with its counts and report, or None."""
    stocktake_id = stocktake_id.lower()
    row = db.session.execute(select(Stocktake).where(Stocktake.stocktake_uuid == stocktake_id)).scalar_one_or_none()
    if row is None:
        return None
    expected = list(row.expected or [])
    counts = counted_in(db.session, row.id)
    report = rules.variance([(e["code"], e["quantity"]) for e in expected], counts)
    counted = rules.last_counts(counts)
    return StocktakeView(
        stocktake_id=stocktake_id, status=row.status or "open", location=row.location,
        started_by=_name(row.started_by) or "—", started_at=row.started_at, closed_at=row.closed_at,
        approved_by=_name(row.approved_by), approved_at=row.approved_at, expected=expected, counted=counted,
        report=report, progress=rules.progress([e["code"] for e in expected], counted),
        approval=_approval(stocktake_id) if row.status == "approved" else None, late=_late_counts(stocktake_id))


def _approval(stocktake_id: str) -> dict[str, Any] | None:
    """Return the payload of the approval that was applied (the one not flagged as not applied)."""
    e = schema.events.c
    rows = db.session.execute(select(e.id, e.payload).where(e.subject == f"stocktake:{stocktake_id}",
                                                             e.type == APPROVED).order_by(e.effective_at)).all()
    refused = flags_of(db.session, [r.id for r in rows], ("approval_not_applied", "unknown_stocktake"))
    return next((r.payload for r in rows if r.id not in refused), None)


def _late_counts(stocktake_id: str) -> list[dict[str, Any]]:
    """Return the counts that named the stocktake after it was closed (from their flags), oldest first."""
    x = schema.exceptions.c
    rows = db.session.execute(select(x.event_id, x.detail, x.resolved_at).where(
        x.code == "stocktake_closed", x.withdrawn.is_(False)).order_by(x.id)).all()
    return [{"event_id": r.event_id, "resolved": r.resolved_at is not None, **r.detail} for r in rows
            if isinstance(r.detail, dict) and r.detail.get("stocktake_id") == stocktake_id]


def stocktakes(status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """List stocktakes, newest first (of one status when given), with their area and progress."""
    stmt = select(Stocktake).where(Stocktake.stocktake_uuid.is_not(None)).order_by(Stocktake.started_at.desc())
    if status:
        stmt = stmt.where(Stocktake.status == status)
    rows = db.session.execute(stmt.limit(limit)).scalars().all()
    found = []
    for row in rows:
        codes = [e["code"] for e in row.expected or []]
        counted = rules.last_counts(counted_in(db.session, row.id))
        found.append({"stocktake_id": row.stocktake_uuid, "status": row.status, "location": row.location,
                      "started_by": _name(row.started_by), "started_at": row.started_at,
                      "closed_at": row.closed_at, "approved_at": row.approved_at,
                      "progress": rules.progress(codes, counted)})
    return found


def areas_to_count() -> list[tuple[str, list[tuple[Location, int]]]]:
    """Return the places a stocktake can count, grouped by kind, each with how many bins the server has there."""
    b = Bin.__table__.c
    held = dict(db.session.execute(select(b.location_id, func.count()).where(b.status != "retired")
                                   .group_by(b.location_id)).all())
    places = db.session.execute(select(Location).order_by(Location.code)).scalars().all()
    return [(kind, [(p, held.get(p.id, 0)) for p in places if p.kind == kind]) for kind in Location.KINDS
            if any(p.kind == kind for p in places)]


def exists(stocktake_id: str) -> bool:
    """Say whether the server has this stocktake."""
    return _find(db.session, stocktake_id) is not None


# --- Event types --------------------------------------------------------------------------------

STARTED_TYPE = EventType(name=STARTED, version=1, spec=START, check=check_start, handler=handle_started,
                         roles=CAPABILITIES[Can.STOCKTAKE], subject=subject)
CLOSED_TYPE = EventType(name=CLOSED, version=1, spec=CLOSE, handler=handle_closed,
                        roles=CAPABILITIES[Can.STOCKTAKE], subject=subject)
APPROVED_TYPE = EventType(name=APPROVED, version=1, spec=APPROVE, handler=handle_approved,
                          roles=CAPABILITIES[Can.REVIEW], subject=subject)
ROLES = {t.name: t.roles for t in (STARTED_TYPE, CLOSED_TYPE, APPROVED_TYPE)}

AREA = Area(
    name="stocktaking",
    kinds=(
        Kind(STARTED_TYPE, _l("Stocktake started"), "stocktaking/record.html", on_device=False, form_errors={
            ("location", "*"): _l("Choose the area to count."),
            ("stocktake_id", "*"): _l("The page is out of date. Open it again."),
        }),
        Kind(CLOSED_TYPE, _l("Stocktake closed"), "stocktaking/record.html", form_errors={
            ("stocktake_id", "*"): _l("The page is out of date. Open it again."),
        }),
        Kind(APPROVED_TYPE, _l("Stocktake approved"), "stocktaking/record.html", on_device=False, form_errors={
            ("note", "*"): _l("Say why (at most %(max_length)s characters)."),
            ("adjustments", "*"): _l("Check the adjustments: each bin once, pieces from 0 to 1,000,000."),
            ("stocktake_id", "*"): _l("The page is out of date. Open it again."),
        }),
    ),
    flags=(
        Flag("unknown_stocktake", _l("Stocktake the server does not have")),
        Flag("stocktake_closed", _l("Count for a stocktake already closed"), "stocktaking/flags/stocktake_closed.html"),
        Flag("duplicate_stocktake", _l("Stocktake started twice with one id")),
        Flag("approval_not_applied", _l("Approval of a stocktake that is not closed"),
             "stocktaking/flags/approval_not_applied.html"),
    ),
)
