"""Devices: registration for a bearer token, token checks, who may act on a device."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import func, insert, select, update

from sync import schema
from sync.tokens import hash_token, new_token
from webapp.extensions import db
from webapp.models import User


class DeviceRevoked(Exception):
    """The device was revoked by an admin: its token no longer works."""


def now_ms() -> int:
    """Return the server time in epoch milliseconds."""
    return int(time.time() * 1000)


def register_device(user: User, device_id: str | None, label: str, user_agent: str, hours: int) -> dict:
    """Register (or re-register after a shift change) a device for `user`; return its new token."""
    device_id = str(uuid.UUID(device_id)) if device_id else str(uuid.uuid4())
    token, now = new_token(), now_ms()
    expires = now + hours * 3600 * 1000
    d = schema.devices
    row = db.session.execute(select(d).where(d.c.id == device_id)).mappings().first()
    if row is not None and row["revoked_at"] is not None:
        raise DeviceRevoked(device_id)
    values = {"user_id": user.id, "label": label[:120], "token_hash": hash_token(token), "token_expires_at": expires,
              "last_seen_at": now, "user_agent": user_agent[:300]}
    if row is None:
        db.session.execute(insert(d).values(id=device_id, registered_at=now, acked_through_seq=0, **values))
    else:
        db.session.execute(update(d).where(d.c.id == device_id).values(**values))
    du = schema.device_users
    linked = db.session.execute(
        select(du.c.user_id).where(du.c.device_id == device_id, du.c.user_id == user.id)
    ).first()
    if linked is None:
        db.session.execute(insert(du).values(device_id=device_id, user_id=user.id, first_seen_at=now))
    db.session.commit()
    return {
        "device_id": device_id,
        "token": token,
        "expires_at": expires,
        "user": {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role},
    }


def device_for_token(token: str) -> tuple[dict, User] | None:
    """Return the device and its user for a valid bearer token; None if unknown or expired."""
    d = schema.devices
    row = db.session.execute(select(d).where(d.c.token_hash == hash_token(token))).mappings().first()
    if row is None or (row["token_expires_at"] or 0) < now_ms():
        return None
    if row["revoked_at"] is not None:
        raise DeviceRevoked(row["id"])
    user = db.session.get(User, row["user_id"])
    if user is None or not user.active:
        return None
    return dict(row), user


def device_of_user(device_id: str, user: User) -> dict | None:
    """Return a device the user has signed on, for session-authenticated pushes."""
    d, du = schema.devices, schema.device_users
    row = db.session.execute(
        select(d).join(du, du.c.device_id == d.c.id).where(d.c.id == device_id, du.c.user_id == user.id)
    ).mappings().first()
    return dict(row) if row else None


def actor_roles(device_id: str):
    """Return a lookup from actor id to role, for users who signed on this device."""
    du = schema.device_users
    rows = db.session.execute(
        select(User.id, User.role).join(du, du.c.user_id == User.id).where(du.c.device_id == device_id)
    ).all()
    roles = {r.id: r.role for r in rows}
    return roles.get


def ensure_web_device(user: User) -> str:
    """Return this user's server-side device, used when a form is posted without JavaScript."""
    device_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"shopfloor:web:{user.id}"))
    d, du, now = schema.devices, schema.device_users, now_ms()
    if db.session.execute(select(d.c.id).where(d.c.id == device_id)).first() is None:
        db.session.execute(insert(d).values(id=device_id, user_id=user.id, label="web", registered_at=now,
                                            acked_through_seq=0))
        db.session.execute(insert(du).values(device_id=device_id, user_id=user.id, first_seen_at=now))
    return device_id


def listing() -> list[dict]:
    """List devices for the admin: user, label, last sync, acknowledged and received seqs, revoked."""
    d, e = schema.devices, schema.events
    top = select(e.c.device_id, func.max(e.c.seq).label("top_seq"), func.count().label("events")) \
        .group_by(e.c.device_id).subquery()
    rows = db.session.execute(
        select(d, User.username, User.display_name, top.c.top_seq, top.c.events)
        .outerjoin(User, User.id == d.c.user_id)
        .outerjoin(top, top.c.device_id == d.c.id)
        .order_by(d.c.revoked_at.is_not(None), d.c.last_seen_at.desc().nulls_last())
    ).mappings().all()
    out = []
    for r in rows:
        row = dict(r)
        # What the device reported holding at its last push, else the gaps the server knows of.
        row["pending"] = r["pending_count"] if r["pending_count"] is not None else \
            max(0, (r["top_seq"] or 0) - (r["acked_through_seq"] or 0))
        out.append(row)
    return out


def revoke(device_id: str, by: User) -> bool:
    """Revoke a device's token for good; return False when there was nothing to revoke."""
    d = schema.devices
    done = db.session.execute(
        update(d).where(d.c.id == device_id, d.c.revoked_at.is_(None)).values(
            revoked_at=now_ms(), revoked_by=by.id)  # the token is kept to answer 403, not 401
    )
    db.session.commit()
    return done.rowcount == 1
