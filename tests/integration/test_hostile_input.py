"""Hostile pushes and imports (issue 13, holes 2 and 3): each ends as a 400 for the whole request or as a
quarantined event, never as a 500 that makes the device re-send the same batch for ever, and no single
push makes every later push from its device slow."""

import json
import uuid

import pytest
from sqlalchemy import select

from sync import schema
from tests.bounded import memory_headroom
from tests.integration.test_import import export_file, upload
from webapp.extensions import db

HUGE = 2**64 + 1  # past 64 bits: no database column holds it
NESTED = 1_000


@pytest.fixture
def device(signed_in_device, plant):
    return signed_in_device("clerk")


def count(device, plant, **fields):
    return device.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 5, "unit": "pcs"},
                        **{"v": 2, **fields})


def push_raw(device, text: str):
    return device.client.post("/api/v1/sync/push", data=text, content_type="application/json",
                              headers=device.headers)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def only_result(reply) -> dict:
    assert reply.status_code == 200, reply.text
    [result] = reply.json["results"]
    return result


def quarantined(reply, code: str) -> dict:
    result = only_result(reply)
    assert result["status"] == "quarantined", result
    assert result["exceptions"][0]["code"] == code, result
    return result


def review_queue_codes(client, auth, make_user) -> str:
    auth.logout()
    auth.login(make_user("office").username)
    page = client.get("/office/review")
    assert page.status_code == 200
    return page.text


# Hole 2: one push must not kill a worker, nor slow every later push of its device.

def test_a_seq_far_above_the_acknowledged_run_is_quarantined_and_not_held(client, auth, make_user, device, plant):
    far = count(device, plant, seq=3_000_000)
    reply = device.push([far])
    quarantined(reply, "seq_out_of_range")
    assert reply.json["acked_through_seq"] == 0 and reply.json["missing_seqs"] == []
    # Sent again: the same answer (no second quarantine row), and the device's real next seq still counts.
    assert quarantined(device.push([far]), "seq_out_of_range")
    device.seq = 0
    reply = device.push([count(device, plant)])
    assert only_result(reply)["status"] == "stored"
    assert reply.json["acked_through_seq"] == 1 and reply.json["missing_seqs"] == []
    assert "Sequence number far beyond the device" in review_queue_codes(client, auth, make_user)


def test_a_seq_within_the_bound_is_stored_and_its_gap_reported_up_to_200(device, plant):
    reply = device.push([count(device, plant, seq=5_000)])
    assert only_result(reply)["status"] == "stored"
    assert reply.json["missing_seqs"] == list(range(1, 201))


def test_an_unreadable_event_with_a_far_seq_is_kept_without_its_seq(device, plant):
    # Its seq would otherwise be held, and every later push would report 200 gaps below it.
    broken = count(device, plant, seq=3_000_000)
    del broken["payload"]
    reply = device.push([broken])
    quarantined(reply, "unparsable")
    assert reply.json["acked_through_seq"] == 0 and reply.json["missing_seqs"] == []


def test_the_largest_64_bit_seq_is_quarantined_at_once(device, plant):
    # Before the fix: the server listed the 2^63 missing seqs before cutting the list, until killed.
    with memory_headroom(256):
        reply = device.push([count(device, plant, seq=2**63 - 1)])
    result = quarantined(reply, "unparsable")
    assert "seq" in result["exceptions"][0]["message"]


# Hole 3: malformed pushes answer 400 as a whole, or quarantine the event; never 500.

@pytest.mark.parametrize("depth", [NESTED, 100_000])
def test_a_deeply_nested_body_is_refused_as_a_whole(device, depth):
    body = f'{{"device_id": "{device.id}", "events": [{{"payload": {nested(depth)}}}]}}'
    reply = push_raw(device, body)
    assert reply.status_code == 400 and reply.json["error"] == "bad_json"


