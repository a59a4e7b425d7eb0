"""Sign-in sessions kept on the server, so signing out and revoking a device end them for real.

The session cookie is signed, not secret-free storage: a copy of it would work until it
expires. So each sign-in gets a row here, the cookie carries its random id, and every request
checks the row is still open. Signing out ends the row and the tokens of the devices this
session registered; revoking a device ends the session that registered it.
"""

from __future__ import annotations

import secrets
import time

from flask import request, session
from sqlalchemy import select, update

from sync import schema
from webapp.extensions import db
from webapp.models import LoginSession, User

KEY = "sid"


def now_ms() -> int:
    """Return the server time in epoch milliseconds."""
    return int(time.time() * 1000)


def begin(user: User) -> str:
    """Open a session for a person who just signed in; the cookie carries its id."""
    sid = secrets.token_urlsafe(32)
    db.session.add(LoginSession(id=sid, user_id=user.id, created_at=now_ms(),
                                address=(request.remote_addr or "")[:64],
                                user_agent=(request.user_agent.string or "")[:300]))
    db.session.commit()
    session[KEY] = sid
    return sid


def current_id() -> str | None:
    """Return the id of this request's sign-in session, if any."""
    sid = session.get(KEY)
    return sid if isinstance(sid, str) else None


def live_user(user_id: str) -> User | None:
    """Return the signed-in person of this request's cookie when their session is still open (flask-login's loader)."""
    sid = current_id()
    if sid is None or not user_id.isdigit():
        return None
    # One query on every request: the person, through their open session.
    return db.session.execute(
        select(User).join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.id == sid, LoginSession.ended_at.is_(None), User.id == int(user_id),
               User.active.is_(True))
    ).scalar_one_or_none()


def end_current(reason: str = "signed_out") -> None:
    """End this request's session and the tokens of the devices it registered."""
    sid = current_id()
    if sid is None:
        return
    now = now_ms()
    db.session.execute(update(LoginSession).where(LoginSession.id == sid, LoginSession.ended_at.is_(None))
                       .values(ended_at=now, ended_reason=reason))
    d = schema.devices
    # The device keeps its outbox; the next person to sign in on it gets a new token.
    db.session.execute(update(d).where(d.c.session_id == sid, d.c.revoked_at.is_(None))
                       .values(token_expires_at=now))
    db.session.commit()
