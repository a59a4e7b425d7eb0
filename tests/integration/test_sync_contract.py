"""The push/pull contract of shared/sync-protocol.md, over HTTP against a real database."""

import uuid

import pytest

from tests.conftest import PG_URL


@pytest.fixture
def device(signed_in_device, plant):
    return signed_in_device("clerk")


def count(device, code, quantity, **fields):
    return device.event("bin.counted", {"bin_code": code, "quantity": quantity}, **fields)


def office_events(client, auth, make_user, code):
    auth.logout()
    auth.login(make_user("office").username)
    return client.get("/api/v1/events", query_string={"bin_code": code}).json["events"]


def test_register_returns_a_token_bound_to_the_user(client, auth, make_user):
    user = make_user("inspector")
    auth.login(user.username)
    reply = client.post("/api/v1/devices", json={"label": "tablet"}, headers={"X-CSRFToken": auth.csrf("/scan")})
    assert reply.status_code == 201
    assert uuid.UUID(reply.json["device_id"]) and len(reply.json["token"]) > 30
    assert reply.json["user"]["username"] == user.username


def test_a_count_is_stored_once_however_often_it_is_pushed(client, auth, make_user, device, plant):
    code = plant["codes"][0]
    event = count(device, code, 37)
    first = device.push([event])
    assert first.status_code == 200
    assert first.json["results"] == [{"id": event["id"], "status": "stored", "exceptions": [],
                                      "missing_attachments": []}]
    assert first.json["acked_through_seq"] == 1 and first.json["missing_seqs"] == []
    again = device.push([event])
    assert again.json["results"][0]["status"] == "duplicate"
    assert again.json["acked_through_seq"] == 1
    events = office_events(client, auth, make_user, code)
    assert [e["id"] for e in events] == [event["id"]]
    stored = events[0]
    assert stored["actor"] == device.user.username and stored["device_id"] == device.id
    assert stored["occurred_at"] == event["occurred_at"] and stored["received_at"] >= event["occurred_at"] - 60_000


def test_the_count_changes_the_bin_devices_pull(device, plant):
    code = plant["codes"][1]
    device.push([count(device, code, 44)])
    bins = {b["code"]: b for b in device.pull().json["bins"]}
    assert bins[code]["quantity"] == 44


def test_same_id_with_other_content_is_quarantined_not_stored(device, plant):
    event = count(device, plant["codes"][0], 10)
    device.push([event])
    forged = dict(event, seq=2, payload={"bin_code": plant["codes"][0], "quantity": 99})
    reply = device.push([forged]).json
    assert reply["results"][0]["status"] == "quarantined"
    assert reply["results"][0]["exceptions"][0]["code"] == "id_collision"
    assert reply["acked_through_seq"] == 2  # the queue is not blocked


def test_same_seq_under_another_id_is_quarantined(device, plant):
    first = count(device, plant["codes"][0], 10)
    device.push([first])
    other = dict(count(device, plant["codes"][0], 11), seq=1)
    reply = device.push([other]).json
    assert reply["results"][0]["status"] == "quarantined"
    assert reply["results"][0]["exceptions"][0]["code"] == "seq_collision"


def test_a_gap_is_reported_and_its_fill_acknowledges_the_run(device, plant):
    code = plant["codes"][0]
    e1, e2, e3 = (count(device, code, n) for n in (10, 10, 10))
    reply = device.push([e1, e3]).json
    assert reply["acked_through_seq"] == 1 and reply["missing_seqs"] == [2]
    reply = device.push([e2]).json
    assert reply["acked_through_seq"] == 3 and reply["missing_seqs"] == []


def test_a_malformed_event_in_a_batch_never_blocks_the_others(device, plant):
    good1 = count(device, plant["codes"][0], 10)
    broken = {"id": str(uuid.uuid4()), "device_id": device.id, "seq": 2, "type": "bin.counted"}  # no payload
    device.seq += 1
    good2 = count(device, plant["codes"][1], 12)
    reply = device.push([good1, broken, good2]).json
    assert [r["status"] for r in reply["results"]] == ["stored", "quarantined", "stored"]
    assert reply["results"][1]["exceptions"][0]["code"] == "unparsable"
    assert reply["acked_through_seq"] == 3


