"""Staff badges, PINs, and checking the proof of a person who signed on someone else's device.

The scheme is in `webapp/domain/signing.py` and the README ("Signing for someone else").
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from webapp.domain import signing
from webapp.extensions import db
from webapp.models import RoleSpan, StaffBadge, User

BADGE_CODE = re.compile(r"[A-Z2-7]{8}")
MAX_INT32 = 2**31 - 1
MAX_PIN_FAILURES = 5  # wrong PINs in a row before the PIN locks
PIN_LOCK_MS = 15 * 60 * 1000
# A badge made a moment after a record was signed offline still covers it when clocks differ a little.
CLOCK_SLACK_MS = 2 * 60 * 1000


def now_ms() -> int:
    """Return the server time in epoch milliseconds."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Verdict:
    """Whether a signature's proof holds, and if not, why (a code the office and the device translate)."""

    ok: bool
    reason: str | None
    signer: User | None = None
    attempts_left: int | None = None
    locked_until: int | None = None


class PinLocked(Exception):
    """Too many wrong PINs: the person's PIN is locked until `until` (epoch ms)."""

    def __init__(self, until: int) -> None:
        super().__init__(until)
        self.until = until


def issue_badge(user_id: int, by_id: int | None = None) -> str:
    """Issue a new badge for a person (revoking the one they had) and return its QR text."""
    now = now_ms()
    db.session.execute(
        update(StaffBadge).where(StaffBadge.user_id == user_id, StaffBadge.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by_id, revoke_reason="reissued")
    )
    badge = signing.new_badge(user_id)
    db.session.add(StaffBadge(user_id=user_id, code=badge.code, secret=badge.secret, issued_at=now,
                              issued_by=by_id))
    db.session.commit()
    return badge.text()


def revoke_badge(user_id: int, by_id: int | None, reason: str = "lost") -> bool:
    """Revoke a person's badge (lost, left the plant); False when they had none."""
    done = db.session.execute(
        update(StaffBadge).where(StaffBadge.user_id == user_id, StaffBadge.revoked_at.is_(None))
        .values(revoked_at=now_ms(), revoked_by=by_id, revoke_reason=reason[:200])
    )
    db.session.commit()
    return done.rowcount > 0


def current_badge(user_id: int) -> StaffBadge | None:
    """Return a person's badge in use, if any."""
    return db.session.execute(
        select(StaffBadge).where(StaffBadge.user_id == user_id, StaffBadge.revoked_at.is_(None))
    ).scalar_one_or_none()


def badge_text(badge: StaffBadge) -> str:
    """Return the QR text of a badge (for printing the staff card)."""
    return signing.Badge(badge.user_id, badge.code, badge.secret).text()


def set_pin(user_id: int, pin: str) -> None:
    """Set a person's signing PIN (they choose it); raises `signing.PinRefused` for a PIN that breaks the rules."""
    signing.check_pin(pin)
    user = db.session.get(User, user_id)
    salt = signing.new_salt()
    user.pin_salt, user.pin_key = salt, signing.pin_key(pin, salt)
    user.pin_set_at, user.pin_failures, user.pin_locked_until = now_ms(), 0, None
    db.session.commit()


def clear_pin(user_id: int) -> None:
    """Forget a person's PIN (an admin, when they forgot it): they set a new one themselves."""
    user = db.session.get(User, user_id)
    user.pin_salt = user.pin_key = user.pin_set_at = user.pin_locked_until = None
    user.pin_failures = 0
    db.session.commit()


def role_at(user_id: int, at_ms: int) -> str | None:
    """Return the role a person held at a time (None before they existed)."""
    spans = db.session.execute(
        select(RoleSpan.role, RoleSpan.valid_from, RoleSpan.valid_to).where(RoleSpan.user_id == user_id)
    ).all()
    return role_from_spans(spans, at_ms)


def role_from_spans(spans, at_ms: int) -> str | None:
    """Return the role of the span that covers a time; before the first span, the first role."""
    ordered = sorted(spans, key=lambda s: s.valid_from)
    for span in ordered:
        if span.valid_from <= at_ms and (span.valid_to is None or at_ms < span.valid_to):
            return span.role
    # Records made before the person's history began (clock skew, a backdated device) get their first role.
    return ordered[0].role if ordered and at_ms < ordered[0].valid_from else None


def _badge_at(signer_id: int, code: str, at_ms: int) -> tuple[StaffBadge | None, str | None]:
    badge = db.session.execute(
        select(StaffBadge).where(StaffBadge.code == code, StaffBadge.user_id == signer_id)
    ).scalar_one_or_none()
    if badge is None:
        return None, "unknown_badge"
    if badge.issued_at > at_ms + CLOCK_SLACK_MS or (badge.revoked_at is not None and badge.revoked_at <= at_ms):
        return None, "badge_revoked"
    return badge, None


def well_formed(signer: Any) -> bool:
    """Say whether a signer object has its four fields in their shapes (anything else is never looked up)."""
    if not isinstance(signer, dict):
        return False
    signer_id, badge = signer.get("id"), signer.get("badge")
    return (isinstance(signer_id, int) and not isinstance(signer_id, bool) and 1 <= signer_id <= MAX_INT32
            and isinstance(badge, str) and BADGE_CODE.fullmatch(badge) is not None
            and all(isinstance(signer.get(k), str) and signing.HEX64.fullmatch(signer[k])
                    for k in ("content_hash", "proof")))


