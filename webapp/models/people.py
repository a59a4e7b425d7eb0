"""People who sign in."""

from __future__ import annotations

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    """A person with one role; records always name who made them."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20), index=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # The signing PIN (see webapp/services/signers.py): the salt is pulled to devices, the key never
    # leaves the server. Wrong PINs lock the PIN for a while.
    pin_salt: Mapped[str | None] = mapped_column(String(32))
    pin_key: Mapped[str | None] = mapped_column(String(64))
    pin_set_at: Mapped[int | None] = mapped_column(BigInteger)
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_locked_until: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def is_active(self) -> bool:  # flask-login: a deactivated user cannot sign in
        return self.active

    def set_password(self, password: str) -> None:
        """Store a salted hash of `password`."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Say whether `password` is this user's."""
        return check_password_hash(self.password_hash, password)


class RoleSpan(db.Model):
    """A role a person held from one time to another: records are judged by the role of their time."""

    __tablename__ = "role_spans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[int] = mapped_column(BigInteger)  # epoch ms
    valid_to: Mapped[int | None] = mapped_column(BigInteger)  # None: still held


class StaffBadge(db.Model):
    """A person's staff badge: the QR on the staff card that, with the person's PIN, signs on any device."""

    __tablename__ = "staff_badges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    secret: Mapped[str] = mapped_column(String(64))  # printed in the QR; the server needs it to check proofs
    issued_at: Mapped[int] = mapped_column(BigInteger)
    issued_by: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_by: Mapped[int | None] = mapped_column(Integer)
    revoke_reason: Mapped[str | None] = mapped_column(String(200))


class LoginSession(db.Model):
    """One sign-in on one browser: the session cookie names it, sign-out and revocation end it."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random, in the signed session cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    ended_reason: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
