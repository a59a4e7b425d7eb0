"""The sync engine on its own: a toy domain of two made-up event types, no web app.

sync/ knows nothing of bins. These tests prove it by running push ingest and pull against a
registry of plant care (`plant.watered`, `plant.pruned`) on a real SQLite file, with the same
database plumbing the app uses (WAL, IMMEDIATE writes). They import only `sync`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column, Integer, MetaData, String, Table, bindparam, create_engine, delete, insert, select, update,
)
from sqlalchemy.orm import Session

from sync import schema
from sync.changelog import install_ddl, missing_triggers
from sync.db import configure_sqlite, immediate_writes
from sync.ingest import ingest_push
from sync.pull import Position, PullSource, compact, encode_cursor, pull_page
from sync.registry import EventRegistry, EventType, HandlerContext, PayloadInvalid, RuleBroken

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000_000  # the server's clock in these tests (epoch ms)
GARDENER, PRUNER, VISITOR, STRANGER = 1, 2, 3, 99
SIGNED_ON = {GARDENER: "gardener", PRUNER: "pruner", VISITOR: "visitor"}  # who signed on the device, as what

# The toy domain's own table, on its own metadata: the engine never sees it except through handlers.
toy = MetaData()
plants = Table(
    "toy_plants", toy,
    Column("name", String(40), primary_key=True),
    Column("water_ml", Integer, nullable=False, default=0),
    Column("height_cm", Integer, nullable=False),
    Column("prunings", Integer, nullable=False, default=0),
)
FOLLOWED = [("plant", "toy_plants", "name")]


# --- the toy event types --------------------------------------------------------------------------

def _text(payload: dict, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise PayloadInvalid(name, "must be text")
    return value


def _whole(payload: dict, name: str, limit: int) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise PayloadInvalid(name, f"must be a whole number from 0 to {limit}")
    return value


def validate_watered(payload: dict) -> dict:
    """v2: {plant, ml, note?}."""
    return {"plant": _text(payload, "plant"), "ml": _whole(payload, "ml", 10_000), "note": payload.get("note")}


def watered_v1_to_v2(payload: dict) -> dict:
    """v1 said litres; v2 says ml."""
    litres = payload.pop("litres", None)
    payload["ml"] = litres * 1000 if isinstance(litres, int) and not isinstance(litres, bool) else litres
    return payload


def _plant(session: Session, name: str):
    return session.execute(select(plants).where(plants.c.name == name)).first()


def handle_watered(ctx: HandlerContext) -> list[RuleBroken]:
    name = ctx.payload["plant"]
    found = _plant(ctx.session, name)
    if found is None:
        return [RuleBroken("unknown_plant", {"plant": name})]
    water = found.water_ml + ctx.payload["ml"]
    ctx.session.execute(update(plants).where(plants.c.name == name).values(water_ml=water))
    if ctx.payload["note"] == "crash":
        raise RuntimeError("the watering can broke")  # after a write: the write must not stay
    return [RuleBroken("overwatered", {"plant": name, "water_ml": water})] if water > 5000 else []


def validate_pruned(payload: dict) -> dict:
    return {"plant": _text(payload, "plant"), "cm": _whole(payload, "cm", 500)}


def _prune(state: dict[str, Any], cm: int) -> list[RuleBroken]:
    state["height_cm"] = max(state["height_cm"] - cm, 0)
    state["prunings"] += 1
    return [RuleBroken("too_short", {"plant": state["name"], "height_cm": state["height_cm"]})] \
        if state["height_cm"] < 10 else []


def handle_pruned(ctx: HandlerContext) -> list[RuleBroken]:
    found = _plant(ctx.session, ctx.payload["plant"])
    if found is None:
        return [RuleBroken("unknown_plant", {"plant": ctx.payload["plant"]})]
    state = dict(found._mapping)
    flags = _prune(state, ctx.payload["cm"])
    ctx.session.execute(update(plants).where(plants.c.name == state["name"])
                        .values(height_cm=state["height_cm"], prunings=state["prunings"]))
    return flags


BATCH_CALLS: list[int] = []


def batch_pruned(session: Session, ctxs: list[HandlerContext]) -> list[list[RuleBroken]]:
    """The same outcome as handle_pruned on each in turn: one read, one write."""
    BATCH_CALLS.append(len(ctxs))
    names = {c.payload["plant"] for c in ctxs}
    states = {r.name: dict(r._mapping) for r in session.execute(select(plants).where(plants.c.name.in_(names)))}
    flags = []
    for c in ctxs:
        state = states.get(c.payload["plant"])
        flags.append(_prune(state, c.payload["cm"]) if state else [RuleBroken("unknown_plant",
                                                                             {"plant": c.payload["plant"]})])
    if states:
        session.execute(update(plants).where(plants.c.name == bindparam("_name"))
                        .values(height_cm=bindparam("_height"), prunings=bindparam("_prunings")),
                        [{"_name": s["name"], "_height": s["height_cm"], "_prunings": s["prunings"]}
                         for s in states.values()])
    return flags


def make_registry(*, batch: bool = True) -> EventRegistry:
    registry = EventRegistry()
    registry.register(EventType(
        name="plant.watered", version=2, handler=handle_watered, validate=validate_watered,
        roles=frozenset({"gardener"}), upgrades={1: watered_v1_to_v2},
        subject=lambda p: f"plant:{p['plant']}", fields=frozenset({"plant", "ml", "litres", "note"})))
    registry.register(EventType(
        name="plant.pruned", version=1, handler=handle_pruned, validate=validate_pruned,
        roles=frozenset({"gardener", "pruner"}), subject=lambda p: f"plant:{p['plant']}",
        batch=batch_pruned if batch else None))
    return registry


def load_plants(session: Session, names: list[str]) -> dict[str, dict]:
    rows = session.execute(select(plants).where(plants.c.name.in_(names)))
    return {r.name: {"name": r.name, "water_ml": r.water_ml, "height_cm": r.height_cm} for r in rows}


SOURCES = [PullSource("plant", "plants", load_plants, table="toy_plants", key="name")]


# --- a garden: a database file, a device, a way to push ------------------------------------------

class Garden:
    """A real SQLite file with the engine's tables, the toy table and its change-log triggers, one device."""

    def __init__(self, folder: Path, registry: EventRegistry | None = None, device: str | None = None):
        self.engine = create_engine(f"sqlite:///{folder / 'garden.sqlite3'}")
        configure_sqlite(self.engine)
        schema.metadata.create_all(self.engine)
        toy.create_all(self.engine)
        with self.engine.begin() as conn:
            for ddl in install_ddl("sqlite", FOLLOWED):
                conn.exec_driver_sql(ddl)
            conn.execute(insert(plants), [{"name": n, "water_ml": 0, "height_cm": 50, "prunings": 0}
                                          for n in ("rose", "fern", "basil")])
        self.registry = registry or make_registry()
        self.device = device or str(uuid.uuid4())
        self.seq = 0
        with self.engine.begin() as conn:
            conn.execute(insert(schema.devices).values(id=self.device, user_id=GARDENER, label="toy",
                                                       registered_at=NOW - 86_400_000, acked_through_seq=0))

    def event(self, type_: str, payload: dict, *, v: int = 1, actor: int | None = GARDENER, **fields) -> dict:
        self.seq += 1
        raw = {"id": str(uuid.uuid4()), "device_id": self.device, "seq": self.seq, "type": type_, "v": v,
               "occurred_at": NOW - 1000, "actor_id": actor, "payload": payload, "attachments": []}
        raw.update(fields)
        return raw

    def water(self, plant: str, ml: int, **payload) -> dict:
        return self.event("plant.watered", {"plant": plant, "ml": ml, **payload}, v=2)

    def prune(self, plant: str, cm: int, **fields) -> dict:
        return self.event("plant.pruned", {"plant": plant, "cm": cm}, **fields)

    def push(self, events: list[dict], now: int = NOW):
        with immediate_writes(), Session(self.engine) as session:
            outcome = ingest_push(session, self.registry, device_id=self.device, raw_events=events, now_ms=now,
                                  actor_role=lambda actor, _at: SIGNED_ON.get(actor))
            session.commit()
        return outcome

    def rows(self, table: Table, *where, order=None) -> list[dict]:
        with self.engine.connect() as conn:
            stmt = select(table).where(*where)
            if order is not None:
                stmt = stmt.order_by(order)
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def plant(self, name: str) -> dict:
        [row] = self.rows(plants, plants.c.name == name)
        return row

    def state(self) -> list[dict]:
        return self.rows(plants, order=plants.c.name)

    def flags(self) -> list[tuple[str, str | None, dict]]:
        x = schema.exceptions.c
        return [(r["code"], r["event_id"], r["detail"]) for r in self.rows(schema.exceptions, order=x.id)]

    def pull(self, cursor: str | None, limit: int = 500) -> dict:
        with Session(self.engine) as session:
            return pull_page(session, SOURCES, cursor, NOW, limit=limit)


