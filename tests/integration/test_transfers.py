"""Transfer slips (`transfer.*`): four ordered signatures, void and out-of-order ones, §5.4 differences,
refusals, the bins following completed slips, mix-ups; decided from the log whatever order events arrive in."""

import hashlib
import io
import uuid

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from sync import schema
from webapp.domain.transfers import content_hash, slip_content
from webapp.extensions import db
from webapp.models import Bin, Location, Product, Transfer
from webapp.models.types import from_ms

STEPS = ("clerk", "inspector", "operator", "receiver")


@pytest.fixture
def route(routed_plant):
    """The plant on a route, with a similar part and a waiting area (tests/conftest.py)."""
    return routed_plant


def png(text="sig") -> tuple[bytes, str]:
    img = Image.new("RGB", (300, 100), "white")
    ImageDraw.Draw(img).line([(10, 80), (150, 20), (290, 70)], fill="black", width=5)
    ImageDraw.Draw(img).text((10, 10), text, fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    data = buf.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def open_slip(device, codes, quantity=20, to=None, **extra):
    """Open a slip for bins at OP10, the route's first operation (cutting: with the material's issue slip, §3.1)."""
    tid = str(uuid.uuid4())
    payload = {"transfer_id": tid, "bin_codes": codes, "to": to or {"next": True}, "quantity": quantity,
               "issue_slip": "CK-W1-000001", **extra}
    return tid, payload, device.event("transfer.opened", payload)


def sign(device, tid, step, quantity, opened_payload, **extra):
    payload = {"transfer_id": tid, "step": step, "quantity": quantity,
               "content_hash": content_hash(slip_content(opened_payload)), "signature_sha256": png(step)[1], **extra}
    if step == "inspector":
        payload.setdefault("verdict", "pass")
    return device.event("transfer.signed", payload)


def slip(client, tid):
    reply = client.get(f"/api/v1/transfers/{tid}", headers={"Accept": "application/json"})
    assert reply.status_code == 200, reply.data
    return reply.json


def codes_of(result):
    return sorted(f["code"] for f in result["exceptions"])


@pytest.fixture
def four(signed_in_device, route):
    """Four people with their own phones: clerk, inspector, operator, receiver."""
    return {step: signed_in_device(step) for step in STEPS}


def test_four_signatures_in_order_complete_the_slip_and_move_the_bin(app, four, route, client):
    code = route["codes"][0]
    tid, opened, event = open_slip(four["clerk"], [code], 50)
    assert four["clerk"].push([event]).json["results"][0]["status"] == "stored"
    state = slip(client, tid)
    assert state["status"] == "open" and state["next_step"] == "clerk"
    assert state["content_hash"] == content_hash(slip_content(opened))
    assert state["to"]["code"] == "L-OP20" and state["from"]["code"] == "L-OP10"
    for step in STEPS:
        result = four[step].push([sign(four[step], tid, step, 50, opened)]).json["results"][0]
        assert result["status"] == "stored" and codes_of(result) == []
    state = slip(client, tid)
    assert state["status"] == "complete" and state["next_step"] is None
    assert [(s["step"], s["state"], s["verification"], s["signer"]["id"]) for s in state["signatures"]] == [
        (step, "valid", "device_user", four[step].user.id) for step in STEPS]
    assert all(s["device_id"] == four[s["step"]].id for s in state["signatures"])
    with app.app_context():
        b = db.session.execute(select(Bin).where(Bin.code == code)).scalar_one()
        assert b.location.code == "L-OP20" and b.quantity == 50
        t = db.session.execute(select(Transfer).where(Transfer.number == tid)).scalar_one()
        assert t.status == "complete" and t.part_name == "状态1"
        db.session.remove()


def test_a_receiver_signing_before_the_inspector_is_kept_and_flagged_and_the_slip_waits(four, route, client):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]])
    four["clerk"].push([event, sign(four["clerk"], tid, "clerk", 20, opened)])
    early = four["receiver"].push([sign(four["receiver"], tid, "receiver", 20, opened)]).json["results"][0]
    assert early["status"] == "stored" and codes_of(early) == ["out_of_order_signature"]
    four["inspector"].push([sign(four["inspector"], tid, "inspector", 20, opened)])
    four["operator"].push([sign(four["operator"], tid, "operator", 20, opened)])
    state = slip(client, tid)
    assert state["status"] == "open" and state["next_step"] == "receiver"
    assert [s["state"] for s in state["signatures"]] == ["valid", "out_of_order", "valid", "valid"]
    # The receiver signs again, now in order: the slip completes; the early signature stays, flagged.
    four["receiver"].push([sign(four["receiver"], tid, "receiver", 20, opened)])
    state = slip(client, tid)
    assert state["status"] == "complete"
    assert any(f["code"] == "out_of_order_signature" for f in state["flags"])


