"""Database plumbing the sync contract needs: SQLite WAL, busy timeout, IMMEDIATE writes."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

# A push reads (duplicate checks) and then writes. On SQLite a deferred transaction
# that does that fails at once with "database is locked" under concurrent writers,
# whatever the busy timeout, so write paths begin IMMEDIATE and wait their turn.
_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_immediate", default=False)


@contextmanager
def immediate_writes() -> Iterator[None]:
    """Begin transactions inside this block with BEGIN IMMEDIATE on SQLite."""
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)


def configure_sqlite(engine: Engine, busy_timeout_ms: int = 30_000) -> None:
    """Put a SQLite engine in WAL mode and take over BEGIN so writes can be IMMEDIATE."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # pysqlite's own transaction handling would BEGIN lazily and deferred.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")  # an acknowledged push survives a power cut
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")
