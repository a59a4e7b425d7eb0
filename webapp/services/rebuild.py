"""Derive floor state again from the event log, in log order (effective time, device, seq)."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from sync import schema
from sync.envelope import Envelope
from sync.registry import HandlerContext
from webapp.areas import registry
from webapp.extensions import db
from webapp.models import Bin, Count, User
from webapp.services import counting


def rebuild_counts() -> int:
    """Throw away every count and the bins' count state, replay every stored count; return how many."""
    db.session.execute(delete(Count))
    db.session.execute(update(Bin).values(disputed=False, last_counted_at=None))
    e = schema.events
    rows = db.session.execute(
        select(e).where(e.c.type == counting.EVENT_TYPE).order_by(e.c.effective_at, e.c.device_id, e.c.seq)
    ).mappings().all()
    event_type = registry.get(counting.EVENT_TYPE)
    roles = dict(db.session.execute(select(User.id, User.role)).all())
    for row in rows:
        env = Envelope(id=row["id"], device_id=row["device_id"], seq=row["seq"], type=row["type"], v=row["v"],
                       occurred_at=row["occurred_at"], actor_id=row["actor_id"], payload=row["payload"],
                       attachments=tuple(row["attachments"]))
        payload = event_type.validate(event_type.upgrade(env.v, env.payload))
        event_type.handler(HandlerContext(db.session, env, payload, row["effective_at"], row["received_at"],
                                          roles.get(row["actor_id"], ""), row["actor_id"]))
    db.session.commit()
    return len(rows)