def test_a_short_count_waits_for_the_operators_explanation(app, four, route, client):
    code = route["codes"][0]
    tid, opened, event = open_slip(four["clerk"], [code], 20)
    four["clerk"].push([event])
    for step, quantity in zip(STEPS, (20, 20, 20, 17), strict=True):
        result = four[step].push([sign(four[step], tid, step, quantity, opened)]).json["results"][0]
    assert codes_of(result) == ["transfer_discrepancy"]
    state = slip(client, tid)
    assert state["status"] == "discrepancy" and state["quantity_received"] == 17
    # The receiver may not explain; the operator may.
    refused = four["receiver"].push([four["receiver"].event(
        "transfer.explained", {"transfer_id": tid, "explanation": "no"})]).json["results"][0]
    assert refused["status"] == "quarantined"
    four["operator"].push([four["operator"].event(
        "transfer.explained", {"transfer_id": tid, "explanation": "3 pieces cracked in grinding"})])
    state = slip(client, tid)
    assert state["status"] == "complete" and state["explanation"]["text"] == "3 pieces cracked in grinding"
    assert state["explanation"]["by"]["id"] == four["operator"].user.id
    with app.app_context():
        b = db.session.execute(select(Bin).where(Bin.code == code)).scalar_one()
        assert (b.location.code, b.quantity) == ("L-OP20", 17)
        x = schema.exceptions.c
        closed = db.session.execute(select(x.resolved_at, x.resolution_note).where(
            x.code == "transfer_discrepancy")).one()
        assert closed.resolution_note == "3 pieces cracked in grinding"
        db.session.remove()


def test_the_statistician_writes_a_difference_off_as_scrap(four, route, signed_in_device, client):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    four["clerk"].push([event])
    for step, quantity in zip(STEPS, (20, 20, 18, 18), strict=True):
        four[step].push([sign(four[step], tid, step, quantity, opened)])
    office = signed_in_device("office")
    result = office.push([office.event("transfer.written_off", {"transfer_id": tid, "reason": "lost in transit"})])
    assert result.json["results"][0]["status"] == "stored"
    state = slip(client, tid)
    assert state["status"] == "complete" and state["scrap_quantity"] == 2
    assert state["written_off"]["by"]["id"] == office.user.id and state["written_off"]["text"] == "lost in transit"


def test_a_change_to_the_slip_voids_the_signatures_made_before_it(four, route, client):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    four["clerk"].push([event, sign(four["clerk"], tid, "clerk", 20, opened)])
    four["inspector"].push([sign(four["inspector"], tid, "inspector", 20, opened)])
    changed = {**opened, "quantity": 19}
    four["clerk"].push([four["clerk"].event("transfer.opened", changed)])
    state = slip(client, tid)
    assert [s["state"] for s in state["signatures"]] == ["void", "void"]
    assert state["next_step"] == "clerk" and state["content_hash"] == content_hash(slip_content(changed))
    assert sorted(f["code"] for f in state["flags"]) == ["signature_void", "signature_void"]
    # A late signature over the old content (a tablet that was offline) is void too.
    late = four["operator"].push([sign(four["operator"], tid, "operator", 20, opened)]).json["results"][0]
    assert codes_of(late) == ["signature_void"]
    for step in STEPS:
        four[step].push([sign(four[step], tid, step, 19, changed)])
    assert slip(client, tid)["status"] == "complete"


