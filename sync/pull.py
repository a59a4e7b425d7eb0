"""Pull: reference data for the floor, paged by an opaque change-number cursor."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sync import schema

PAGE_SIZE = 500


@dataclass(frozen=True)
class PullSource:
    """An entity the floor needs offline, e.g. bins: how to load current rows by key."""

    entity: str  # singular name in the change log, e.g. "bin"
    plural: str  # key in the pull response, e.g. "bins"
    load: Callable[[Session, list[str]], dict[str, dict[str, Any]]]


def encode_cursor(change_no: int) -> str:
    """Wrap a change number so devices treat it as opaque."""
    return base64.urlsafe_b64encode(f"c1:{change_no}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """Return the change number of a cursor, 0 for none, None when it is not ours."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, number = text.split(":", 1)
        value = int(number)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if tag == "c1" and value >= 0 else None


def record_changes(conn: Connection | Session, rows: Iterable[tuple[str, str, bool]], now_ms: int) -> None:
    """Append (entity, key, deleted) rows to the change log in the caller's transaction."""
    values = [{"entity": e, "key": k, "deleted": d, "changed_at": now_ms} for e, k, d in rows]
    if values:
        conn.execute(insert(schema.changes), values)


def pull_page(
    session: Session, sources: list[PullSource], cursor: str | None, now_ms: int, limit: int = PAGE_SIZE
) -> dict[str, Any]:
    """Return one page of changes after `cursor`, with tombstones and the next cursor."""
    body: dict[str, Any] = {s.plural: [] for s in sources}
    body["deleted"] = {s.plural: [] for s in sources}
    body["server_now"] = now_ms
    start = decode_cursor(cursor)
    c = schema.changes.c
    oldest = session.execute(select(func.min(c.change_no))).scalar()
    # A cursor we did not make, or one older than the compacted log: start over.
    if start is None or (start and oldest is not None and start < oldest - 1):
        body.update(cursor=None, has_more=True, reset_required=True)
        return body
    rows = session.execute(
        select(c.change_no, c.entity, c.key, c.deleted)
        .where(c.change_no > start)
        .order_by(c.change_no)
        .limit(limit)
    ).all()
    latest: dict[tuple[str, str], bool] = {}
    for row in rows:
        latest[(row.entity, row.key)] = row.deleted
    for source in sources:
        keys = [k for (e, k), deleted in latest.items() if e == source.entity and not deleted]
        loaded = source.load(session, keys) if keys else {}
        body[source.plural] = [loaded[k] for k in keys if k in loaded]
        gone = [k for (e, k), deleted in latest.items() if e == source.entity and (deleted or k not in loaded)]
        body["deleted"][source.plural] = gone
    next_no = rows[-1].change_no if rows else start
    body.update(cursor=encode_cursor(next_no), has_more=len(rows) == limit, reset_required=False)
    return body