@pytest.mark.parametrize("payload,reason", [
    ({"bin_code": "B00001Z", "quantity": -3}, "invalid_payload"),
    ({"bin_code": "B00001Z", "quantity": "12"}, "invalid_payload"),
    ({"quantity": 3}, "invalid_payload"),
])
def test_invalid_payloads_are_kept_in_quarantine(device, payload, reason):
    reply = device.push([device.event("bin.counted", payload)]).json
    assert reply["results"][0]["status"] == "quarantined"
    assert reply["results"][0]["exceptions"][0]["code"] == reason
    assert reply["acked_through_seq"] == 1


def test_an_unknown_type_is_quarantined(device):
    reply = device.push([device.event("bin.teleported", {"bin_code": "X"})]).json
    assert reply["results"][0]["status"] == "quarantined"
    assert reply["results"][0]["exceptions"][0]["code"] == "unknown_type"


def test_an_unknown_bin_is_stored_and_flagged(device):
    reply = device.push([device.event("bin.counted", {"bin_code": "ZZ999", "quantity": 3})]).json
    assert reply["results"][0]["status"] == "stored"
    assert reply["results"][0]["exceptions"] == [{"code": "unknown_bin", "bin_code": "ZZ999"}]


def test_two_different_counts_close_together_dispute_the_bin(device, plant):
    code = plant["codes"][2]
    device.push([count(device, code, 50)])
    reply = device.push([count(device, code, 47)]).json
    assert reply["results"][0]["status"] == "stored"
    assert reply["results"][0]["exceptions"][0]["code"] == "count_discrepancy"
    state = {b["code"]: b for b in device.pull().json["bins"]}[code]
    assert state["disputed"] is True and state["quantity"] == 50  # never last-write-wins
    device.push([count(device, code, 47)])
    state = {b["code"]: b for b in device.pull().json["bins"]}[code]
    assert state["disputed"] is False and state["quantity"] == 47


def test_a_role_that_may_not_count_is_quarantined(signed_in_device, plant):
    operator = signed_in_device("operator")
    reply = operator.push([count(operator, plant["codes"][0], 5)]).json
    assert reply["results"][0]["status"] == "quarantined"
    assert reply["results"][0]["exceptions"][0]["code"] == "forbidden"


def test_an_actor_who_never_signed_on_the_device_is_quarantined(device, make_user, plant):
    stranger = make_user("clerk")
    reply = device.push([count(device, plant["codes"][0], 5, actor_id=stranger.id)]).json
    assert reply["results"][0]["exceptions"][0]["code"] == "unknown_actor"


def test_a_device_clock_far_off_is_flagged(device, plant):
    three_days = 3 * 24 * 3600 * 1000
    event = count(device, plant["codes"][0], 5)
    event["occurred_at"] += three_days
    reply = device.push([event]).json  # no sent_at: the server cannot correct the clock
    assert reply["results"][0]["status"] == "stored"
    assert "clock_suspect" in [x["code"] for x in reply["results"][0]["exceptions"]]


def test_a_device_clock_offset_is_corrected_when_the_device_says_its_time(device, plant):
    three_days = 3 * 24 * 3600 * 1000
    event = count(device, plant["codes"][0], 5)
    event["occurred_at"] += three_days
    reply = device.push([event], sent_at=event["occurred_at"] + 1000).json
    assert reply["results"][0]["exceptions"] == []


def test_more_than_200_events_is_413(device, plant):
    events = [count(device, plant["codes"][0], 1) for _ in range(201)]
    assert device.push(events).status_code == 413


