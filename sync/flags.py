"""Flags: what rules an event broke, kept in one place (`sync_exceptions`), never on the event row.

A flag is raised when an event is stored (a handler's `RuleBroken`) or when an event cannot be
stored (quarantine). The office closes it with a note (`resolved_*`). A flag that the log no
longer supports (a late event re-judged the ones after it) is *withdrawn*: closed, naming the
event that withdrew it, and no longer one of the event's flags. An event's flags are its rows
that are not withdrawn, in the order they were raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from sync import schema


def as_flag(code: str, detail: dict[str, Any] | None) -> dict[str, Any]:
    """Return a flag as push answers and pages show it: its code and its detail."""
    return {"code": code, **(detail or {})}


def flags_of(session: Session, event_ids: Iterable[str], codes: Iterable[str] | None = None
             ) -> dict[str, list[dict[str, Any]]]:
    """Return each event's flags (not withdrawn), oldest first; events without any are left out."""
    ids = list(dict.fromkeys(event_ids))
    found: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return found
    x = schema.exceptions.c
    stmt = select(x.event_id, x.code, x.detail).where(x.event_id.in_(ids), x.withdrawn.is_(False)).order_by(x.id)
    if codes is not None:
        stmt = stmt.where(x.code.in_(list(codes)))
    for row in session.execute(stmt):
        found.setdefault(row.event_id, []).append(as_flag(row.code, row.detail))
    return found


def raise_flags(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write flags: dicts with code, event_id or quarantine_id, subject, detail, created_at (and resolved_*)."""
    if rows:
        session.execute(insert(schema.exceptions), [{"quarantine_id": None, "event_id": None, **r} for r in rows])


def withdraw(session: Session, withdrawn: list[tuple[str, str]], *, by_event: str, by_actor: int | None, at: int,
             note: str) -> None:
    """Withdraw the open flags (event id, code) a later decision of the log no longer supports."""
    if not withdrawn:
        return
    x = schema.exceptions.c
    session.execute(
        update(schema.exceptions)
        .where(x.event_id == bindparam("_event"), x.code == bindparam("_code"), x.withdrawn.is_(False))
        # A flag the office already closed keeps its closing; an open one is closed by the withdrawal.
        .values(withdrawn=True, resolved_at=func.coalesce(x.resolved_at, bindparam("_at")),
                resolved_by=case((x.resolved_at.is_(None), bindparam("_by")), else_=x.resolved_by),
                resolution_event_id=func.coalesce(x.resolution_event_id, bindparam("_by_event")),
                resolution_note=func.coalesce(x.resolution_note, bindparam("_note"))),
        [{"_event": e, "_code": c, "_at": at, "_by": by_actor, "_by_event": by_event, "_note": note}
         for e, c in withdrawn])


def settle(session: Session, wanted: dict[str, list[tuple[str, dict[str, Any]]]], subjects: dict[str, str],
           codes: Iterable[str], *, by_event: str, by_actor: int | None, at: int, created_at: int, note: str) -> None:
    """Bring the flags (of `codes`) of earlier events in line with what a fold now decides.

    `subjects`: each earlier event and its subject; `wanted`: the flags the fold gives each event.
    A stored flag the fold no longer gives is withdrawn (naming `by_event`); a new one is raised.
    """
    if not subjects:
        return
    stored = flags_of(session, list(subjects), codes)
    withdrawn, raised = [], []
    for event_id, subject in subjects.items():
        have = stored.get(event_id, [])
        want = [as_flag(code, detail) for code, detail in wanted.get(event_id, [])]
        withdrawn.extend((event_id, f["code"]) for f in have if f not in want)
        raised.extend({"code": f["code"], "event_id": event_id, "subject": subject,
                       "detail": {k: v for k, v in f.items() if k != "code"}, "created_at": created_at}
                      for f in want if f not in have)
    withdraw(session, withdrawn, by_event=by_event, by_actor=by_actor, at=at, note=note)
    raise_flags(session, raised)