@pytest.fixture
def garden(tmp_path) -> Garden:
    g = Garden(tmp_path)
    yield g
    g.engine.dispose()


def statuses(outcome) -> list[str]:
    return [r["status"] for r in outcome.results]


def codes(result: dict) -> list[str]:
    return [x["code"] for x in result["exceptions"]]


# --- push -----------------------------------------------------------------------------------------

def test_an_event_is_stored_once_and_a_resend_is_a_duplicate(garden):
    event = garden.water("rose", 300)
    first = garden.push([event])
    assert statuses(first) == ["stored"] and first.results[0]["id"] == event["id"]
    again = garden.push([event])
    assert statuses(again) == ["duplicate"] and again.acked_through_seq == 1
    assert [r["id"] for r in garden.rows(schema.events)] == [event["id"]]
    assert garden.plant("rose")["water_ml"] == 300  # the handler ran once


def test_a_duplicate_answers_with_the_flags_of_the_original(garden):
    event = garden.water("rose", 6000)
    first = garden.push([event]).results[0]
    assert codes(first) == ["overwatered"]
    assert garden.push([event]).results[0]["exceptions"] == first["exceptions"]
    assert len(garden.flags()) == 1  # answered again, not raised again


def test_the_same_id_with_other_content_is_quarantined_and_the_original_kept(garden):
    event = garden.water("rose", 300)
    garden.push([event])
    forged = dict(event, seq=2, payload={"plant": "rose", "ml": 9000})
    result = garden.push([forged]).results[0]
    assert result["status"] == "quarantined" and codes(result) == ["id_collision"]
    assert garden.plant("rose")["water_ml"] == 300
    [stored] = garden.rows(schema.events)
    assert stored["payload"] == {"plant": "rose", "ml": 300}
    [held] = garden.rows(schema.quarantine)
    assert held["reason"] == "id_collision" and json.loads(held["raw"])["payload"]["ml"] == 9000