def test_a_bad_token_is_401_and_a_revoked_device_403(client, device, app):
    reply = client.post("/api/v1/sync/push", json={"events": []}, headers={"Authorization": "Bearer nope"})
    assert reply.status_code == 401 and reply.json["error"] == "sign_in_again"
    from sqlalchemy import update

    from sync import schema
    from webapp.extensions import db

    with app.app_context():
        db.session.execute(update(schema.devices).where(schema.devices.c.id == device.id).values(revoked_at=1))
        db.session.commit()
    assert device.push([]).status_code == 403


def test_a_session_can_push_with_the_csrf_header(client, auth, device, plant):
    event = count(device, plant["codes"][0], 9)
    body = {"device_id": device.id, "events": [event]}
    assert client.post("/api/v1/sync/push", json=body).status_code == 400  # no X-CSRFToken
    reply = client.post("/api/v1/sync/push", json=body, headers={"X-CSRFToken": auth.csrf("/scan")})
    assert reply.status_code == 200 and reply.json["results"][0]["status"] == "stored"


def test_pull_pages_with_an_opaque_cursor(device, plant):
    first = device.pull().json
    assert {b["code"] for b in first["bins"]} == set(plant["codes"])
    assert {o["code"] for o in first["operations"]} == set(plant["operations"])
    assert [w["number"] for w in first["work_orders"]] == [plant["order"]]
    assert first["has_more"] is False and first["reset_required"] is False, first
    nothing = device.pull(first["cursor"]).json
    assert nothing["bins"] == [] and nothing["cursor"] == first["cursor"]
    device.push([count(device, plant["codes"][0], 21)])
    changed = device.pull(first["cursor"]).json
    assert [b["code"] for b in changed["bins"]] == [plant["codes"][0]]


def test_pull_is_paged(app, device, plant):
    from webapp.services import sync_service
    from sync.pull import pull_page

    with app.app_context():
        from webapp.extensions import db

        seen, cursor, pages = set(), None, 0
        while True:
            page = pull_page(db.session, sync_service.PULL_SOURCES, cursor, 0, limit=2)
            seen |= {b["code"] for b in page["bins"]}
            cursor, pages = page["cursor"], pages + 1
            if not page["has_more"]:
                break
    assert seen == set(plant["codes"]) and pages > 2


def test_a_deleted_bin_is_a_tombstone(app, device, plant):
    first = device.pull().json
    from sqlalchemy import delete, select

    from webapp.extensions import db
    from webapp.models import Bin, BinLabel

    with app.app_context():
        b = db.session.execute(select(Bin).where(Bin.code == plant["codes"][2])).scalar_one()
        db.session.execute(delete(BinLabel).where(BinLabel.bin_id == b.id))
        db.session.delete(b)
        db.session.commit()
    page = device.pull(first["cursor"]).json
    assert page["deleted"]["bins"] == [plant["codes"][2]]


def test_a_cursor_not_ours_asks_for_a_reset(device):
    page = device.pull("garbage!!").json
    assert page["reset_required"] is True


def test_events_api_is_for_the_office_only(client, auth, make_user):
    auth.login(make_user("clerk").username)
    assert client.get("/api/v1/events").status_code == 403
    auth.logout()
    auth.login(make_user("follower").username)
    assert client.get("/api/v1/events").status_code == 200


