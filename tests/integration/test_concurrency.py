"""Pushes at the same moment, through real gunicorn workers on the test's database (SQLite or PostgreSQL)."""

import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import func, select

from sync import schema
from tests.conftest import PG_URL
from tests.live_server import LiveServer, free_port
from webapp.extensions import db


@pytest.fixture
def live(app, tmp_path, plant):
    """gunicorn with 3 workers on the same database as `app`."""
    server = LiveServer(tmp_path, free_port(), database_url=PG_URL, workers=3)
    server.start()
    yield server
    server.close()


def event(device_id: str, seq: int, code: str, quantity: int = 5) -> dict:
    return {"id": str(uuid.uuid4()), "device_id": device_id, "seq": seq, "type": "bin.counted", "v": 2,
            "occurred_at": int(time.time() * 1000), "payload": {"bin_code": code, "quantity": quantity,
                                                                 "unit": "pcs"}, "attachments": []}


def at_once(n: int, call) -> list:
    """Run `call(i)` in n threads released together; return the results in order."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i):
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_twenty_identical_pushes_at_once_store_one_row(app, live, make_user, plant):
    user = make_user("clerk", password="pw")
    device_id, token = live.register_device(user.username, "pw")
    the_event = event(device_id, 1, plant["codes"][0])
    body = {"device_id": device_id, "events": [the_event]}

    def push(_i):
        return requests.post(live.url + "/api/v1/sync/push", json=body, timeout=90,
                             headers={"Authorization": f"Bearer {token}"})

    replies = at_once(20, push)
    codes = sorted(r.status_code for r in replies)
    assert set(codes) <= {200, 409}, codes  # 409: this device's push is in flight; the device retries
    statuses = [r.json()["results"][0]["status"] for r in replies if r.status_code == 200]
    assert statuses.count("stored") <= 1 and set(statuses) <= {"stored", "duplicate"}
    with app.app_context():
        rows = db.session.execute(select(func.count()).select_from(schema.events)
                                  .where(schema.events.c.id == the_event["id"])).scalar()
    assert rows == 1


def test_twenty_devices_pushing_at_once_all_succeed(app, live, make_user, plant):
    devices = [live.register_device(make_user("clerk", password="pw").username, "pw") for _ in range(20)]

    def push(i):
        device_id, token = devices[i]
        batch = [event(device_id, seq, plant["codes"][seq % 3]) for seq in range(1, 51)]
        return requests.post(live.url + "/api/v1/sync/push", timeout=120, headers={"Authorization": f"Bearer {token}"},
                             json={"device_id": device_id, "events": batch})

    replies = at_once(20, push)
    assert [r.status_code for r in replies] == [200] * 20
    assert all(r.json()["acked_through_seq"] == 50 for r in replies)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(schema.events)).scalar() == 1000