def test_a_deeply_nested_body_is_refused_in_chinese_too(device):
    reply = device.client.post("/api/v1/sync/push", data=nested(NESTED), content_type="application/json",
                               headers={**device.headers, "Accept-Language": "zh-CN"})
    assert reply.status_code == 400 and reply.json["error"] == "bad_json"
    assert reply.json["message"] == "请求内容必须是 JSON。"


def test_a_deeply_nested_registration_is_refused(client, auth, make_user):
    auth.login(make_user("clerk").username)
    reply = client.post("/api/v1/devices", data=nested(NESTED), content_type="application/json",
                        headers={"X-CSRFToken": auth.csrf("/scan")})
    assert reply.status_code == 400 and reply.json["error"] == "bad_json"


@pytest.mark.parametrize("body", ['["a list"]', "NaN", '{"label": Infinity}', "1" * 5000, '{"device_id": "\\ud800"}'])
def test_a_registration_body_that_is_not_a_json_object_is_no_server_error(client, auth, make_user, body):
    auth.login(make_user("clerk").username)
    reply = client.post("/api/v1/devices", data=body, content_type="application/json",
                        headers={"X-CSRFToken": auth.csrf("/scan")})
    assert reply.status_code in (400, 201), reply.text


def test_a_label_no_database_can_keep_is_no_server_error(client, auth, make_user):
    auth.login(make_user("clerk").username)
    for label in ("phone\x00", "phone \ud800"):
        reply = client.post("/api/v1/devices", json={"label": label, "device_id": str(uuid.uuid4())},
                            headers={"X-CSRFToken": auth.csrf("/scan")})
        assert reply.status_code == 201, reply.text  # kept, without what no database can hold


def test_a_signature_check_with_hostile_fields_is_refused_not_a_server_error(device):
    for signer in ({"id": 2**64, "badge": "AAAAAAAA"}, {"id": 1, "badge": "\ud800"}, {"id": True}, [],
                   {"id": 1, "badge": "AAAAAAAA", "content_hash": "0" * 64, "proof": "\x00" * 64}):
        reply = device.client.post("/api/v1/signatures/check", json={"event_id": "e", "signer": signer},
                                   headers=device.headers)
        assert reply.status_code in (400, 422), (signer, reply.status_code)


def test_an_event_nested_deeper_than_an_event_may_be_is_quarantined(device, plant):
    deep = json.loads(nested(40))
    event = count(device, plant)
    event["payload"]["note"] = deep
    quarantined(device.push([event]), "unparsable")


@pytest.mark.parametrize("where", ["note", "type", "key", "id"])
def test_a_lone_surrogate_in_an_event_is_quarantined(client, auth, make_user, device, plant, where):
    event = count(device, plant)
    if where == "note":
        event["payload"]["note"] = "bad \ud800 note"
    elif where == "type":
        event["type"] = "bin.counted\ud800"
    elif where == "key":
        event["payload"]["\udfff"] = 1
    else:
        event["id"] = "\ud800" + event["id"]
    reply = device.push([event])  # the test client escapes the surrogate: legal JSON, "\ud800"
    result = quarantined(reply, "unparsable")
    assert result["id"] == (None if where == "id" else event["id"])
    assert reply.json["acked_through_seq"] == 1  # the queue goes on
    assert "Unreadable record" in review_queue_codes(client, auth, make_user)


def test_a_nul_character_in_an_event_is_quarantined(device, plant):
    # PostgreSQL text cannot hold U+0000: the event is kept raw (escaped) instead of failing the push.
    event = count(device, plant)
    event["payload"]["note"] = "a\x00b"
    quarantined(device.push([event]), "unparsable")


@pytest.mark.parametrize("field", ["seq", "occurred_at", "v", "actor_id"])
def test_integers_no_column_or_javascript_holds_are_quarantined(device, plant, field):
    limit = 2**53 - 1 if field in ("seq", "occurred_at") else 2**31 - 1
    for value in (HUGE, -HUGE, 2**63, limit + 1):
        with memory_headroom(256):  # before the fix, seq 2^53 made the server list 2^53 missing seqs
            reply = device.push([count(device, plant, **{field: value})])
        result = quarantined(reply, "unparsable")
        assert field in result["exceptions"][0]["message"]
        assert reply.json["missing_seqs"] == []