def test_openapi_describes_the_contract(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/devices", "/api/v1/sync/push", "/api/v1/sync/pull", "/api/v1/events"} <= set(paths)


def test_each_change_is_logged_once_however_many_apps_a_process_made(app, make_app, migrated, tmp_path, plant):
    from sqlalchemy import func, select

    from sync import schema
    from webapp.config import TestConfig
    from webapp.extensions import db
    from webapp.models import Bin

    make_app(TestConfig(database_url=migrated if migrated.startswith("postgres") else None, instance=tmp_path))
    with app.app_context():
        b = db.session.execute(select(Bin).where(Bin.code == plant["codes"][0])).scalar_one()
        b.quantity = 1
        db.session.commit()
        rows = db.session.execute(select(func.count()).select_from(schema.changes).where(
            schema.changes.c.entity == "bin", schema.changes.c.key == plant["codes"][0])).scalar()
    assert rows == 2  # created, then changed


def test_an_event_without_actor_is_the_pushing_persons(client, auth, make_user, device, plant):
    event = count(device, plant["codes"][0], 17)
    del event["actor_id"]
    assert device.push([event]).json["results"][0]["status"] == "stored"
    stored = office_events(client, auth, make_user, plant["codes"][0])
    assert [e["actor"] for e in stored] == [device.user.username]


def test_a_device_with_only_its_token_pushes_and_pulls(app, device, plant):
    phone = app.test_client()  # no session cookie: a phone whose session ended
    event = count(device, plant["codes"][0], 8)
    reply = phone.post("/api/v1/sync/push", json={"device_id": device.id, "events": [event]}, headers=device.headers)
    assert reply.status_code == 200 and reply.json["results"][0]["status"] == "stored"
    assert phone.get("/api/v1/sync/pull", headers=device.headers).status_code == 200
    assert phone.get("/api/v1/sync/pull").status_code == 401


def test_a_v1_count_is_upgraded_and_equals_a_v2_count(app, signed_in_device, plant):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Count

    old, new = signed_in_device("clerk"), signed_in_device("keeper")
    v1 = old.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 12}, v=1)
    v2 = new.event("bin.counted", {"bin_code": plant["codes"][1], "quantity": 12, "unit": "pcs"}, v=2)
    assert old.push([v1]).json["results"][0]["status"] == "stored"
    assert new.push([v2]).json["results"][0]["status"] == "stored"
    with app.app_context():
        counts = {c.event_id: c for c in db.session.execute(select(Count)).scalars()}
        a, b = counts[v1["id"]], counts[v2["id"]]
        assert (a.quantity, a.unit, a.outcome) == (b.quantity, b.unit, b.outcome) == (12, "pcs", "recorded")
    bins = {b["code"]: b for b in new.pull().json["bins"]}
    assert bins[plant["codes"][0]]["quantity"] == bins[plant["codes"][1]]["quantity"] == 12


def test_a_v2_count_without_its_unit_is_quarantined(device, plant):
    event = device.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 12}, v=2)
    result = device.push([event]).json["results"][0]
    assert result["status"] == "quarantined" and result["exceptions"][0]["code"] == "invalid_payload"


def test_a_version_newer_than_the_server_knows_is_kept(device, plant):
    event = device.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 1, "unit": "pcs"}, v=9)
    result = device.push([event]).json["results"][0]
    assert result["status"] == "quarantined"


@pytest.mark.skipif(not PG_URL, reason="two writers at once need PostgreSQL; on SQLite commit order is number order")
def test_a_late_commit_of_a_lower_change_number_is_never_skipped(app, device, plant):
    from sqlalchemy import create_engine

    from sync.pull import record_changes

    start = device.pull().json["cursor"]
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        early = engine.connect()
        early_tx = early.begin()
        record_changes(early, [("bin", plant["codes"][0], False)], 1)  # takes the lower change number
        with engine.begin() as late:
            record_changes(late, [("bin", plant["codes"][1], False)], 2)  # commits first
        page = device.pull(start).json
        assert page["bins"] == []  # the later commit waits behind the running one
        early_tx.commit()
        early.close()
        page = device.pull(start).json
        assert sorted(b["code"] for b in page["bins"]) == sorted(plant["codes"][:2])
    finally:
        engine.dispose()


def pull_as(device, build: str | None, **query):
    """Pull as a device on `build` ("<release>+<hash>"; None: a build that sends none)."""
    if build is not None:
        query["build"] = build
    return device.client.get("/api/v1/sync/pull", query_string=query, headers=device.headers)


def test_without_min_build_every_build_pulls_and_answers_name_the_servers_build(app, device, plant):
    pushed = device.push([count(device, plant["codes"][0], 3)]).json
    assert pushed["min_build"] is None and pushed["build"] == app.config["DEVICE_BUILD"]
    for build in (None, "0+abc", "an old content hash"):
        reply = pull_as(device, build)
        assert reply.status_code == 200
        assert reply.json["min_build"] is None and reply.json["build"] == app.config["DEVICE_BUILD"]


