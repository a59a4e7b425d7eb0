"""Photos and signature images held by the server (content-addressed)."""

from __future__ import annotations

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Blob


def missing(shas: list[str]) -> list[str]:
    """Return which of these files the server does not hold completely yet."""
    if not shas:
        return []
    held = set(db.session.execute(
        select(Blob.sha256).where(Blob.sha256.in_(shas), Blob.complete.is_(True))
    ).scalars())
    return [sha for sha in shas if sha not in held]