def test_an_unknown_type_is_quarantined_and_kept_raw(garden):
    event = garden.event("plant.sung_to", {"plant": "rose", "song": "la"})
    outcome = garden.push([event])
    assert statuses(outcome) == ["quarantined"] and codes(outcome.results[0]) == ["unknown_type"]
    assert outcome.acked_through_seq == 1  # kept, so the queue moves on
    [held] = garden.rows(schema.quarantine)
    assert held["reason"] == "unknown_type" and held["event_id"] == event["id"] and held["seq"] == 1
    assert json.loads(held["raw"]) == event
    assert garden.rows(schema.events) == []
    assert [f[0] for f in garden.flags()] == ["unknown_type"]  # the office sees it


@pytest.mark.parametrize("payload", [{"plant": "rose", "ml": -5}, {"plant": "rose", "ml": "lots"}, {"ml": 5},
                                     {"plant": "rose", "ml": True}])
def test_an_invalid_payload_is_quarantined(garden, payload):
    outcome = garden.push([garden.event("plant.watered", payload, v=2)])
    assert statuses(outcome) == ["quarantined"] and codes(outcome.results[0]) == ["invalid_payload"]
    assert [q["reason"] for q in garden.rows(schema.quarantine)] == ["invalid_payload"]
    assert garden.plant("rose")["water_ml"] == 0


