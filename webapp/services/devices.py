"""Devices: registration for a bearer token, token checks, who may act on a device."""

from __future__ import annotations

import hmac
import time
import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync import schema
from sync.tokens import hash_token, new_token
from webapp.extensions import db
from webapp.models import LoginSession, RoleSpan, User
from webapp.services.signers import role_from_spans


class DeviceRevoked(Exception):
    """The device was revoked by an admin: its token no longer works."""


def now_ms() -> int:
    """Return the server time in epoch milliseconds."""
    return int(time.time() * 1000)


def storable(text: str) -> str:
    """Return text every database keeps: without U+0000, lone surrogates replaced."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


class DeviceTaken(Exception):
    """A device id the server already knows, claimed without proof of holding the device."""


def _secret_ok(row, secret: str | None, token: str | None) -> bool:
    """Say whether the caller proved it holds the device: its secret, or a token the server gave it."""
    if secret and row["secret_hash"] and hmac.compare_digest(hash_token(secret), row["secret_hash"]):
        return True
    return bool(token and row["token_hash"] and hmac.compare_digest(hash_token(token), row["token_hash"]))


def register_device(user: User, device_id: str | None, label: str, user_agent: str, hours: int, *,
                    secret: str | None = None, token: str | None = None, session_id: str | None = None) -> dict:
    """Register (or re-register after a shift change) a device for `user`; return its new token.

    A new id is registered for whoever asks, with the secret the device made. An id the server
    knows is re-registered only with proof that the caller holds that device: its secret, or a
    token the server gave it. A device registered before devices had secrets may be claimed only
    by a person who already signed in on it, and takes the secret then. Ids of devices the server
    made (no-JavaScript "web" devices, imported exports) are never accepted from a client.
    """
    device_id = str(uuid.UUID(device_id)) if device_id else str(uuid.uuid4())
    if secret is not None and not (20 <= len(secret) <= 200 and secret.isascii()):
        raise ValueError("device_secret")
    new, now = new_token(), now_ms()
    expires = now + hours * 3600 * 1000
    d, du = schema.devices, schema.device_users
    stmt = select(d).where(d.c.id == device_id)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = db.session.execute(stmt).mappings().first()
    linked = db.session.execute(
        select(du.c.user_id).where(du.c.device_id == device_id, du.c.user_id == user.id)
    ).first() is not None
    values = {"user_id": user.id, "label": storable(label)[:120], "token_hash": hash_token(new),
              "token_expires_at": expires, "last_seen_at": now, "user_agent": storable(user_agent)[:300],
              "session_id": session_id}
    if row is None:
        try:
            db.session.execute(insert(d).values(id=device_id, registered_at=now, acked_through_seq=0, kind="device",
                                                secret_hash=hash_token(secret) if secret else None, **values))
        except IntegrityError:  # the same new id registered a moment ago by another request
            db.session.rollback()
            raise DeviceTaken(device_id) from None
    else:
        if row["kind"] != "device":
            raise DeviceTaken(device_id)
        if row["revoked_at"] is not None:
            raise DeviceRevoked(device_id)
        if row["secret_hash"] is None and not (linked or _secret_ok(row, None, token)):
            raise DeviceTaken(device_id)
        if row["secret_hash"] is not None and not _secret_ok(row, secret, token):
            raise DeviceTaken(device_id)
        if row["secret_hash"] is None and secret:
            values["secret_hash"] = hash_token(secret)
        db.session.execute(update(d).where(d.c.id == device_id).values(**values))
    if not linked:
        db.session.execute(insert(du).values(device_id=device_id, user_id=user.id, first_seen_at=now))
    db.session.commit()
    return {
        "device_id": device_id,
        "token": new,
        "expires_at": expires,
        "user": {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role},
    }


def device_for_token(token: str) -> tuple[dict, User] | None:
    """Return the device and its user for a valid bearer token; None if unknown or expired."""
    d = schema.devices
    row = db.session.execute(select(d).where(d.c.token_hash == hash_token(token))).mappings().first()
    if row is None:
        return None
    if row["revoked_at"] is not None:  # before expiry: a revoked device hears so, and offers an export
        raise DeviceRevoked(row["id"])
    if (row["token_expires_at"] or 0) <= now_ms():
        return None
    user = db.session.get(User, row["user_id"])
    if user is None or not user.active:
        return None
    return dict(row), user


def device_of_user(device_id: str, user: User) -> dict | None:
    """Return a device the user has signed on, for session-authenticated pushes."""
    d, du = schema.devices, schema.device_users
    row = db.session.execute(
        select(d).join(du, du.c.device_id == d.c.id)
        .where(d.c.id == device_id, du.c.user_id == user.id, d.c.kind == "device")
    ).mappings().first()
    return dict(row) if row else None


def actor_roles(device_id: str):
    """Return a lookup (actor id, time) -> the role the actor held then, for people who signed in on this device.

    Anyone else gets None: an event's actor is a claim, accepted only for a person the device
    proved at registration (a sign-in with their password on that device).
    """
    du = schema.device_users
    rows = db.session.execute(
        select(RoleSpan.user_id, RoleSpan.role, RoleSpan.valid_from, RoleSpan.valid_to)
        .join(du, du.c.user_id == RoleSpan.user_id).join(User, User.id == RoleSpan.user_id)
        .where(du.c.device_id == device_id, User.active.is_(True))
    ).all()
    spans: dict[int, list] = {}
    for r in rows:
        spans.setdefault(r.user_id, []).append(r)

    def role(actor_id: int, at_ms: int) -> str | None:
        found = spans.get(actor_id)
        return role_from_spans(found, at_ms) if found else None

    return role


def ensure_web_device(user: User) -> str:
    """Return this user's server-side device, used when a form is posted without JavaScript.

    Its id is random (a client can never name it) and the server never accepts it from a client.
    """
    d, du, now = schema.devices, schema.device_users, now_ms()
    found = db.session.execute(
        select(d.c.id).where(d.c.user_id == user.id, d.c.kind == "web").order_by(d.c.registered_at).limit(1)
    ).scalar()
    if found is not None:
        return found
    device_id = str(uuid.uuid4())
    db.session.execute(insert(d).values(id=device_id, user_id=user.id, label="web", kind="web",
                                        registered_at=now, acked_through_seq=0))
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
    """Revoke a device for good: its token stops working, and so does the sign-in session on it."""
    d = schema.devices
    now = now_ms()
    session_id = db.session.execute(select(d.c.session_id).where(d.c.id == device_id)).scalar()
    done = db.session.execute(
        update(d).where(d.c.id == device_id, d.c.revoked_at.is_(None)).values(
            revoked_at=now, revoked_by=by.id)  # the token is kept to answer 403, not 401
    )
    if done.rowcount == 1 and session_id:
        # The browser that registered it must not simply register a new device and go on.
        db.session.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
                           .values(ended_at=now, ended_reason="device_revoked"))
    db.session.commit()
    return done.rowcount == 1