def test_two_tablets_signing_offline_in_different_orders_are_judged_by_the_log(four, route, client, app):
    """The inspector's tablet signed before the operator's, but syncs after it: the log, not arrival, decides."""
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    four["clerk"].push([event, sign(four["clerk"], tid, "clerk", 20, opened)])
    base = event["occurred_at"]
    inspector = sign(four["inspector"], tid, "inspector", 20, opened)
    inspector["occurred_at"] = base + 60_000
    operator = sign(four["operator"], tid, "operator", 20, opened)
    operator["occurred_at"] = base + 120_000
    first = four["operator"].push([operator]).json["results"][0]
    assert codes_of(first) == ["out_of_order_signature"]  # as far as the server knew then
    second = four["inspector"].push([inspector]).json["results"][0]
    assert codes_of(second) == []
    state = slip(client, tid)
    assert [s["state"] for s in state["signatures"]] == ["valid", "valid", "valid"]
    assert state["flags"] == [] and state["next_step"] == "receiver"
    with app.app_context():
        x = schema.exceptions.c
        withdrawn = db.session.execute(select(x.withdrawn, x.resolution_event_id).where(
            x.event_id == operator["id"])).one()
        assert withdrawn.withdrawn and withdrawn.resolution_event_id == inspector["id"]
        db.session.remove()


def test_a_signer_whose_role_may_not_sign_the_step_is_flagged_not_dropped(four, route, client):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    result = four["clerk"].push([event, sign(four["clerk"], tid, "clerk", 20, opened),
                                 sign(four["clerk"], tid, "inspector", 20, opened)]).json["results"]
    assert codes_of(result[2]) == ["step_not_allowed"]
    state = slip(client, tid)
    assert state["signatures"][1]["signer"]["role"] == "clerk"


def test_refusal_ends_the_slip_and_says_why(four, route, client):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    four["clerk"].push([event])
    photo = png("stack")[1]
    reply = four["receiver"].push([four["receiver"].event("transfer.refused", {
        "transfer_id": tid, "step": "receiver", "reason": "parts rusty", "photos": [photo]})]).json["results"][0]
    assert reply["status"] == "stored"
    state = slip(client, tid)
    assert state["status"] == "refused" and state["refusal"]["text"] == "parts rusty"
    assert state["refusal"]["photos"] == [photo]


def test_parts_of_one_spec_group_to_one_place_within_the_interval_are_flagged(app, four, route, client):
    with app.app_context():
        twin = db.session.execute(select(Product).where(Product.code == "HH-01")).scalar_one()
        b = db.session.execute(select(Bin).where(Bin.code == route["codes"][1])).scalar_one()
        b.product = twin
        db.session.commit()
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    assert codes_of(four["clerk"].push([event]).json["results"][0]) == []
    _, _, other = open_slip(four["clerk"], [route["codes"][1]], 20)
    result = four["clerk"].push([other]).json["results"][0]
    assert codes_of(result) == ["mixup_risk"]
    flag = next(f for f in result["exceptions"] if f["code"] == "mixup_risk")
    assert (flag["part"], flag["other_part"], flag["other_slip"]) == ("HH-01", "HS-01", tid)
    _, _, both = open_slip(four["clerk"], [route["codes"][0], route["codes"][1]], 40)
    assert "mixup_risk" in codes_of(four["clerk"].push([both]).json["results"][0])


def test_leaving_cutting_without_the_materials_issue_slip_is_flagged(four, route):
    _, _, event = open_slip(four["clerk"], [route["codes"][0]], 20, issue_slip=None)
    del event["payload"]["issue_slip"]
    assert codes_of(four["clerk"].push([event]).json["results"][0]) == ["issue_slip_missing"]


