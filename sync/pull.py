"""Pull: reference data for the floor, paged by an opaque cursor over the change log.

The cursor is a position in the log, never a timestamp. On PostgreSQL, change numbers
are handed out before commit, so a transaction that started early can commit a lower
number after a later one was already served. Each change row therefore carries its
writing transaction's id, and a pull serves only rows of transactions older than every
transaction still running (the snapshot's xmin): those are all finished, so nothing
below the position can appear later. SQLite has one writer at a time, so there the
change number alone is a safe position.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, cast, delete, func, insert, select, text, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sync import schema

PAGE_SIZE = 500
HORIZON = "pull_horizon"  # change number below which tombstones were compacted away


@dataclass(frozen=True)
class PullSource:
    """An entity the floor needs offline, e.g. bins: the table it follows and how to load rows by key.

    The change log learns of the table's changes from triggers (sync/changelog.py) that a
    migration installs for `table`, logging `entity` keyed by the text of column `key`.
    """

    entity: str  # singular name in the change log, e.g. "bin"
    plural: str  # key in the pull response, e.g. "bins"
    load: Callable[[Session, list[str]], dict[str, dict[str, Any]]]
    table: str  # the table whose rows are this entity, e.g. "bins"
    key: str  # its column the change log keys rows by, e.g. "code"


@dataclass(frozen=True, order=True)
class Position:
    """Where a device is in the change log: (transaction id, change number); txid is 0 on SQLite."""

    txid: int
    change_no: int


def encode_cursor(position: Position) -> str:
    """Wrap a position so devices treat it as opaque."""
    return base64.urlsafe_b64encode(f"c2:{position.txid}:{position.change_no}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    """Return the position of a cursor, the start for none, None when it is not ours."""
    if not cursor:
        return Position(0, 0)
    try:
        tag, txid, number = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        position = Position(int(txid), int(number))
    except (ValueError, UnicodeDecodeError):
        return None
    return position if tag == "c2" and position.txid >= 0 and position.change_no >= 0 else None


def _postgres(conn: Connection | Session) -> bool:
    dialect = conn.dialect if isinstance(conn, Connection) else conn.get_bind().dialect  # Session or scoped
    return dialect.name == "postgresql"


def record_changes(conn: Connection | Session, rows: Iterable[tuple[str, str, bool]], now_ms: int) -> None:
    """Append (entity, key, deleted) rows to the change log in the caller's transaction.

    A followed table's rows are logged by its triggers (sync/changelog.py); this is for a change
    no row of a followed table shows (and for tests that write the log directly).
    """
    values = [{"entity": e, "key": k, "deleted": d, "changed_at": now_ms} for e, k, d in rows]
    if not values:
        return
    stmt = insert(schema.changes)
    if _postgres(conn):
        stmt = stmt.values(txid=cast(text("pg_current_xact_id()::text"), BigInteger))
    conn.execute(stmt, values)


def _finished_below(session: Session) -> int | None:
    """Return the oldest transaction id still running (PostgreSQL), below which all have finished."""
    if not _postgres(session):
        return None
    return session.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar()


def pull_page(
    session: Session, sources: list[PullSource], cursor: str | None, now_ms: int, limit: int = PAGE_SIZE
) -> dict[str, Any]:
    """Return one page of changes after `cursor`, with tombstones and the next cursor."""
    body: dict[str, Any] = {s.plural: [] for s in sources}
    body["deleted"] = {s.plural: [] for s in sources}
    body["server_now"] = now_ms
    start = decode_cursor(cursor)
    c = schema.changes.c
    horizon_no = session.execute(select(schema.meta.c.value).where(schema.meta.c.key == HORIZON)).scalar() or 0
    # A cursor we did not make, or one from before the log lost tombstones to compaction: start over.
    if start is None or (start.change_no and start.change_no < horizon_no):
        body.update(cursor=None, has_more=True, reset_required=True)
        return body
    horizon = _finished_below(session)
    if horizon is None:
        order = (c.change_no,)
        stmt = select(c.change_no, c.entity, c.key, c.deleted, c.txid).where(c.change_no > start.change_no)
    else:
        order = (c.txid, c.change_no)
        stmt = select(c.change_no, c.entity, c.key, c.deleted, c.txid).where(
            tuple_(c.txid, c.change_no) > tuple_(start.txid, start.change_no), c.txid < horizon)
    rows = session.execute(stmt.order_by(*order).limit(limit)).all()
    latest: dict[tuple[str, str], bool] = {}
    for row in rows:
        latest[(row.entity, row.key)] = row.deleted
    for source in sources:
        keys = [k for (e, k), deleted in latest.items() if e == source.entity and not deleted]
        loaded = source.load(session, keys) if keys else {}
        body[source.plural] = [loaded[k] for k in keys if k in loaded]
        gone = [k for (e, k), deleted in latest.items() if e == source.entity and (deleted or k not in loaded)]
        body["deleted"][source.plural] = gone
    end = Position(rows[-1].txid or 0, rows[-1].change_no) if rows else start
    body.update(cursor=encode_cursor(end), has_more=len(rows) == limit, reset_required=False)
    return body


def compact(session: Session, below_change_no: int) -> int:
    """Drop change rows below a change number that a later row supersedes, and old tombstones.

    Keeping the latest row of every live key keeps every cursor correct; dropping tombstones
    means a device whose cursor is older than `below_change_no` must start over
    (`reset_required`). Return how many rows were removed.
    """
    c = schema.changes.c
    latest = select(func.max(c.change_no)).group_by(c.entity, c.key).scalar_subquery()
    removed = session.execute(
        delete(schema.changes).where(c.change_no < below_change_no,
                                     (c.change_no.not_in(latest)) | (c.deleted.is_(True)))
    ).rowcount
    m = schema.meta.c
    if session.execute(select(m.value).where(m.key == HORIZON)).first() is None:
        session.execute(insert(schema.meta).values(key=HORIZON, value=below_change_no))
    else:
        session.execute(update(schema.meta).where(m.key == HORIZON).values(value=below_change_no))
    return removed
