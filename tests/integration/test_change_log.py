"""Every pulled table's changes reach a device, whatever wrote them: the database's triggers log them.

Rows are written here with plain SQL text (no ORM, no app code), so nothing but the triggers a
migration installed (sync/changelog.py) can put them in the change log. A pull source whose
table has no triggers, or no recipe below, fails here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sync.changelog import missing_triggers
from tests.conftest import PG_URL
from webapp.extensions import db
from webapp.services.sync_service import PULL_SOURCES

SOURCES = {s.entity: s for s in PULL_SOURCES}
WHEN = "'2026-01-01 00:00:00'"

# Per table: a new row (key :key), a change of another column, a change of its key (:key → :new_key).
# The rows are what the source loads (users active, transfers and inspections open).
RECIPES = {
    "bins": dict(
        key="ZZ-TRIG-1", new_key="ZZ-TRIG-2",
        insert=f"INSERT INTO bins (code, status, quantity, disputed, version, created_at) "
               f"VALUES (:key, 'active', 5, FALSE, 1, {WHEN})",
        update="UPDATE bins SET quantity = 7 WHERE code = :key"),
    "operations": dict(
        key="OPX", new_key="OPY",
        insert="INSERT INTO operations (code, name_zh, name_en, workshop_id) "
               "VALUES (:key, '新工序', 'New op', (SELECT id FROM workshops WHERE code = 'W1'))",
        update="UPDATE operations SET name_en = 'Renamed op' WHERE code = :key"),
    "locations": dict(
        key="L-X", new_key="L-Y",
        insert="INSERT INTO locations (code, kind, name_zh, name_en) VALUES (:key, 'waiting', '待料', 'Waiting')",
        update="UPDATE locations SET name_en = 'Waiting area' WHERE code = :key"),
    "products": dict(
        key="PX-1", new_key="PX-2",
        insert="INSERT INTO products (code, name_zh, name_en) VALUES (:key, '轴', 'Shaft')",
        update="UPDATE products SET name_en = 'Long shaft' WHERE code = :key"),
    "work_orders": dict(
        key="WO-TRIG-1", new_key="WO-TRIG-2",
        insert=f"INSERT INTO work_orders (number, product_id, quantity, due_date, customer, status, created_at) "
               f"VALUES (:key, (SELECT id FROM products WHERE code = 'HS-01'), 10, '2026-12-31', 'C', 'planned', "
               f"{WHEN})",
        update="UPDATE work_orders SET quantity = 12 WHERE number = :key"),
    "users": dict(
        key="trigger-person", new_key="trigger-person-2",
        insert=f"INSERT INTO users (username, display_name, password_hash, role, active, created_at, pin_failures) "
               f"VALUES (:key, 'Trigger person', 'x', 'clerk', TRUE, {WHEN}, 0)",
        update="UPDATE users SET display_name = 'Renamed person' WHERE username = :key"),
    "transfers": dict(
        key="ZX-TRIG-1", new_key="ZX-TRIG-2",
        insert=f"INSERT INTO transfers (number, kind, status, bin_id, quantity, created_by, created_at) "
               f"VALUES (:key, 'next_operation', 'open', (SELECT min(id) FROM bins), 5, "
               f"(SELECT min(id) FROM users), {WHEN})",
        update="UPDATE transfers SET quantity = 6 WHERE number = :key"),
    "inspections": dict(
        key="00000000-0000-4000-8000-000000009001", new_key="00000000-0000-4000-8000-000000009002",
        insert=f"INSERT INTO inspections (uid, kind, status, work_order_id, inspector_id, lot_size, started_at) "
               f"VALUES (:key, 'final', 'open', (SELECT min(id) FROM work_orders), "
               f"(SELECT min(id) FROM users), 100, {WHEN})",
        update="UPDATE inspections SET sample_size = 13 WHERE uid = :key"),
    "inspection_templates": dict(
        key="TPL-TRIG-1", new_key="TPL-TRIG-2",
        insert="INSERT INTO inspection_templates (code, kind, name_zh, name_en, units, items, active) "
               "VALUES (:key, 'final', '尾查', 'Final', 1, '[]', TRUE)",
        update="UPDATE inspection_templates SET units = 3 WHERE code = :key"),
    "defect_types": dict(
        key="D-TRIG-1", new_key="D-TRIG-2",
        insert="INSERT INTO defect_types (code, name_zh, name_en, default_class) "
               "VALUES (:key, '裂纹', 'Crack', 'major')",
        update="UPDATE defect_types SET default_class = 'critical' WHERE code = :key"),
    "reference_tables": dict(
        key="trig-ref-1", new_key="trig-ref-2",
        insert="INSERT INTO reference_tables (key, version) VALUES (:key, 1)",
        update="UPDATE reference_tables SET version = 2 WHERE key = :key"),
    "settings": dict(
        key="trigger_setting", new_key="trigger_setting_2",
        insert="INSERT INTO settings (key, value) VALUES (:key, 'one')",
        update="UPDATE settings SET value = 'two' WHERE key = :key"),
}


def _sql(app, statement: str, **params) -> None:
    """Run one statement and commit, as another program would; leave no transaction open."""
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()
        db.session.remove()


def _expected(app, source, key: str) -> dict:
    """Return the row as the source loads it (what the device must get)."""
    with app.app_context():
        loaded = source.load(db.session, [key])
        db.session.remove()
    assert key in loaded, f"the recipe's {source.table} row {key} is not one the source serves"
    return loaded[key]


def pull_all(device, cursor):
    """Pull every page after `cursor`; return (rows per plural, tombstones per plural, the last cursor)."""
    rows: dict[str, list] = {}
    gone: dict[str, list] = {}
    while True:
        reply = device.pull(cursor)
        assert reply.status_code == 200, reply.text
        page = reply.json
        assert page["reset_required"] is False
        for s in PULL_SOURCES:
            rows.setdefault(s.plural, []).extend(page[s.plural])
            gone.setdefault(s.plural, []).extend(page["deleted"][s.plural])
        cursor = page["cursor"]
        if not page["has_more"]:
            return rows, gone, cursor


def test_every_pull_source_has_a_recipe_here():
    assert sorted(s.table for s in PULL_SOURCES if s.table not in RECIPES) == []


@pytest.mark.parametrize("entity", sorted(SOURCES))
def test_the_pulled_table_has_its_change_log_triggers(app, entity):
    source = SOURCES[entity]
    with app.app_context():
        assert source.table in db.metadata.tables, f"{source.entity}: no table {source.table}"
        assert source.key in db.metadata.tables[source.table].c, f"{source.table} has no column {source.key}"
        with db.engine.connect() as conn:
            missing = missing_triggers(conn, conn.dialect.name, source.table)
    assert missing == [], f"{source.table} is pulled but no migration installed {missing}"


@pytest.mark.parametrize("entity", sorted(SOURCES))
def test_a_row_written_with_plain_sql_reaches_a_device(app, signed_in_device, plant, entity):
    source = SOURCES[entity]
    recipe = RECIPES.get(source.table)
    if recipe is None:
        pytest.fail(f"no recipe for {source.table}: add one to RECIPES")
    key, new_key, plural = recipe["key"], recipe["new_key"], source.plural
    device = signed_in_device("clerk")
    _rows, _gone, start = pull_all(device, None)

    _sql(app, recipe["insert"], key=key)
    rows, gone, after_insert = pull_all(device, start)
    assert _expected(app, source, key) in rows[plural] and key not in gone[plural]

    _sql(app, recipe["update"], key=key)
    updated = _expected(app, source, key)
    rows, gone, after_update = pull_all(device, after_insert)
    assert rows[plural] == [updated], "the changed row arrives, and only it"

    # A key change (a replaced bin label changes the bin's code): the row under its new key, a
    # tombstone for the old one.
    key_column = source.key
    _sql(app, f"UPDATE {source.table} SET {key_column} = :new_key WHERE CAST({key_column} AS TEXT) = :key",
         key=key, new_key=new_key if key_column != "id" else int(new_key))
    rows, gone, after_rekey = pull_all(device, after_update)
    assert rows[plural] == [_expected(app, source, new_key)]
    assert gone[plural] == [key]

    _sql(app, f"DELETE FROM {source.table} WHERE CAST({key_column} AS TEXT) = :key", key=new_key)
    rows, gone, _end = pull_all(device, after_rekey)
    assert rows[plural] == [] and gone[plural] == [new_key]
    # Nothing else came along: other sources saw no change.
    assert all(not r for p, r in rows.items()) and all(not g for p, g in gone.items() if p != plural)


def test_a_change_no_row_shows_can_still_be_logged_by_hand(app, signed_in_device, plant):
    """record_changes stays for what no row of a followed table shows."""
    import time

    from sync.pull import record_changes

    device = signed_in_device("clerk")
    _rows, _gone, start = pull_all(device, None)
    with app.app_context():
        record_changes(db.session, [("bin", plant["codes"][0], False)], int(time.time() * 1000))
        db.session.commit()
        db.session.remove()
    rows, _gone, _ = pull_all(device, start)
    assert [b["code"] for b in rows["bins"]] == [plant["codes"][0]]


def test_a_pulled_change_carries_the_database_clock_and_text_keys(app, plant):
    import time

    from sqlalchemy import select

    from sync import schema

    before = int(time.time() * 1000)
    _sql(app, "UPDATE bins SET quantity = 3 WHERE code = :code", code=plant["codes"][0])
    _sql(app, "INSERT INTO settings (key, value) VALUES ('clock_check', 'x')")
    with app.app_context():
        c = schema.changes.c
        last = db.session.execute(select(c.entity, c.key, c.deleted, c.changed_at, c.txid)
                                  .order_by(c.change_no.desc()).limit(2)).all()
        db.session.remove()
    after = int(time.time() * 1000)
    assert [(r.entity, r.key, r.deleted) for r in last] == [("setting", "clock_check", False),
                                                             ("bin", plant["codes"][0], False)]
    assert all(before - 1000 <= r.changed_at <= after + 1000 for r in last)  # epoch ms, not seconds or days
    if PG_URL:
        assert all(r.txid and r.txid > 0 for r in last) and last[0].txid != last[1].txid
    else:
        assert all(r.txid is None for r in last)