def test_to_the_waiting_area_in_the_clerks_keeping(app, four, route, client):
    code = route["codes"][0]
    tid, opened, event = open_slip(four["clerk"], [code], 50, to={"area": "waiting"})
    four["clerk"].push([event])
    for step in STEPS:
        four[step].push([sign(four[step], tid, step, 50, opened)])
    state = slip(client, tid)
    assert state["to"]["code"] == "WAIT-1" and state["custodian"]["id"] == four["clerk"].user.id
    with app.app_context():
        b = db.session.execute(select(Bin).where(Bin.code == code)).scalar_one()
        assert b.location.code == "WAIT-1"
        db.session.remove()


def test_a_later_move_and_a_slip_share_one_log_for_where_the_bin_is(app, four, route, client):
    """bin.moved and a completed slip are moves in one log: the later in the log wins, whatever arrives last."""
    code = route["codes"][0]
    tid, opened, event = open_slip(four["clerk"], [code], 50)
    four["clerk"].push([event])
    signs = [sign(four[step], tid, step, 50, opened) for step in STEPS]
    move = four["clerk"].event("bin.moved", {"bin_code": code, "to_location": "WAIT-1", "seen_location": "L-OP20",
                                             "seen_version": 1})
    move["occurred_at"] = event["occurred_at"] + 3_600_000  # an hour after the handover
    four["clerk"].push([move])  # arrives first
    for step, e in zip(STEPS, signs, strict=True):
        four[step].push([e])
    with app.app_context():
        b = db.session.execute(select(Bin).where(Bin.code == code)).scalar_one()
        assert b.location.code == "WAIT-1" and b.location_since == from_ms(move["occurred_at"])
        db.session.remove()


def test_hostile_slip_payloads_are_kept_in_quarantine_not_a_500(four, route):
    clerk = four["clerk"]
    bad = [
        {"transfer_id": "not-a-uuid", "bin_codes": [route["codes"][0]], "to": {"next": True}, "quantity": 1},
        {"transfer_id": str(uuid.uuid4()), "bin_codes": [], "to": {"next": True}, "quantity": 1},
        {"transfer_id": str(uuid.uuid4()), "bin_codes": [route["codes"][0]], "to": {"next": False}, "quantity": 1},
        {"transfer_id": str(uuid.uuid4()), "bin_codes": [route["codes"][0]], "to": {"operation": "NOPE"},
         "quantity": 1},
        {"transfer_id": str(uuid.uuid4()), "bin_codes": [route["codes"][0]], "to": ["next"], "quantity": 1},
        {"transfer_id": str(uuid.uuid4()), "bin_codes": ["A\x00"], "to": {"next": True}, "quantity": 1},
    ]
    results = clerk.push([clerk.event("transfer.opened", p) for p in bad]).json["results"]
    assert [r["status"] for r in results] == ["quarantined"] * len(bad)
    sig = clerk.push([clerk.event("transfer.signed", {"transfer_id": str(uuid.uuid4()), "step": "boss",
                                                      "quantity": 1, "content_hash": "x", "signature_sha256": "y"})])
    assert sig.json["results"][0]["status"] == "quarantined"


def test_a_signature_before_its_slip_arrives_is_kept_and_counts_once_it_does(four, route, client):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    result = four["clerk"].push([sign(four["clerk"], tid, "clerk", 20, opened)]).json["results"][0]
    assert result["status"] == "stored" and codes_of(result) == ["unknown_transfer"]
    four["clerk"].push([event])
    state = slip(client, tid)
    assert [s["state"] for s in state["signatures"]] == ["valid"] and state["next_step"] == "inspector"
    assert state["flags"] == []


def test_the_slip_api_needs_a_signed_in_person_and_a_real_id(client, four, route):
    assert client.get("/api/v1/transfers/nope", headers={"Accept": "application/json"}).status_code == 404
    assert client.get(f"/api/v1/transfers/{uuid.uuid4()}", headers={"Accept": "application/json"}).status_code == 404


