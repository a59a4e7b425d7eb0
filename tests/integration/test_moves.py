"""Moving a bin (`bin.moved`): transfers, the bin following the log, `location_conflict`, `negative_stock`."""

import re
import time

import pytest
from sqlalchemy import select

from sync import schema
from sync.flags import flags_of
from webapp.extensions import db
from webapp.models import Bin, Count, Location, Transfer
from webapp.models.types import from_ms

RULES = {"location_conflict", "negative_stock", "unknown_bin", "count_discrepancy"}


@pytest.fixture
def places(app, plant):
    """The plant's two operation stations plus a waiting area and a store."""
    with app.app_context():
        db.session.add_all([
            Location(code="WAIT-1", kind="waiting", name_zh="待料区", name_en="Waiting area"),
            Location(code="WH-1", kind="warehouse", name_zh="成品库", name_en="Finished goods store"),
        ])
        db.session.commit()
    return {"start": "L-OP10", "next": "L-OP20", "waiting": "WAIT-1", "store": "WH-1"}


def move(device, code, to, seen, *, at=None, version=1, **extra):
    payload = {"bin_code": code, "to_location": to, "seen_location": seen, "seen_version": version, **extra}
    fields = {"occurred_at": at} if at is not None else {}
    return device.event("bin.moved", payload, **fields)


def codes(result):
    return sorted(f["code"] for f in result["exceptions"] if f["code"] in RULES)


def bin_state(app, code):
    with app.app_context():
        b = db.session.execute(select(Bin).where(Bin.code == code)).scalar_one()
        state = {"location": b.location.code if b.location else None, "since": b.location_since,
                 "quantity": b.quantity, "disputed": b.disputed, "version": b.version}
        db.session.remove()
    return state


def stored_flags(app, event_id):
    with app.app_context():
        flags = flags_of(db.session, [event_id]).get(event_id, [])
        db.session.remove()
    return sorted(f["code"] for f in flags if f["code"] in RULES)


def open_exceptions(app, code):
    with app.app_context():
        x = schema.exceptions.c
        rows = db.session.execute(select(x.event_id, x.detail).where(x.code == code, x.resolved_at.is_(None))).all()
        db.session.remove()
    return rows


def test_a_move_stores_a_completed_transfer_and_moves_the_bin(app, signed_in_device, plant, places):
    device = signed_in_device("clerk")
    code = plant["codes"][0]
    event = move(device, code, places["next"], places["start"])
    reply = device.push([event]).json
    assert reply["results"][0]["status"] == "stored" and codes(reply["results"][0]) == []
    state = bin_state(app, code)
    assert state["location"] == places["next"] and state["version"] == 2
    assert state["since"] == from_ms(event["occurred_at"])
    with app.app_context():
        t = db.session.execute(select(Transfer).where(Transfer.event_id == event["id"])).scalar_one()
        assert t.number == "MV-" + event["id"].replace("-", "")
        assert (t.kind, t.status, t.quantity, t.seen_bin_version) == ("next_operation", "complete", 50, 1)
        assert (t.from_location.code, t.to_location.code) == (places["start"], places["next"])
        assert t.created_by == device.user.id and t.created_at == from_ms(event["occurred_at"])
        db.session.remove()
    pulled = {b["code"]: b for b in device.pull().json["bins"]}
    assert pulled[code]["location_code"] == places["next"] and pulled[code]["version"] == 2
    again = device.push([event]).json["results"][0]
    assert again["status"] == "duplicate"


@pytest.mark.parametrize("where,kind", [("waiting", "waiting"), ("store", "warehouse"), ("next", "next_operation")])
def test_the_slip_kind_follows_the_destination(app, signed_in_device, plant, places, where, kind):
    device = signed_in_device("keeper")
    event = move(device, plant["codes"][1], places[where], places["start"], quantity=12)
    assert device.push([event]).json["results"][0]["status"] == "stored"
    with app.app_context():
        t = db.session.execute(select(Transfer).where(Transfer.event_id == event["id"])).scalar_one()
        assert (t.kind, t.quantity) == (kind, 12)
        db.session.remove()


