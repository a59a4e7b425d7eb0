"""Change-log triggers: the database itself records every change of a pulled table.

A trigger per followed table appends to `sync_changes` in the writing transaction, whatever
wrote the row (ORM, Core statement, raw SQL, a migration), so no handler has to remember
to call `sync.pull.record_changes`:

- insert: (entity, new key, deleted = false);
- update: (entity, new key, false), preceded by a tombstone (entity, old key, true) when the
  key column changed (a row whose key changes is gone from devices under its old key);
- delete: (entity, old key, true).

Keys are stored as text (an integer id becomes its decimal text); a row whose key is NULL is
not logged. `changed_at` is epoch ms from the database clock. On PostgreSQL `txid` is
`pg_current_xact_id()` as a bigint, as `record_changes` writes it (see sync/pull.py for why),
and every table shares one PL/pgSQL function that takes the entity and the key column from the
trigger's arguments. On SQLite `txid` stays NULL (one writer at a time).

These functions only return DDL; a migration runs it, so a database keeps the DDL of the
migration that installed it: a change here needs a migration that runs it again. Beware:
Alembic's batch mode on SQLite rebuilds a table (copy, drop, rename) and a dropped table loses
its triggers, so a migration that batch-alters a followed table must create its triggers again
(tests/integration/test_change_log.py fails until it does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import text

FUNCTION = "sync_log_change"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")  # tables, columns and entities: plain names only

# Epoch ms of the database clock. SQLite's julianday('now') has ms resolution and is stable
# within a statement; PostgreSQL's clock_timestamp() is the time the row changed.
_SQLITE_NOW_MS = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"

PG_FUNCTION_DDL = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key text;
    new_key text;
    at_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    tx bigint := pg_current_xact_id()::text::bigint;
BEGIN
    -- TG_ARGV[0]: the entity as the change log names it; TG_ARGV[1]: the key column.
    IF TG_OP <> 'INSERT' THEN
        old_key := to_jsonb(OLD) ->> TG_ARGV[1];
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := to_jsonb(NEW) ->> TG_ARGV[1];
    END IF;
    IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
        INSERT INTO sync_changes (entity, key, deleted, changed_at, txid)
        VALUES (TG_ARGV[0], old_key, true, at_ms, tx);
    END IF;
    IF new_key IS NOT NULL THEN
        INSERT INTO sync_changes (entity, key, deleted, changed_at, txid)
        VALUES (TG_ARGV[0], new_key, false, at_ms, tx);
    END IF;
    RETURN NULL;
END
$$
""".strip()


def _check(*names: str) -> None:
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"not a plain SQL name: {name!r}")


def trigger_names(dialect: str, table: str) -> list[str]:
    """Return the names of the triggers that log `table`'s changes on this dialect."""
    _check(table)
    if dialect == "postgresql":
        return [f"sync_changes_{table}"]
    if dialect == "sqlite":
        return [f"sync_changes_{table}_{op}" for op in ("insert", "update", "delete")]
    raise ValueError(f"no change-log triggers for {dialect}")


def create_function_ddl(dialect: str) -> list[str]:
    """Return the DDL shared by every table's triggers (PostgreSQL's function; nothing on SQLite)."""
    trigger_names(dialect, "x")  # refuses an unknown dialect
    return [PG_FUNCTION_DDL] if dialect == "postgresql" else []


def drop_function_ddl(dialect: str) -> list[str]:
    """Return the DDL that drops what `create_function_ddl` made (after every table's triggers)."""
    trigger_names(dialect, "x")
    return [f"DROP FUNCTION IF EXISTS {FUNCTION}()"] if dialect == "postgresql" else []


def create_triggers_ddl(dialect: str, entity: str, table: str, key: str) -> list[str]:
    """Return the DDL that makes the database log every insert, update and delete of `table`.

    Changes are logged as `entity`, keyed by the text of column `key`. On PostgreSQL the
    shared function (`create_function_ddl`) must exist first.
    """
    _check(entity, table, key)
    names = trigger_names(dialect, table)
    if dialect == "postgresql":
        return [f"CREATE TRIGGER {names[0]} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}('{entity}', '{key}')"]

    def log(row: str, deleted: int) -> str:
        return (f"INSERT INTO sync_changes (entity, key, deleted, changed_at) "
                f"SELECT '{entity}', CAST({row}.\"{key}\" AS TEXT), {deleted}, {_SQLITE_NOW_MS} "
                f"WHERE {row}.\"{key}\" IS NOT NULL")

    insert_, update_, delete_ = names
    return [
        f'CREATE TRIGGER {insert_} AFTER INSERT ON "{table}" BEGIN {log("NEW", 0)}; END',
        # The old key's tombstone first: a row whose key changed is gone under the old one.
        f'CREATE TRIGGER {update_} AFTER UPDATE ON "{table}" BEGIN '
        f'{log("OLD", 1)} AND OLD."{key}" IS NOT NEW."{key}"; {log("NEW", 0)}; END',
        f'CREATE TRIGGER {delete_} AFTER DELETE ON "{table}" BEGIN {log("OLD", 1)}; END',
    ]


def drop_triggers_ddl(dialect: str, table: str) -> list[str]:
    """Return the DDL that removes `table`'s change-log triggers."""
    names = trigger_names(dialect, table)
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {names[0]} ON {table}"]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]


def install_ddl(dialect: str, followed: Iterable[tuple[str, str, str]]) -> list[str]:
    """Return all the DDL to log changes of every (entity, table, key column) in `followed`."""
    ddl = create_function_ddl(dialect)
    for entity, table, key in followed:
        ddl += create_triggers_ddl(dialect, entity, table, key)
    return ddl


def uninstall_ddl(dialect: str, followed: Iterable[tuple[str, str, str]]) -> list[str]:
    """Return all the DDL to stop logging changes of the tables in `followed` (what `install_ddl` made)."""
    ddl: list[str] = []
    for _entity, table, _key in followed:
        ddl += drop_triggers_ddl(dialect, table)
    return ddl + drop_function_ddl(dialect)


INSTALLED_SQL = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table",
    "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = to_regclass(:table)",
}


def missing_triggers(conn, dialect: str, table: str) -> list[str]:
    """Return the change-log triggers `table` should have but does not (empty: it is followed).

    `conn` is a SQLAlchemy connection or session.
    """
    names = trigger_names(dialect, table)
    found = set(conn.execute(text(INSTALLED_SQL[dialect]), {"table": table}).scalars())
    return [n for n in names if n not in found]