@pytest.mark.parametrize("field", ["sent_at", "pending"])
def test_out_of_range_sent_at_and_pending_are_ignored(app, device, plant, field):
    # pending_count is an INTEGER column: an outbox of 2^31 events or more is not a real one either.
    for value in (HUGE, -HUGE, 2**63, 2**53, *([2**31] if field == "pending" else []), -1, 1.5, "12", True):
        reply = device.push([count(device, plant)], **{field: value})
        assert only_result(reply)["status"] == "stored", value
        assert reply.json["results"][0]["exceptions"] == []  # sent_at ignored: no clock offset applied
        with app.app_context():
            row = db.session.execute(select(schema.devices).where(schema.devices.c.id == device.id)).mappings().one()
            assert row["pending_count"] is None and row["clock_offset_ms"] == 0, value


def test_a_build_no_column_holds_is_not_kept(app, device, plant):
    reply = device.client.post("/api/v1/sync/push", headers=device.headers, json={
        "device_id": device.id, "build": "bad\ud800\x00", "events": [count(device, plant)]})
    assert only_result(reply)["status"] == "stored"


def test_a_session_push_naming_a_device_id_no_database_can_read_is_refused(client, auth, device):
    reply = client.post("/api/v1/sync/push", json={"device_id": "\ud800", "events": []},
                        headers={"X-CSRFToken": auth.csrf("/scan")})
    assert reply.status_code == 400 and reply.json["error"] == "unknown_device"


# The office import: the same events, the same answers; a broken file is refused or imported, never a 500.

@pytest.fixture
def office_import(client, auth, make_user, device):
    """Return a function that imports `events` (and `attachments`) as the office and returns the page."""
    def run(events, attachments=()):
        raw = export_file(device, events, attachments)
        auth.logout()
        auth.login(make_user("office").username)
        with memory_headroom(256):
            return upload(client, auth, raw)
    return run


@pytest.mark.parametrize("seq", [None, "3", HUGE, 2**63 - 1, [], 1.5])
def test_an_import_with_a_seq_that_is_not_a_number_quarantines_that_event(device, plant, office_import, seq):
    good = count(device, plant)
    odd = count(device, plant, seq=seq)
    page = office_import([odd, good])
    assert page.status_code == 200, page.text
    assert "data-stored>1<" in page.text and "data-quarantined>1<" in page.text


@pytest.mark.parametrize("data", [None, 12, ["aGk="], {"a": 1}, HUGE])
def test_an_import_with_attachment_data_that_is_not_text_refuses_that_file(device, plant, office_import, data):
    sha = "a" * 64
    page = office_import([count(device, plant)], [{"sha256": sha, "data_base64": data}, "not an object", None])
    assert page.status_code == 200, page.text
    assert "data-stored>1<" in page.text and "1 photos were not readable" in page.text


def test_an_import_with_odd_event_items_quarantines_them(device, plant, office_import):
    page = office_import([count(device, plant), None, "text", 7, [1, 2]])
    assert page.status_code == 200, page.text
    assert "data-stored>1<" in page.text and "data-quarantined>4<" in page.text


@pytest.mark.parametrize("code", ["\x00", "B\x00001", "B" * 101])
def test_an_event_log_query_no_database_can_read_is_refused_not_a_server_error(client, auth, make_user, code):
    """Found by schemathesis on PostgreSQL: ?bin_code=%00 raised a DataError (500)."""
    auth.login(make_user("office").username)
    reply = client.get("/api/v1/events", query_string={"bin_code": code})
    assert reply.status_code == 400 and reply.json["error"] == "bad_bin_code"