@pytest.mark.parametrize("arrival", ["log order", "later first"])
def test_one_bin_moved_twice_offline_flags_the_later_move_and_follows_it(app, signed_in_device, plant, places,
                                                                         arrival):
    """Two devices saw the bin at the same place and took it to different places."""
    first_device, second_device = signed_in_device("clerk"), signed_in_device("keeper")
    code = plant["codes"][0]
    now = int(time.time() * 1000)
    first = move(first_device, code, places["next"], places["start"], at=now - 60_000)
    second = move(second_device, code, places["waiting"], places["start"], at=now - 30_000)
    pushes = [(first_device, first), (second_device, second)]
    if arrival == "later first":
        pushes.reverse()
    results = {event["id"]: device.push([event]).json["results"][0] for device, event in pushes}
    assert all(r["status"] == "stored" for r in results.values())

    assert stored_flags(app, first["id"]) == []
    assert stored_flags(app, second["id"]) == ["location_conflict"]
    [(event_id, detail)] = open_exceptions(app, "location_conflict")
    assert event_id == second["id"]
    assert detail == {"bin_code": code, "seen_location": places["start"], "seen_version": 1,
                      "logged_location": places["next"], "other_event_id": first["id"]}
    state = bin_state(app, code)
    assert state["location"] == places["waiting"] and state["since"] == from_ms(second["occurred_at"])
    with app.app_context():
        slips = {t.event_id: (t.from_location.code, t.to_location.code)
                 for t in db.session.execute(select(Transfer).where(Transfer.event_id.is_not(None))).scalars()}
        db.session.remove()
    assert slips == {first["id"]: (places["start"], places["next"]),
                     second["id"]: (places["next"], places["waiting"])}


def test_a_late_move_withdraws_a_conflict_it_explains(app, signed_in_device, plant, places):
    """B saw the bin at the next station because A (offline, earlier) had taken it there."""
    a, b = signed_in_device("clerk"), signed_in_device("keeper")
    code = plant["codes"][0]
    now = int(time.time() * 1000)
    earlier = move(a, code, places["next"], places["start"], at=now - 60_000)
    later = move(b, code, places["store"], places["next"], at=now - 30_000)
    assert codes(b.push([later]).json["results"][0]) == ["location_conflict"]  # the server had it at the start
    assert codes(a.push([earlier]).json["results"][0]) == []
    assert stored_flags(app, later["id"]) == []
    assert open_exceptions(app, "location_conflict") == []
    with app.app_context():
        x = schema.exceptions.c
        closed = db.session.execute(select(x.resolution_event_id).where(x.code == "location_conflict")).scalar_one()
        db.session.remove()
    assert closed == earlier["id"]
    assert bin_state(app, code)["location"] == places["store"]


def test_a_late_older_move_never_moves_the_bin_back(app, signed_in_device, plant, places):
    a, b = signed_in_device("clerk"), signed_in_device("clerk")
    code = plant["codes"][2]
    now = int(time.time() * 1000)
    newer = move(a, code, places["store"], places["start"], at=now - 10_000)
    older = move(b, code, places["waiting"], places["start"], at=now - 50_000)
    a.push([newer])
    before = bin_state(app, code)
    reply = b.push([older]).json["results"][0]
    assert reply["status"] == "stored" and codes(reply) == []
    after = bin_state(app, code)
    assert after["location"] == places["store"] and after["since"] == before["since"]
    assert after["version"] == before["version"] + 1
    # the newer move now follows the older one in the log: it saw the bin at the start, the log has it waiting
    assert stored_flags(app, newer["id"]) == ["location_conflict"]


def test_moving_more_pieces_than_the_bin_holds_is_negative_stock(signed_in_device, plant, places):
    device = signed_in_device("clerk")
    code = plant["codes"][0]
    fits = move(device, code, places["next"], places["start"], quantity=50)
    too_many = move(device, code, places["waiting"], places["next"], quantity=51)
    results = device.push([fits, too_many]).json["results"]
    assert [r["status"] for r in results] == ["stored", "stored"]
    assert codes(results[0]) == [] and codes(results[1]) == ["negative_stock"]
    flag = next(f for f in results[1]["exceptions"] if f["code"] == "negative_stock")
    assert flag == {"code": "negative_stock", "bin_code": code, "quantity": 51, "bin_quantity": 50}


def test_negative_stock_weighs_the_last_count_before_the_move(signed_in_device, plant, places):
    device = signed_in_device("clerk")
    code = plant["codes"][0]
    now = int(time.time() * 1000)
    counted = device.event("bin.counted", {"bin_code": code, "quantity": 30, "unit": "pcs"}, v=2,
                           occurred_at=now - 60_000)
    moved = move(device, code, places["next"], places["start"], quantity=40, at=now - 30_000)
    results = device.push([counted, moved]).json["results"]
    assert codes(results[1]) == ["negative_stock"]