def test_a_role_that_may_not_send_a_type_is_forbidden(garden):
    pruner_waters = garden.water("rose", 100) | {"actor_id": PRUNER}
    visitor_prunes = garden.prune("rose", 5, actor=VISITOR)
    pruner_prunes = garden.prune("rose", 5, actor=PRUNER)
    outcome = garden.push([pruner_waters, visitor_prunes, pruner_prunes])
    assert statuses(outcome) == ["quarantined", "quarantined", "stored"]
    assert codes(outcome.results[0]) == codes(outcome.results[1]) == ["forbidden"]
    assert garden.plant("rose")["water_ml"] == 0 and garden.plant("rose")["prunings"] == 1


def test_an_actor_who_never_signed_on_the_device_is_an_unknown_actor(garden):
    outcome = garden.push([garden.water("rose", 100) | {"actor_id": STRANGER}])
    assert statuses(outcome) == ["quarantined"] and codes(outcome.results[0]) == ["unknown_actor"]
    assert garden.plant("rose")["water_ml"] == 0


def test_a_handler_that_raises_keeps_its_event_in_quarantine_and_stores_the_rest(garden):
    good = garden.water("rose", 100)
    bad = garden.water("fern", 200, note="crash")
    also_good = garden.water("basil", 300)
    outcome = garden.push([good, bad, also_good])
    assert statuses(outcome) == ["stored", "quarantined", "stored"]
    assert codes(outcome.results[1]) == ["handler_error"]
    assert "the watering can broke" in outcome.results[1]["exceptions"][0]["message"]
    assert outcome.acked_through_seq == 3
    assert {r["id"] for r in garden.rows(schema.events)} == {good["id"], also_good["id"]}
    [held] = garden.rows(schema.quarantine)
    assert held["reason"] == "handler_error" and held["event_id"] == bad["id"] and json.loads(held["raw"]) == bad
    # The failed handler's own write was rolled back with it; the others' stayed.
    assert {p["name"]: p["water_ml"] for p in garden.state()} == {"rose": 100, "fern": 0, "basil": 300}


def test_flags_are_returned_and_written_to_the_review_queue(garden):
    ok, over, unknown = garden.water("rose", 100), garden.water("fern", 5001), garden.water("cactus", 10)
    outcome = garden.push([ok, over, unknown])
    assert statuses(outcome) == ["stored"] * 3
    assert [r["exceptions"] for r in outcome.results] == [
        [],
        [{"code": "overwatered", "plant": "fern", "water_ml": 5001}],
        [{"code": "unknown_plant", "plant": "cactus"}],
    ]
    assert garden.flags() == [("overwatered", over["id"], {"plant": "fern", "water_ml": 5001}),
                              ("unknown_plant", unknown["id"], {"plant": "cactus"})]
    x = schema.exceptions.c
    assert [r["subject"] for r in garden.rows(schema.exceptions, order=x.id)] == ["plant:fern", "plant:cactus"]
    assert all(r["resolved_at"] is None for r in garden.rows(schema.exceptions))  # open, for the office


def test_a_clock_far_off_is_flagged_and_the_event_stored(garden):
    late = garden.water("rose", 100) | {"occurred_at": NOW + 3_600_000}
    result = garden.push([late]).results[0]
    assert result["status"] == "stored" and codes(result) == ["clock_suspect"]
    assert [f[0] for f in garden.flags()] == ["clock_suspect"]


def pruning_run(garden: Garden) -> list[dict]:
    return [garden.prune("rose", 10), garden.prune("fern", 45), garden.prune("rose", 15), garden.prune("cactus", 1),
            garden.prune("fern", 1), garden.prune("rose", 20)]


