"""Server-side faults: crashes around commit, replays, restores from backup, compaction, broken rules mid-batch."""

import uuid

from sqlalchemy import delete, func, select, update

from sync import schema
from webapp.extensions import db


def count(device, code, quantity):
    return device.event("bin.counted", {"bin_code": code, "quantity": quantity, "unit": "pcs"}, v=2)


def stored_ids(app):
    with app.app_context():
        ids = set(db.session.execute(select(schema.events.c.id)).scalars())
        db.session.remove()
    return ids


def test_a_crash_before_commit_keeps_nothing_and_the_retry_stores_once(app, signed_in_device, plant):
    from webapp.services import sync_service

    device = signed_in_device("clerk")
    event = count(device, plant["codes"][0], 20)
    with app.test_request_context():
        original = db.session.commit

        def crash():
            raise ConnectionError("server died before commit")

        db.session.commit = crash
        try:
            sync_service.push(device.id, {"events": [event]}, device.user.id)
        except ConnectionError:
            pass
        finally:
            db.session.commit = original
            db.session.rollback()
    assert event["id"] not in stored_ids(app)
    assert device.push([event]).json["results"][0]["status"] == "stored"
    assert device.push([event]).json["results"][0]["status"] == "duplicate"


def test_a_response_lost_after_commit_makes_the_retry_a_duplicate(device_and_event):
    device, event = device_and_event
    assert device.push([event]).json["results"][0]["status"] == "duplicate"


def test_an_event_replayed_after_30_days_is_a_duplicate(app, device_and_event):
    device, event = device_and_event
    month = 30 * 24 * 3600 * 1000
    with app.app_context():
        db.session.execute(update(schema.events).values(received_at=schema.events.c.received_at - month))
        db.session.commit()
    reply = device.push([event]).json
    assert reply["results"][0]["status"] == "duplicate" and reply["acked_through_seq"] == 1


def test_a_server_restored_from_backup_asks_for_what_it_lost(app, signed_in_device, plant):
    device = signed_in_device("clerk")
    events = [count(device, plant["codes"][0], 30 + n) for n in range(3)]
    assert device.push(events).json["acked_through_seq"] == 3
    with app.app_context():  # the backup was taken after seq 1: the log and what it derived go back
        from webapp.models import Count

        lost = [e["id"] for e in events[1:]]
        db.session.execute(delete(Count).where(Count.event_id.in_(lost)))
        db.session.execute(delete(schema.events).where(schema.events.c.id.in_(lost)))
        db.session.execute(update(schema.devices).where(schema.devices.c.id == device.id).values(acked_through_seq=1))
        db.session.commit()
    fourth = count(device, plant["codes"][0], 40)
    reply = device.push([fourth]).json
    assert reply["acked_through_seq"] == 1 and reply["missing_seqs"] == [2, 3]
    reply = device.push(events[1:]).json  # the device kept sent events for 14 days
    assert [r["status"] for r in reply["results"]] == ["stored", "stored"] and reply["acked_through_seq"] == 4


def test_a_rule_broken_mid_batch_flags_that_event_and_stores_all(signed_in_device, plant):
    device = signed_in_device("clerk")
    a, b = plant["codes"][:2]
    reply = device.push([count(device, a, 50), count(device, a, 47), count(device, b, 10)]).json
    assert [r["status"] for r in reply["results"]] == ["stored"] * 3
    assert [[x["code"] for x in r["exceptions"]] for r in reply["results"]] == [[], ["count_discrepancy"], []]


def test_a_handler_crash_quarantines_that_event_only(app, signed_in_device, plant, monkeypatch):
    from webapp.areas import registry
    from webapp.services import counting

    device = signed_in_device("clerk")
    real = registry.get("bin.counted").handler

    def flaky(ctx):
        if ctx.payload["quantity"] == 13:
            raise RuntimeError("unlucky")
        return real(ctx)

    def flaky_batch(session, ctxs):  # the batch path fails as a whole, then each event is decided alone
        if any(ctx.payload["quantity"] == 13 for ctx in ctxs):
            raise RuntimeError("unlucky")
        return counting.handle_counts(session, ctxs)

    monkeypatch.setattr(registry.get("bin.counted"), "handler", flaky)
    monkeypatch.setattr(registry.get("bin.counted"), "batch", flaky_batch)
    reply = device.push([count(device, plant["codes"][0], 12), count(device, plant["codes"][1], 13),
                         count(device, plant["codes"][2], 14)]).json
    assert [r["status"] for r in reply["results"]] == ["stored", "quarantined", "stored"]
    assert reply["results"][1]["exceptions"][0]["code"] == "handler_error" and reply["acked_through_seq"] == 3
    with app.app_context():
        from webapp.models import Count

        assert db.session.execute(select(func.count(Count.id))).scalar() == 2  # nothing half-applied


def test_an_expired_cursor_asks_for_a_reset_and_the_reset_is_complete(app, runner, signed_in_device, plant):
    from sync.pull import compact

    device = signed_in_device("clerk")
    old_cursor = device.pull().json["cursor"]
    for n in range(3):
        device.push([count(device, plant["codes"][0], 60 + n)])
    with app.app_context():
        top = db.session.execute(select(func.max(schema.changes.c.change_no))).scalar()
        removed = compact(db.session, top)
        db.session.commit()
    assert removed >= 2  # superseded rows of the counted bin
    assert device.pull(old_cursor).json["reset_required"] is True
    fresh = device.pull().json
    assert {b["code"] for b in fresh["bins"]} == set(plant["codes"]) and fresh["reset_required"] is False
    assert device.pull(fresh["cursor"]).json["reset_required"] is False
    assert runner.invoke(args=["compact-sync-log", "--days", "0"]).exit_code == 0


def test_a_new_device_id_after_storage_was_wiped_starts_its_own_sequence(client, auth, signed_in_device, plant):
    device = signed_in_device("clerk")
    device.push([count(device, plant["codes"][0], 5)])
    wiped = str(uuid.uuid4())
    reply = client.post("/api/v1/devices", json={"device_id": wiped}, headers={"X-CSRFToken": auth.csrf("/scan")})
    token = reply.json["token"]
    event = dict(count(device, plant["codes"][0], 6), device_id=wiped, seq=1)
    pushed = client.post("/api/v1/sync/push", json={"device_id": wiped, "events": [event]},
                         headers={"Authorization": f"Bearer {token}"}).json
    assert pushed["results"][0]["status"] == "stored" and pushed["acked_through_seq"] == 1


def test_stale_derived_rows_quarantine_the_event_instead_of_looping(app, signed_in_device, plant):
    device = signed_in_device("clerk")
    event = count(device, plant["codes"][0], 30)
    device.push([event])
    with app.app_context():  # a bad restore: the event is gone but the count it made is not
        db.session.execute(delete(schema.events).where(schema.events.c.id == event["id"]))
        db.session.commit()
    result = device.push([event]).json["results"][0]
    assert result["status"] == "quarantined" and result["exceptions"][0]["code"] == "handler_error"