def test_a_move_of_an_unknown_bin_is_stored_and_flagged(app, signed_in_device, plant, places):
    device = signed_in_device("clerk")
    reply = device.push([move(device, "ZZ-404", places["next"], None, version=0)]).json["results"][0]
    assert reply["status"] == "stored" and codes(reply) == ["unknown_bin"]
    with app.app_context():
        assert db.session.execute(select(Transfer).where(Transfer.event_id.is_not(None))).first() is None
        db.session.remove()


@pytest.mark.parametrize("payload,field", [
    ({"to_location": "NOWHERE"}, "to_location"),
    ({"to_location": None}, "to_location"),
    ({"seen_version": "1"}, "seen_version"),
    ({"seen_version": None}, "seen_version"),
    ({"quantity": -1}, "quantity"),
    ({"quantity": 1_000_001}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"bin_code": ""}, "bin_code"),
    ({"note": "x" * 501}, "note"),
])
def test_a_move_with_bad_data_is_quarantined(signed_in_device, plant, places, payload, field):
    device = signed_in_device("clerk")
    event = move(device, plant["codes"][0], places["next"], places["start"])
    event["payload"].update(payload)
    reply = device.push([event]).json
    assert reply["results"][0]["status"] == "quarantined"
    flag = reply["results"][0]["exceptions"][0]
    assert flag["code"] == "invalid_payload" and field in flag["message"]
    assert reply["acked_through_seq"] == 1


def test_a_seen_location_the_server_does_not_know_is_a_conflict_not_a_refusal(signed_in_device, plant, places):
    device = signed_in_device("clerk")
    reply = device.push([move(device, plant["codes"][0], places["next"], "GONE-1")]).json["results"][0]
    assert reply["status"] == "stored" and codes(reply) == ["location_conflict"]


@pytest.mark.parametrize("role", ["operator", "inspector", "receiver", "office"])
def test_roles_that_do_not_move_bins_are_quarantined(app, signed_in_device, plant, places, role):
    device = signed_in_device(role)
    reply = device.push([move(device, plant["codes"][0], places["next"], places["start"])]).json["results"][0]
    assert reply["status"] == "quarantined" and reply["exceptions"][0]["code"] == "forbidden"
    assert bin_state(app, plant["codes"][0])["location"] == places["start"]


def test_a_v1_move_through_the_http_endpoint_with_the_device_clock(app, client, signed_in_device, plant, places):
    """The envelope as a phone sends it: v1, sent_at for the clock offset, the answer per event."""
    device = signed_in_device("clerk")
    code = plant["codes"][1]
    sent_at = int(time.time() * 1000) - 5_000  # this phone's clock is 5 s behind
    event = {"id": "0190f5a2-7b3c-7d4e-8f90-123456789abc", "device_id": device.id, "seq": 1, "type": "bin.moved",
             "v": 1, "occurred_at": sent_at - 20_000, "actor_id": device.user.id, "attachments": [],
             "payload": {"bin_code": code.lower(), "to_location": places["store"], "seen_location": places["start"],
                         "seen_version": 1, "quantity": 50, "note": "  to the store  "}}
    reply = client.post("/api/v1/sync/push", json={"device_id": device.id, "build": "test", "sent_at": sent_at,
                                                   "events": [event]}, headers=device.headers)
    assert reply.status_code == 200
    assert reply.json["results"] == [{"id": event["id"], "status": "stored", "exceptions": [],
                                      "missing_attachments": []}]
    assert reply.json["acked_through_seq"] == 1
    state = bin_state(app, code)
    assert state["location"] == places["store"]
    with app.app_context():
        e = schema.events.c
        effective = db.session.execute(select(e.effective_at).where(e.id == event["id"])).scalar_one()
        t = db.session.execute(select(Transfer).where(Transfer.event_id == event["id"])).scalar_one()
        assert t.number == "MV-0190f5a27b3c7d4e8f90123456789abc" and t.kind == "warehouse"
        assert t.created_at == from_ms(effective) and effective > event["occurred_at"]
        db.session.remove()


