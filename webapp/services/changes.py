"""Record every change of a pulled entity in the sync change log, in the same transaction."""

from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.orm import Session

from sync.pull import record_changes


def _pulled(obj) -> str | None:
    return getattr(type(obj), "__pull_entity__", None)


def _after_flush(session, _flush_context) -> None:
    rows = []
    for obj in session.new:
        if (entity := _pulled(obj)) is not None:
            rows.append((entity, obj.pull_key, False))
    for obj in session.dirty:
        if (entity := _pulled(obj)) is not None and session.is_modified(obj, include_collections=False):
            rows.append((entity, obj.pull_key, False))
    for obj in session.deleted:
        if (entity := _pulled(obj)) is not None:
            rows.append((entity, obj.pull_key, True))
    if rows:
        record_changes(session.connection(), dict.fromkeys(rows), int(time.time() * 1000))


def install(session_class=Session) -> None:
    """Listen to flushes so no code path can change a bin without devices hearing of it (once per process)."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)
