"""Signing for someone else: badge + PIN proofs checked at sync and online, badges and PINs managed."""

import hashlib
import hmac
import json
import time

import pypdfium2 as pdfium
import pytest
import zxingcpp
from sqlalchemy import select, update

from sync import schema
from webapp.domain import signing
from webapp.extensions import db
from webapp.models import StaffBadge, User
from webapp.services import signers

PIN = "2580"


@pytest.fixture
def receiver(app, make_user):
    """A receiver with a staff badge and a PIN; returns (user, badge text)."""
    user = make_user("receiver")
    with app.app_context():
        text = signers.issue_badge(user.id)
        signers.set_pin(user.id, PIN)
    return user, text


def device_side_proof(badge_text: str, pin: str, salt: str, event: dict) -> dict:
    """Compute the signer object exactly as the spec tells a device to (independently of the server's code)."""
    _, user_id, code, secret = badge_text.split(":")
    content = {"payload": {k: v for k, v in event["payload"].items() if k != "signer"}, "type": event["type"]}
    content_hash = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=False).encode()).hexdigest()
    pin_key = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), 100_000, 32)
    key = hmac.new(secret.encode(), pin_key, hashlib.sha256).digest()
    message = f"shopfloor-signature/1\n{event['id']}\n{user_id}\n{code}\n{content_hash}".encode()
    return {"id": int(user_id), "badge": code, "content_hash": content_hash,
            "proof": hmac.new(key, message, hashlib.sha256).hexdigest()}


def salt_of(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).pin_salt


def signed_count(app, device, code, signer_text, pin=PIN, quantity=40, **fields):
    event = device.event("bin.counted", {"bin_code": code, "quantity": quantity, "unit": "pcs"}, v=2, **fields)
    user_id = int(signer_text.split(":")[1])
    event["payload"]["signer"] = device_side_proof(signer_text, pin, salt_of(app, user_id), event)
    return event


def test_a_count_confirmed_with_badge_and_pin_is_verified(app, signed_in_device, plant, receiver):
    user, badge = receiver
    phone = signed_in_device("clerk")
    event = signed_count(app, phone, plant["codes"][0], badge)
    result = phone.push([event]).json["results"][0]
    assert result["status"] == "stored" and result["exceptions"] == []
    with app.app_context():
        row = db.session.execute(select(schema.events.c.payload, schema.events.c.actor_id)
                                 .where(schema.events.c.id == event["id"])).first()
    assert row.payload["signer"]["id"] == user.id and row.actor_id == phone.user.id


def test_a_wrong_pin_entered_offline_keeps_the_record_and_tells_the_office(app, client, auth, make_user,
                                                                          signed_in_device, plant, receiver):
    _, badge = receiver
    phone = signed_in_device("clerk")
    event = signed_count(app, phone, plant["codes"][0], badge, pin="9173")
    result = phone.push([event]).json["results"][0]
    assert result["status"] == "stored"
    flag = result["exceptions"][0]
    assert flag["code"] == "signature_unverified" and flag["reason"] == "wrong_pin"
    with app.app_context():
        queued = db.session.execute(select(schema.exceptions.c.code).where(
            schema.exceptions.c.event_id == event["id"])).scalars().all()
    assert queued == ["signature_unverified"]
    auth.logout()
    auth.login(make_user("office").username)
    page = client.get("/office/review").text
    item = page.split("Signature not verified", 1)[1].split("</article>", 1)[0]
    assert "receiver person" in item and "Wrong PIN." in item


def test_a_record_changed_after_it_was_signed_is_not_verified(app, signed_in_device, plant, receiver):
    _, badge = receiver
    phone = signed_in_device("clerk")
    event = signed_count(app, phone, plant["codes"][0], badge, quantity=40)
    event["payload"]["quantity"] = 45  # changed after the receiver confirmed 40
    flags = phone.push([event]).json["results"][0]["exceptions"]
    assert [(f["code"], f["reason"]) for f in flags] == [("signature_unverified", "content_mismatch")]


def test_a_proof_is_bound_to_its_event(app, signed_in_device, plant, receiver):
    _, badge = receiver
    phone = signed_in_device("clerk")
    first = signed_count(app, phone, plant["codes"][0], badge)
    replay = phone.event("bin.counted", dict(first["payload"]), v=2)  # the same signature on another record
    results = phone.push([first, replay]).json["results"]
    assert results[0]["exceptions"] == []
    assert results[1]["exceptions"][0]["reason"] == "wrong_pin"


def test_a_badge_signs_only_while_it_is_valid(app, signed_in_device, plant, receiver):
    user, badge = receiver
    phone = signed_in_device("clerk")
    signed_before = signed_count(app, phone, plant["codes"][0], badge, occurred_at=int(time.time() * 1000) - 60_000)
    with app.app_context():
        signers.revoke_badge(user.id, None, "lost")
    signed_after = signed_count(app, phone, plant["codes"][1], badge)
    results = phone.push([signed_before, signed_after]).json["results"]
    assert results[0]["exceptions"] == []  # signed while the badge was valid
    assert results[1]["exceptions"][0]["reason"] == "badge_revoked"


def test_a_signer_is_judged_by_the_role_of_the_signing_time(app, signed_in_device, plant, make_user):
    office = make_user("office")
    with app.app_context():
        badge = signers.issue_badge(office.id)
        signers.set_pin(office.id, PIN)
    phone = signed_in_device("clerk")
    flags = phone.push([signed_count(app, phone, plant["codes"][0], badge)]).json["results"][0]["exceptions"]
    assert [f["code"] for f in flags] == ["signer_not_allowed"]


