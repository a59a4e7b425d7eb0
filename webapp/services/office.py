"""What the office pages show."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from sync import schema
from webapp.extensions import db
from webapp.models import Bin, Location, WorkOrder
from webapp.services.devices import now_ms
from webapp.services.records import events_for


@dataclass
class Summary:
    """Numbers on the dashboard."""

    bins_by_kind: dict[str, int]
    disputed: int
    open_exceptions: int
    events_today: int
    work_orders: list[WorkOrder]
    recent: list[dict]


def summary() -> Summary:
    """Count bins by kind of place, disputed bins and open exceptions; list recent records."""
    by_kind = dict(
        db.session.execute(
            select(Location.kind, func.count(Bin.id)).join(Bin, Bin.location_id == Location.id)
            .where(Bin.status == "active").group_by(Location.kind)
        ).all()
    )
    unplaced = db.session.execute(
        select(func.count(Bin.id)).where(Bin.location_id.is_(None), Bin.status == "active")
    ).scalar()
    by_kind["empty"] = unplaced or 0
    disputed = db.session.execute(select(func.count(Bin.id)).where(Bin.disputed.is_(True))).scalar()
    open_exc = db.session.execute(
        select(func.count(schema.exceptions.c.id)).where(schema.exceptions.c.resolved_at.is_(None))
    ).scalar()
    day_ago = now_ms() - 24 * 3600 * 1000
    today = db.session.execute(
        select(func.count()).select_from(schema.events).where(schema.events.c.received_at >= day_ago)
    ).scalar()
    orders = db.session.execute(select(WorkOrder).order_by(WorkOrder.due_date)).scalars().all()
    return Summary(by_kind, disputed or 0, open_exc or 0, today or 0, orders, events_for(None, limit=15))


def bin_rows(query: str = "") -> list[Bin]:
    """Return bins, filtered by code or work order, placed longest-waiting first."""
    stmt = select(Bin).where(Bin.status == "active").order_by(Bin.location_since.asc().nulls_last(), Bin.code)
    if query:
        like = f"%{query.upper()}%"
        stmt = stmt.outerjoin(WorkOrder, WorkOrder.id == Bin.work_order_id).where(
            or_(Bin.code.like(like), WorkOrder.number.like(like))
        )
    return db.session.execute(stmt.limit(500)).scalars().all()


def recent_events(bin_code: str = "") -> list[dict]:
    """Return recent synced records, for one bin when a code is given."""
    return events_for(f"bin:{bin_code}" if bin_code else None, limit=200)