def test_the_slip_page_its_pdf_and_the_statisticians_list(app, four, route, client, signed_in_device):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    four["clerk"].push([event])
    data, sha = png("clerk")
    four["clerk"].client.put(f"/api/v1/blobs/{sha}", data=data, headers={
        "Content-Type": "image/png", "Authorization": f"Bearer {four['clerk'].token}"})
    e = sign(four["clerk"], tid, "clerk", 20, opened)
    e["payload"]["signature_sha256"] = sha
    four["clerk"].push([e])
    page = client.get(f"/slips/{tid}")
    assert page.status_code == 200 and b'data-next-step="inspector"' in page.data
    pdf = client.get(f"/slips/{tid}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.data.count(b"/Subtype /Image") == 1
    for step in STEPS[1:]:
        four[step].push([sign(four[step], tid, step, 20, opened)])
    office = signed_in_device("office")  # the test's client is now the statistician
    listed = client.get("/office/slips")
    assert listed.status_code == 200 and f'data-slip-row="{tid}"'.encode() in listed.data
    assert office.user.role == "office"


def test_a_device_pulls_an_open_slip_with_what_it_needs_to_sign_it_offline(four, route):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    four["clerk"].push([event, sign(four["clerk"], tid, "clerk", 20, opened)])
    pulled = {t["number"]: t for t in four["inspector"].pull().json["transfers"]}
    slip_ = pulled[tid]
    assert slip_["content_hash"] == content_hash(slip_content(opened)) and slip_["next_step"] == "inspector"
    assert [(s["step"], s["state"]) for s in slip_["signatures"]] == [("clerk", "valid")]
    for step in STEPS[1:]:
        four[step].push([sign(four[step], tid, step, 20, opened)])
    pulled = four["inspector"].pull(cursor=None).json
    assert tid not in {t["number"] for t in pulled["transfers"]}


def test_a_refusal_reaches_the_team_leader_and_a_waiting_bin_says_how_long_and_whose(four, route, client,
                                                                                   signed_in_device):
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 20)
    four["clerk"].push([event])
    four["receiver"].push([four["receiver"].event("transfer.refused", {
        "transfer_id": tid, "step": "receiver", "reason": "stacked, cannot be counted"})])
    code = route["codes"][1]
    wid, wopened, wevent = open_slip(four["clerk"], [code], 50, to={"area": "waiting"})
    four["clerk"].push([wevent])
    for step in STEPS:
        four[step].push([sign(four[step], wid, step, 50, wopened)])
    signed_in_device("director")  # the test's client is now a team leader
    scan = client.get("/scan").data.decode()
    assert f'data-refused-slip="{tid}"' in scan and "stacked, cannot be counted" in scan
    page = client.get(f"/b/{code}").data.decode()
    assert "data-waited" in page and four["clerk"].user.display_name in page.split("data-keeper")[1][:200]
    signed_in_device("inspector")  # not a team leader: no notice
    assert "data-refused-slip" not in client.get("/scan").data.decode()


def test_a_slip_into_the_warehouse_gets_its_numbered_entry_slip_when_it_completes(app, four, route, client):
    from webapp.models import SlipBook, WarehouseSlip

    with app.app_context():
        db.session.add(Location(code="WH-1", kind="warehouse", name_zh="成品库", name_en="Store"))
        db.session.commit()
    tid, opened, event = open_slip(four["clerk"], [route["codes"][0]], 50, to={"area": "warehouse"})
    four["clerk"].push([event])
    for step in STEPS:
        four[step].push([sign(four[step], tid, step, 50, opened)])
    with app.app_context():
        t = db.session.execute(select(Transfer).where(Transfer.number == tid)).scalar_one()
        entry = db.session.execute(select(WarehouseSlip).where(WarehouseSlip.transfer_id == t.id)).scalar_one()
        book = db.session.get(SlipBook, entry.book_id)
        assert (book.kind, entry.number, entry.quantity, entry.source) == ("entry", 1, 50, "own")
        db.session.remove()