def check(device, event):
    return device.client.post("/api/v1/signatures/check", json={"event_id": event["id"],
                                                                "signer": event["payload"]["signer"]},
                              headers=device.headers)


def test_online_a_wrong_pin_is_refused_at_once_and_five_lock_the_pin(app, signed_in_device, plant, receiver):
    user, badge = receiver
    phone = signed_in_device("clerk")
    right = signed_count(app, phone, plant["codes"][0], badge)
    ok = check(phone, right)
    assert ok.status_code == 200 and ok.json["verified"] and ok.json["signer"]["id"] == user.id
    for left in (4, 3, 2, 1):
        wrong = check(phone, signed_count(app, phone, plant["codes"][0], badge, pin="7391"))
        assert wrong.status_code == 422 and wrong.json["reason"] == "wrong_pin" and wrong.json["attempts_left"] == left
    locked = check(phone, signed_count(app, phone, plant["codes"][0], badge, pin="7391"))
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert check(phone, right).status_code == 429  # even the right PIN, until the lock ends
    with app.app_context():
        db.session.execute(update(User).where(User.id == user.id).values(pin_locked_until=1))
        db.session.commit()
    assert check(phone, right).status_code == 200


def test_online_check_names_a_revoked_badge_and_a_missing_pin(app, signed_in_device, plant, make_user, receiver):
    user, badge = receiver
    phone = signed_in_device("clerk")
    with app.app_context():
        signers.issue_badge(user.id)  # reissued: the old card no longer signs
    answer = check(phone, signed_count(app, phone, plant["codes"][0], badge))
    assert answer.status_code == 422 and answer.json["reason"] == "badge_revoked"
    nopin = make_user("operator")
    with app.app_context():
        text = signers.issue_badge(nopin.id)
    event = phone.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 1, "unit": "pcs"}, v=2)
    event["payload"]["signer"] = {"id": nopin.id, "badge": text.split(":")[2], "content_hash": "0" * 64,
                                  "proof": "0" * 64}
    assert check(phone, event).json["reason"] == "no_pin"


def test_devices_get_the_pin_salt_never_the_pin_key(app, signed_in_device, receiver):
    user, _ = receiver
    phone = signed_in_device("clerk")
    people = {}
    cursor = None
    while True:
        page = phone.pull(cursor).json
        for person in page["users"]:
            people[person["id"]] = person
        cursor = page["cursor"]
        if not page.get("has_more"):
            break
    signer = people[user.id]
    assert signer["has_pin"] and signer["pin_salt"] == salt_of(app, user.id)
    with app.app_context():
        key = db.session.get(User, user.id).pin_key
    assert key not in str(people) and "pin_key" not in signer and "password_hash" not in signer


def test_the_admin_issues_prints_and_revokes_badges(app, client, auth, make_user):
    person = make_user("inspector")
    auth.login(make_user("admin").username)
    token = auth.csrf("/admin/people")
    assert client.post(f"/admin/people/{person.id}/badge", data={"csrf_token": token}).status_code == 303
    card = client.get(f"/admin/people/{person.id}/badge.pdf")
    assert card.status_code == 200 and card.headers["Cache-Control"] == "no-store"
    page = pdfium.PdfDocument(card.data)[0]
    width_mm = page.get_width() / 72 * 25.4
    assert abs(width_mm - 85.6) < 0.1
    read = [r.text for r in zxingcpp.read_barcodes(page.render(scale=300 / 72).to_pil())]
    with app.app_context():
        badge = signers.current_badge(person.id)
        assert read == [signers.badge_text(badge)]
    assert signing.parse_badge(read[0]).user_id == person.id
    # Reissued: the first card is revoked.
    client.post(f"/admin/people/{person.id}/badge", data={"csrf_token": token})
    with app.app_context():
        states = db.session.execute(select(StaffBadge.revoke_reason).where(StaffBadge.user_id == person.id)
                                    .order_by(StaffBadge.id)).scalars().all()
    assert states == ["reissued", None]
    client.post(f"/admin/people/{person.id}/badge/revoke", data={"csrf_token": token, "reason": "lost"})
    with app.app_context():
        assert signers.current_badge(person.id) is None
    listing = client.get("/admin/people").text
    row = listing.split(f'data-person="{person.username}"', 1)[1].split("</tr>", 1)[0]
    assert "revoked" in row


def test_a_person_sets_their_own_pin(app, client, auth, make_user):
    person = make_user("receiver")
    auth.login(person.username)
    token = auth.csrf("/me/pin")
    weak = client.post("/me/pin", data={"csrf_token": token, "password": "pw", "pin": "1234", "pin_again": "1234"})
    assert weak.status_code == 422 and "1234" in weak.text  # "not … a run like 1234"
    wrong = client.post("/me/pin", data={"csrf_token": token, "password": "nope", "pin": "2580", "pin_again": "2580"})
    assert wrong.status_code == 422
    ok = client.post("/me/pin", data={"csrf_token": token, "password": "pw", "pin": "2580", "pin_again": "2580"})
    assert ok.status_code == 303
    with app.app_context():
        user = db.session.get(User, person.id)
        assert user.pin_key == signing.pin_key("2580", user.pin_salt) and "2580" not in (user.pin_key + user.pin_salt)
