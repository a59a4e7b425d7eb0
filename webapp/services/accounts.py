"""People: sign-in checks, language choice, the demo user list."""

from __future__ import annotations

from sqlalchemy import select

from webapp.domain.roles import Role
from webapp.extensions import db
from webapp.models import Setting, User

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