def test_a_late_move_between_two_counts_ends_their_dispute(app, signed_in_device, plant, places):
    """Counts of a bin before and after a transfer need not agree, whichever arrives first."""
    counter, mover = signed_in_device("clerk"), signed_in_device("keeper")
    code = plant["codes"][0]
    now = int(time.time() * 1000)
    first = counter.event("bin.counted", {"bin_code": code, "quantity": 40, "unit": "pcs"}, v=2,
                          occurred_at=now - 90_000)
    second = counter.event("bin.counted", {"bin_code": code, "quantity": 42, "unit": "pcs"}, v=2,
                           occurred_at=now - 30_000)
    results = counter.push([first, second]).json["results"]
    assert codes(results[1]) == ["count_discrepancy"]
    assert bin_state(app, code)["disputed"] is True

    moved = move(mover, code, places["next"], places["start"], at=now - 60_000)
    assert codes(mover.push([moved]).json["results"][0]) == []
    state = bin_state(app, code)
    assert state["disputed"] is False and state["quantity"] == 42
    with app.app_context():
        outcomes = dict(db.session.execute(select(Count.event_id, Count.outcome)).all())
        db.session.remove()
    assert outcomes == {first["id"]: "recorded", second["id"]: "recorded"}
    assert open_exceptions(app, "count_discrepancy") == []


def test_a_batch_whose_late_move_rejudges_a_move_of_the_same_batch(app, signed_in_device, plant, places):
    """A device whose clock went back: its second move is earlier in the log than its first."""
    device = signed_in_device("clerk")
    code = plant["codes"][0]
    now = int(time.time() * 1000)
    first = move(device, code, places["store"], places["next"], at=now - 10_000)
    second = move(device, code, places["next"], places["start"], at=now - 40_000)
    results = device.push([first, second]).json["results"]
    assert [r["status"] for r in results] == ["stored", "stored"]
    assert stored_flags(app, first["id"]) == [] and stored_flags(app, second["id"]) == []
    assert open_exceptions(app, "location_conflict") == []
    assert bin_state(app, code)["location"] == places["store"]


def test_the_bin_page_offers_the_move_to_roles_that_move_bins(client, auth, make_user, plant, places):
    code = plant["codes"][0]
    auth.login(make_user("clerk").username)
    page = client.get(f"/b/{code}").text
    assert 'id="move-form"' in page and 'data-event-type="bin.moved"' in page
    assert 'name="seen_location" value="L-OP10"' in page and 'name="seen_version" value="1"' in page
    assert '<option value="WAIT-1">Waiting area</option>' in page
    assert '<option value="L-OP10">' not in page  # where the bin already is
    auth.logout()
    auth.login(make_user("operator").username)
    assert 'id="move-form"' not in client.get(f"/b/{code}").text


def test_the_move_form_names_places_in_the_persons_language(client, auth, make_user, plant, places):
    auth.login(make_user("keeper").username)
    client.post("/language", data={"locale": "zh_CN", "csrf_token": auth.csrf("/scan")})
    page = client.get(f"/b/{plant['codes'][0]}").text
    assert "移动周转箱" in page and '<optgroup label="待料区">' in page
    assert '<option value="WH-1">成品库</option>' in page


def test_a_move_posted_without_javascript_goes_through_the_sync_path(app, client, auth, make_user, plant, places):
    code = plant["codes"][1]
    auth.login(make_user("clerk").username)
    token = auth.csrf(f"/b/{code}")
    reply = client.post(f"/b/{code}/move", data={"csrf_token": token, "to_location": places["waiting"],
                                                 "seen_location": places["start"], "seen_version": "1",
                                                 "quantity": "", "note": "next shift"})
    assert reply.status_code == 303 and reply.headers["Location"].endswith(f"/b/{code}")
    assert bin_state(app, code)["location"] == places["waiting"]
    page = client.get(f"/b/{code}").text
    assert "Bin moved." in page and "Waiting area" in page and "→ <strong>WAIT-1</strong>" in page
    with app.app_context():
        e = schema.events.c
        stored = db.session.execute(select(e.type, e.payload, e.build).where(e.type == "bin.moved")).one()
        db.session.remove()
    assert stored.build == "web" and stored.payload == {
        "bin_code": code, "to_location": places["waiting"], "seen_location": places["start"], "seen_version": 1,
        "note": "next shift"}


