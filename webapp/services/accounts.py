"""People: sign-in checks, language choice, the demo user list."""

from __future__ import annotations

import time

from sqlalchemy import event, insert, inspect, select, update

from webapp.domain.roles import Role
from webapp.extensions import db
from webapp.models import RoleSpan, Setting, User

# Checking a password against this hash when the user does not exist takes as long
# as a real check, so response time does not tell which usernames exist.
_DUMMY = User(password_hash="scrypt:32768:8:1$AAAAAAAAAAAAAAAA$" + "0" * 128)


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = db.session.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()
    if user is None or not user.active:
        _DUMMY.check_password(password)
        return None
    return user if user.check_password(password) else None


def set_locale(user: User, locale: str) -> None:
    """Remember a person's language across devices."""
    user.locale = locale
    db.session.commit()


def demo_mode() -> bool:
    """Say whether this database holds the demo plant (its sign-in page lists the demo users)."""
    return db.session.execute(
        select(Setting.value).where(Setting.key == "demo_mode")
    ).scalar_one_or_none() == "1"


def demo_users() -> list[User]:
    """List the demo users (one per role), shown on the sign-in page in demo mode."""
    order = {role.value: i for i, role in enumerate(Role)}
    users = db.session.execute(
        select(User).where(User.username.in_([r.value for r in Role]))
    ).scalars().all()
    return sorted(users, key=lambda u: order.get(u.role, 99))


def _role_started(_mapper, connection, user: User) -> None:
    connection.execute(insert(RoleSpan.__table__).values(user_id=user.id, role=user.role,
                                                         valid_from=int(time.time() * 1000)))


def _role_changed(_mapper, connection, user: User) -> None:
    if not inspect(user).attrs.role.history.has_changes():
        return
    now = int(time.time() * 1000)
    spans = RoleSpan.__table__
    connection.execute(update(spans).where(spans.c.user_id == user.id, spans.c.valid_to.is_(None))
                       .values(valid_to=now))
    connection.execute(insert(spans).values(user_id=user.id, role=user.role, valid_from=now))


def install_role_history() -> None:
    """Keep each person's roles over time, whatever code changes them (records are judged by the role of their time)."""
    if not event.contains(User, "after_insert", _role_started):
        event.listen(User, "after_insert", _role_started)
        event.listen(User, "after_update", _role_changed)
