"""The event log as people read it: stored records with who, which device, when, and their flags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sync import schema
from sync.flags import flags_of
from webapp.extensions import db
from webapp.models import User


def events_for(subject: str | None, limit: int = 200) -> list[dict[str, Any]]:
    """Return stored events, newest first, with who, which device, device and server time, and flags."""
    e, d = schema.events, schema.devices
    stmt = (
        select(e, d.c.label.label("device_label"), User.username, User.display_name)
        .join(d, d.c.id == e.c.device_id)
        .join(User, User.id == e.c.actor_id, isouter=True)
        .order_by(e.c.received_at.desc(), e.c.seq.desc())
        .limit(limit)
    )
    if subject:
        stmt = stmt.where(e.c.subject == subject)
    rows = db.session.execute(stmt).mappings().all()
    flags = flags_of(db.session, [row["id"] for row in rows])
    return [{
        "id": row["id"], "type": row["type"], "v": row["v"], "payload": row["payload"],
        "device_id": row["device_id"], "device_label": row["device_label"], "seq": row["seq"],
        "actor_id": row["actor_id"], "actor": row["username"], "actor_name": row["display_name"],
        "occurred_at": row["occurred_at"], "received_at": row["received_at"],
        "effective_at": row["effective_at"], "exceptions": flags.get(row["id"], []),
    } for row in rows]