@pytest.mark.parametrize("form,message", [
    ({"to_location": ""}, "Choose where the bin goes."),
    ({"to_location": "NOWHERE"}, "Choose where the bin goes."),
    ({"to_location": "WAIT-1", "quantity": "lots"}, "Enter the number of pieces, from 0 to 1,000,000."),
    ({"to_location": "WAIT-1", "quantity": "-3"}, "Enter the number of pieces, from 0 to 1,000,000."),
    ({"to_location": "WAIT-1", "quantity": "1000001"}, "Enter the number of pieces, from 0 to 1,000,000."),
    ({"to_location": "WAIT-1", "note": "x" * 501}, "The note is too long."),
])
def test_a_bad_move_form_is_shown_again_with_the_reason(app, client, auth, make_user, plant, places, form,
                                                        message):
    code = plant["codes"][1]
    auth.login(make_user("admin").username)
    reply = client.post(f"/b/{code}/move", data={"csrf_token": auth.csrf(f"/b/{code}"), "seen_version": "1",
                                                 **form})
    # Said next to the field (not only somewhere in the page's strings), and the count form is still there.
    assert reply.status_code == 422 and re.search(r'data-error-for="\w+">' + re.escape(message), reply.text)
    assert 'id="count-form"' in reply.text
    assert bin_state(app, code)["location"] == places["start"]


def test_the_office_sees_a_location_conflict_with_what_each_side_saw(client, auth, make_user, signed_in_device,
                                                                     plant, places):
    a, b = signed_in_device("clerk"), signed_in_device("keeper")
    code = plant["codes"][0]
    now = int(time.time() * 1000)
    a.push([move(a, code, places["next"], places["start"], at=now - 60_000)])
    b.push([move(b, code, places["store"], places["start"], at=now - 30_000, quantity=80)])
    auth.logout()
    auth.login(make_user("office").username)
    page = client.get("/office/review").text
    assert "Bin was not where the device saw it" in page and "More pieces moved than the bin held" in page
    assert "The device saw the bin at: <strong>L-OP10</strong>" in page
    assert "The records have it at: <strong>L-OP20</strong>" in page
    assert "Pieces moved: <strong>80</strong> · The bin held: <strong>50</strong>" in page


def test_a_move_by_a_replaced_label_moves_the_bin(app, signed_in_device, plant, places):
    from webapp.models import BinLabel

    code = plant["codes"][0]
    with app.app_context():
        found = db.session.execute(select(Bin).where(Bin.code == code)).scalar_one()
        db.session.add(BinLabel(code="OLD-LABEL", bin_id=found.id))
        db.session.commit()
        db.session.remove()
    device = signed_in_device("clerk")
    reply = device.push([move(device, "old-label", places["next"], places["start"])]).json["results"][0]
    assert reply["status"] == "stored" and codes(reply) == []
    assert bin_state(app, code)["location"] == places["next"]


def test_a_late_move_rejudges_negative_stock_with_the_counts_it_refolds(app, signed_in_device, plant, places):
    """Counts 40 then 60 disagree until a late transfer between them shows the bin was refilled."""
    counter, mover = signed_in_device("clerk"), signed_in_device("keeper")
    code = plant["codes"][0]
    now = int(time.time() * 1000)
    counter.push([counter.event("bin.counted", {"bin_code": code, "quantity": q, "unit": "pcs"}, v=2,
                                occurred_at=now - minutes * 1000) for q, minutes in ((40, 100), (60, 60))])
    later = move(mover, code, places["waiting"], places["next"], at=now - 30_000, quantity=55)
    assert codes(mover.push([later]).json["results"][0]) == ["location_conflict", "negative_stock"]  # held: 40
    refill = move(mover, code, places["next"], places["start"], at=now - 80_000)
    assert codes(mover.push([refill]).json["results"][0]) == []
    assert stored_flags(app, later["id"]) == []  # after the refill the bin held 60
    assert bin_state(app, code)["quantity"] == 60


def test_two_late_moves_in_one_batch_raise_each_flag_once(app, signed_in_device, plant, places):
    """Found by the log-order property test: the second late move must not judge the first again."""
    a, b = signed_in_device("clerk"), signed_in_device("keeper")
    code = plant["codes"][0]
    now = int(time.time() * 1000)
    newest = move(a, code, places["store"], places["start"], at=now - 10_000)
    a.push([newest])
    wrong = move(b, code, places["next"], None, at=now - 60_000)  # the bin was at the start
    then = move(b, code, places["waiting"], places["next"], at=now - 40_000)
    results = b.push([wrong, then]).json["results"]
    assert [codes(r) for r in results] == [["location_conflict"], []]
    # the newest move saw the bin at the start; the log now has it in the waiting area
    assert stored_flags(app, newest["id"]) == ["location_conflict"]
    assert sorted(event_id for event_id, _ in open_exceptions(app, "location_conflict")) == sorted(
        [wrong["id"], newest["id"]])