def test_a_batch_handler_gives_the_same_state_and_flags_as_one_event_at_a_time(tmp_path):
    (tmp_path / "batch").mkdir()
    (tmp_path / "single").mkdir()
    device = str(uuid.uuid4())  # the same events for both
    batched = Garden(tmp_path / "batch", device=device)
    single = Garden(tmp_path / "single", make_registry(batch=False), device=device)
    events = pruning_run(batched)
    BATCH_CALLS.clear()
    together = batched.push(events)
    assert BATCH_CALLS == [len(events)]  # one call for the whole run: the batch path was taken
    apart = [single.push([e]).results[0] for e in events]
    assert together.results == apart
    assert batched.state() == single.state()
    assert batched.flags() == single.flags()
    assert [c for r in apart for c in codes(r)] == ["too_short", "unknown_plant", "too_short", "too_short"]
    assert {p["name"]: (p["height_cm"], p["prunings"]) for p in batched.state()} == {
        "rose": (5, 3), "fern": (4, 2), "basil": (50, 0)}
    for g in (batched, single):
        g.engine.dispose()


def test_seq_gaps_are_reported_and_filling_them_advances_the_acknowledged_run(garden):
    e1, e2, e3, e4 = (garden.water("rose", 1) for _ in range(4))
    reply = garden.push([e1, e3])
    assert reply.acked_through_seq == 1 and reply.missing_seqs == [2]
    reply = garden.push([e4])
    assert reply.acked_through_seq == 1 and reply.missing_seqs == [2]
    reply = garden.push([e2])
    assert reply.acked_through_seq == 4 and reply.missing_seqs == []
    [device] = garden.rows(schema.devices)
    assert device["acked_through_seq"] == 4 and device["last_push_at"] == NOW


def test_a_quarantined_event_fills_its_seq(garden):
    e1, unknown, e3 = garden.water("rose", 1), garden.event("plant.sung_to", {}), garden.water("rose", 1)
    assert garden.push([e1, e3]).missing_seqs == [2]
    reply = garden.push([unknown])
    assert reply.acked_through_seq == 3 and reply.missing_seqs == []


def test_an_old_version_is_upgraded_before_it_is_validated(garden):
    # v1 has no `ml`: validated as sent, it would fail; upgraded first, it is 2000 ml.
    old = garden.event("plant.watered", {"plant": "rose", "litres": 2}, v=1)
    result = garden.push([old]).results[0]
    assert result["status"] == "stored", result
    assert garden.plant("rose")["water_ml"] == 2000
    [stored] = garden.rows(schema.events)
    assert (stored["v"], stored["payload"]) == (1, {"plant": "rose", "litres": 2})  # kept as the device sent it
    bad_v1 = garden.event("plant.watered", {"plant": "rose", "litres": "two"}, v=1)
    assert codes(garden.push([bad_v1]).results[0]) == ["invalid_payload"]


def test_a_version_newer_than_the_server_knows_is_quarantined(garden):
    result = garden.push([garden.event("plant.watered", {"plant": "rose", "ml": 1}, v=3)]).results[0]
    assert result["status"] == "quarantined" and codes(result) == ["invalid_payload"]


def test_the_stored_payload_keeps_only_the_declared_fields(garden):
    event = garden.water("rose", 100, junk="x" * 50, note="morning")
    assert garden.push([event]).results[0]["status"] == "stored"
    [stored] = garden.rows(schema.events)
    assert stored["payload"] == {"plant": "rose", "ml": 100, "note": "morning"}
    assert garden.push([event]).results[0]["status"] == "duplicate"  # the hash is of what was sent


# --- pull -----------------------------------------------------------------------------------------