def verify(event_id: str, signer: dict[str, Any], at_ms: int, *, event_type: str | None = None,
           payload: dict[str, Any] | None = None) -> Verdict:
    """Check a signature's proof as of its signing time; with the payload, also that it signs this content."""
    if not well_formed(signer):
        return Verdict(False, "malformed")
    signer_id = signer["id"]
    user = db.session.get(User, signer_id)
    if user is None:
        return Verdict(False, "unknown_signer")
    if not user.active:
        return Verdict(False, "inactive", user)
    badge, problem = _badge_at(user.id, str(signer.get("badge", "")), at_ms)
    if badge is None:
        return Verdict(False, problem, user)
    if not user.pin_key:
        return Verdict(False, "no_pin", user)
    hash_hex = signer.get("content_hash")
    if payload is not None and hash_hex != signing.content_hash(event_type or "", payload):
        return Verdict(False, "content_mismatch", user)
    expected = signing.proof(badge.secret, user.pin_key, event_id, user.id, badge.code, str(hash_hex))
    if not signing.proof_matches(expected, signer.get("proof")):
        return Verdict(False, "wrong_pin", user)
    return Verdict(True, None, user)


def check_online(event_id: str, signer: dict[str, Any]) -> Verdict:
    """Check a signature while the device waits (a wrong PIN is refused at once); counts wrong PINs, locks after 5."""
    now = now_ms()
    if not well_formed(signer):
        return Verdict(False, "malformed")
    user = db.session.get(User, signer["id"], with_for_update=True)
    if user is not None and user.pin_locked_until and user.pin_locked_until > now:
        db.session.rollback()
        raise PinLocked(user.pin_locked_until)
    verdict = verify(event_id, signer, now)
    if user is None or verdict.reason not in (None, "wrong_pin"):
        db.session.rollback()
        return verdict
    if verdict.ok:
        user.pin_failures = 0
        db.session.commit()
        return verdict
    user.pin_failures = (user.pin_failures or 0) + 1
    left = MAX_PIN_FAILURES - user.pin_failures
    if left <= 0:
        user.pin_failures, user.pin_locked_until = 0, now + PIN_LOCK_MS
        db.session.commit()
        raise PinLocked(now + PIN_LOCK_MS)
    db.session.commit()
    return Verdict(False, "wrong_pin", user, attempts_left=left)


def verify_for_ingest(event_type, envelope, payload: dict[str, Any], effective_at: int):
    """Check the signer's proof of a synced record as of its signing time; return the flag to raise, or None."""
    from sync.registry import RuleBroken

    signer = payload["signer"]
    verdict = verify(envelope.id, signer, effective_at, event_type=envelope.type, payload=payload)
    if not verdict.ok:
        return RuleBroken("signature_unverified", {"reason": verdict.reason, "signer_id": signer.get("id")})
    role = role_at(verdict.signer.id, effective_at)
    if event_type.signer_roles is not None and role not in event_type.signer_roles:
        return RuleBroken("signer_not_allowed", {"signer_id": verdict.signer.id, "role": role})
    return None


def proven_signer(ctx, event_type) -> tuple[int, str | None, str]:
    """Return who signed a record (proven), their role then, and how: `device_user` (the person signed in
    on the device), `badge_pin` (a second person's proof that holds) or `unverified` (a proof that does
    not: the record names the device's person, who handed it over, and ingest flags it)."""
    signer = ctx.envelope.payload.get("signer") if isinstance(ctx.envelope.payload, dict) else None
    if signer is None:
        return ctx.actor_id, ctx.actor_role, "device_user"
    verdict = verify(ctx.envelope.id, signer, ctx.effective_at, event_type=ctx.envelope.type,
                     payload=event_type.stored_payload(ctx.envelope.payload))
    if verdict.ok:
        return verdict.signer.id, role_at(verdict.signer.id, ctx.effective_at), "badge_pin"
    return ctx.actor_id, ctx.actor_role, "unverified"


def reason_text(reason: str | None, attempts_left: int | None = None) -> str:
    """Say in the person's language why a signature was not accepted."""
    from flask_babel import gettext as _, ngettext

    if reason == "wrong_pin":
        if attempts_left is not None:
            return ngettext("Wrong PIN. %(num)d try left before the PIN locks.",
                            "Wrong PIN. %(num)d tries left before the PIN locks.", attempts_left)
        return _("Wrong PIN.")
    return {
        "unknown_signer": _("This badge names nobody the server knows."),
        "inactive": _("This person may no longer sign."),
        "unknown_badge": _("This badge is not one the plant issued. Use the person's current staff card."),
        "badge_revoked": _("This badge was revoked. The person needs their new staff card."),
        "no_pin": _("This person has not set a PIN yet. They set it under My PIN after signing in."),
        "content_mismatch": _("The signature does not match the record it is on."),
        "malformed": _("The signature is incomplete."),
    }.get(reason or "", _("The signature could not be verified."))