def test_a_build_below_min_build_still_pushes_but_may_not_pull(app, device, plant):
    from webapp.releases import RELEASE

    app.config["MIN_BUILD"] = RELEASE + 1
    code = plant["codes"][0]
    old, new = f"{RELEASE}+0123456789ab", f"{RELEASE + 1}+0123456789ab"
    event = count(device, code, 12)
    pushed = device.client.post("/api/v1/sync/push", headers=device.headers,
                                 json={"device_id": device.id, "build": old, "events": [event]})
    # Its outbox drains: the contract never strands captured work on an old build.
    assert pushed.status_code == 200 and pushed.json["results"][0]["status"] == "stored"
    assert pushed.json["min_build"] == RELEASE + 1 and pushed.json["build"] == app.config["DEVICE_BUILD"]

    for build in (old, None, "0123456789ab"):
        refused = pull_as(device, build)
        assert refused.status_code == 426, build
        assert refused.json["error"] == "build_too_old" and refused.json["min_build"] == RELEASE + 1
        assert refused.json["build"] == app.config["DEVICE_BUILD"]
        assert "bins" not in refused.json
    assert pull_as(device, old).json["message"] == "This app version is too old. Update it once everything is synced."
    zh = device.client.get("/api/v1/sync/pull", query_string={"build": old},
                           headers={**device.headers, "Accept-Language": "zh-CN"})
    assert zh.status_code == 426 and zh.json["message"] == "此应用版本过旧。所有记录同步后请更新。"

    fresh = pull_as(device, new)
    assert fresh.status_code == 200 and fresh.json["min_build"] == RELEASE + 1
    assert {b["code"]: b["quantity"] for b in fresh.json["bins"]}[code] == 12


def test_pull_brings_people_open_transfers_and_inspections_and_the_sampling_plan(app, device, plant):
    """What the floor needs offline besides bins: who may sign, what is open, how to sample."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Bin, Inspection, Setting, Transfer, User, WorkOrder

    with app.app_context():
        clerk = db.session.execute(select(User).where(User.role == "clerk")).scalars().first()
        b = db.session.execute(select(Bin).where(Bin.code == plant["codes"][0])).scalar_one()
        order = db.session.execute(select(WorkOrder)).scalar_one()
        transfer = Transfer(number="ZX-T1", bin=b, work_order=order, quantity=50, created_by=clerk.id)
        inspection = Inspection(uid="00000000-0000-4000-8000-00000000000f", kind="final", work_order=order,
                                bin_id=b.id, lot_size=800, sample_size=80, aql="2.5", accept_number=5,
                                reject_number=6, inspector_id=clerk.id)
        db.session.add_all([transfer, inspection, Setting(key="aql", value="2.5")])
        db.session.commit()
        inspection_key, inspection_id = inspection.uid, inspection.id
    first = device.pull().json
    people = {u["username"]: u for u in first["users"]}
    assert people[device.user.username]["role"] == device.user.role
    assert all("password_hash" not in u and "password" not in str(u) for u in first["users"])
    assert [(t["number"], t["bin_code"]) for t in first["transfers"]] == [("ZX-T1", plant["codes"][0])]
    [open_inspection] = first["inspections"]
    assert open_inspection["inspection_id"] == inspection_key and open_inspection["sample_size"] == 80
    assert {"key": "aql", "value": "2.5"} in first["settings"]

    # The transfer completes and the inspection is closed without a finish time (an old one): both leave the devices
    # (an inspection finished in the last two weeks stays, for the device to show it).
    with app.app_context():
        found = db.session.get(Inspection, inspection_id)
        found.status = "passed"
        t = db.session.execute(select(Transfer).where(Transfer.number == "ZX-T1")).scalar_one()
        t.status = "complete"  # through the ORM, as the app changes them: recorded in the change log
        db.session.commit()
    later = device.pull(first["cursor"]).json
    assert later["deleted"]["transfers"] == ["ZX-T1"] and later["deleted"]["inspections"] == [inspection_key]
