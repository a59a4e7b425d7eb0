"""People as the admin sees them: their staff badge, their PIN, their staff card."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Plant, StaffBadge, User
from webapp.names import role_name
from webapp.services import signers

REVOKE_REASONS = ("lost", "left", "other")


def person(user_id: int) -> User | None:
    """Return a person by id."""
    return db.session.get(User, user_id)


def listing() -> list[dict]:
    """List every person with their badge in use (or the last one revoked) and whether their PIN is set."""
    badges: dict[int, StaffBadge] = {}
    for badge in db.session.execute(select(StaffBadge).order_by(StaffBadge.issued_at)).scalars():
        if badge.revoked_at is None or badge.user_id not in badges or badges[badge.user_id].revoked_at is not None:
            badges[badge.user_id] = badge
    users = db.session.execute(select(User).order_by(User.active.desc(), User.role, User.username)).scalars()
    return [{"user": u, "badge": badges.get(u.id), "has_pin": bool(u.pin_key),
             "pin_locked": bool(u.pin_locked_until and u.pin_locked_until > signers.now_ms())} for u in users]


def card_pdf(user_id: int) -> tuple[str, bytes] | None:
    """Return (file name, PDF) of a person's staff card for their badge in use, or None."""
    from webapp.printing.badges import card_pdf

    user = person(user_id)
    badge = signers.current_badge(user_id) if user is not None else None
    if badge is None:
        return None
    plant = db.session.execute(select(Plant).order_by(Plant.id).limit(1)).scalar()
    plant_name = (f"{plant.name_zh} {plant.name_en}" if plant else current_app.config.get("PLANT_NAME")) or "Shopfloor"
    data = card_pdf(user.display_name, str(role_name(user.role)), badge.code, signers.badge_text(badge), plant_name)
    return f"badge-{user.username}-{badge.code}.pdf", data