def pull_everything(garden: Garden, cursor: str | None, limit: int) -> tuple[list[dict], list[list], str]:
    pages, seen = [], []
    while True:
        page = garden.pull(cursor, limit)
        assert page["reset_required"] is False
        pages.append(page["plants"] + [{"gone": k} for k in page["deleted"]["plants"]])
        seen += page["plants"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return seen, pages, cursor


def test_the_triggers_are_installed_on_the_toy_table(garden):
    with garden.engine.connect() as conn:
        assert missing_triggers(conn, "sqlite", "toy_plants") == []
        assert missing_triggers(conn, "sqlite", "sync_events") != []


def test_pull_pages_through_every_change_with_an_opaque_cursor(garden):
    with garden.engine.begin() as conn:
        conn.execute(insert(plants), [{"name": f"herb{i}", "water_ml": 0, "height_cm": 20, "prunings": 0}
                                      for i in range(4)])
    seen, pages, cursor = pull_everything(garden, None, limit=2)
    assert sorted(p["name"] for p in seen) == sorted(["rose", "fern", "basil", "herb0", "herb1", "herb2", "herb3"])
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    nothing = garden.pull(cursor)
    assert nothing["plants"] == [] and nothing["cursor"] == cursor and nothing["has_more"] is False
    garden.push([garden.water("basil", 250)])  # a handler's change reaches the log through the trigger
    changed = garden.pull(cursor)
    assert changed["plants"] == [{"name": "basil", "water_ml": 250, "height_cm": 50}]
    assert changed["cursor"] != cursor


def test_pull_sends_tombstones_for_deleted_rows_and_changed_keys(garden):
    start = garden.pull(None)["cursor"]
    with garden.engine.begin() as conn:
        conn.execute(delete(plants).where(plants.c.name == "fern"))
        conn.execute(update(plants).where(plants.c.name == "rose").values(name="rosa"))
    page = garden.pull(start)
    assert sorted(page["deleted"]["plants"]) == ["fern", "rose"]
    assert [p["name"] for p in page["plants"]] == ["rosa"]
    c = schema.changes.c
    logged = [(r["key"], bool(r["deleted"])) for r in garden.rows(schema.changes, c.change_no > 3, order=c.change_no)]
    assert logged == [("fern", True), ("rose", True), ("rosa", False)]  # the old key's tombstone first


def test_a_cursor_from_before_compaction_must_start_over(garden):
    old = garden.pull(None)["cursor"]
    with garden.engine.begin() as conn:
        conn.execute(delete(plants).where(plants.c.name == "fern"))
    garden.push([garden.water("rose", 10)])
    with Session(garden.engine) as session:
        top = session.execute(select(schema.changes.c.change_no).order_by(schema.changes.c.change_no.desc())).first()[0]
        removed = compact(session, top)  # as `flask compact-sync-log` does: below a change the log holds
        session.commit()
    assert removed == 3  # rose's and fern's older rows, and fern's tombstone
    stale = garden.pull(old)
    assert stale["reset_required"] is True and stale["cursor"] is None and stale["plants"] == []
    fresh = garden.pull(None)
    assert fresh["reset_required"] is False
    assert sorted(p["name"] for p in fresh["plants"]) == ["basil", "rose"] and fresh["deleted"]["plants"] == []
    assert garden.pull(fresh["cursor"])["reset_required"] is False


def test_a_cursor_not_made_by_the_engine_must_start_over(garden):
    assert garden.pull("not-a-cursor!!")["reset_required"] is True
    assert garden.pull(encode_cursor(Position(0, 10**6)))["reset_required"] is False  # ours, just ahead


# --- layering -------------------------------------------------------------------------------------

def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_no_module_of_sync_imports_flask_or_the_web_app():
    files = sorted((ROOT / "sync").rglob("*.py"))
    assert len(files) >= 8 and ROOT / "sync" / "ingest.py" in files
    bad = {f"{p.relative_to(ROOT)}: {name}" for p in files for name in _imports(p)
           if name.split(".")[0] in ("webapp", "flask", "flask_sqlalchemy", "flask_login", "werkzeug")
           or name.split(".")[0].startswith("flask")}
    assert bad == set()


def test_this_test_imports_only_sync():
    tops = {name.split(".")[0] for name in _imports(Path(__file__))}
    assert "webapp" not in tops and not any(t.startswith("flask") for t in tops)


def test_importing_the_whole_engine_loads_neither_flask_nor_the_web_app():
    modules = sorted(p.stem for p in (ROOT / "sync").glob("*.py") if p.stem != "__init__")
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module('sync.' + m)\n"
            "print(sorted({n.split('.')[0] for n in sys.modules if n.split('.')[0] in ('webapp', 'flask')}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
