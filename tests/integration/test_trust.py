"""Records a plant can trust: a device cannot be taken over, actors are proven, sessions end for real."""

import secrets
import time
import uuid

from sqlalchemy import select, update

from sync import schema
from tests.conftest import Auth, Device
from tests.integration.test_import import export_file, upload
from webapp.extensions import db
from webapp.models import User


def register(client, auth, device_id, **body):
    return client.post("/api/v1/devices", json={"device_id": device_id, "label": "x", **body},
                       headers={"X-CSRFToken": auth.csrf("/scan")})


def count(device, code, quantity=5, **fields):
    return device.event("bin.counted", {"bin_code": code, "quantity": quantity, "unit": "pcs"}, v=2, **fields)


def stored_event(app, event_id):
    with app.app_context():
        return db.session.execute(select(schema.events).where(schema.events.c.id == event_id)).mappings().first()


# Hole 1: taking over a device.

def test_another_person_cannot_re_register_a_phone_and_record_as_its_clerk(app, make_user, plant):
    clerk_browser, operator_browser = app.test_client(), app.test_client()
    clerk_auth, operator_auth = Auth(clerk_browser), Auth(operator_browser)
    clerk, operator = make_user("clerk"), make_user("operator")
    clerk_auth.login(clerk.username)
    clerk_phone = Device(clerk_browser, clerk_auth, clerk)
    operator_auth.login(operator.username)
    taken = register(operator_browser, operator_auth, clerk_phone.id)  # no secret
    assert taken.status_code == 409 and taken.json["error"] == "device_taken"
    guessed = register(operator_browser, operator_auth, clerk_phone.id, device_secret=secrets.token_urlsafe(32))
    assert guessed.status_code == 409
    # The clerk's token still works.
    ok = clerk_phone.push([count(clerk_phone, plant["codes"][0])])
    assert ok.json["results"][0]["status"] == "stored"
    # On the operator's own phone, an event naming the clerk as actor is not stored as the clerk's.
    own = Device(operator_browser, operator_auth, operator)
    forged = own.push([count(own, plant["codes"][0], actor_id=clerk.id)])
    result = forged.json["results"][0]
    assert result["status"] == "quarantined" and result["exceptions"][0]["code"] == "unknown_actor"


def test_the_phone_itself_re_registers_with_its_secret_after_a_shift_change(client, auth, make_user,
                                                                            signed_in_device, plant):
    phone = signed_in_device("clerk")
    phone.auth.logout()
    second = make_user("clerk")
    phone.auth.login(second.username)
    assert phone.register(second).status_code == 201
    assert phone.push([count(phone, plant["codes"][0])]).json["results"][0]["status"] == "stored"


def test_a_phone_registered_before_secrets_is_claimed_only_by_its_own_people(app, client, auth, make_user,
                                                                           signed_in_device):
    phone = signed_in_device("clerk")
    with app.app_context():  # as a device registered by an older release
        db.session.execute(update(schema.devices).where(schema.devices.c.id == phone.id).values(secret_hash=None))
        db.session.commit()
    auth.logout()
    auth.login(make_user("operator").username)
    assert register(client, auth, phone.id, device_secret=secrets.token_urlsafe(32)).status_code == 409
    auth.logout()
    auth.login(phone.user.username)
    assert register(client, auth, phone.id, device_secret=phone.secret).status_code == 201
    with app.app_context():  # it holds a secret from now on
        assert db.session.execute(select(schema.devices.c.secret_hash)
                                  .where(schema.devices.c.id == phone.id)).scalar() is not None


def test_server_made_devices_are_never_accepted_from_a_client(app, client, auth, make_user, plant):
    admin = make_user("admin")
    auth.login(admin.username)
    # A form posted without JavaScript makes the admin's server-side "web" device.
    client.post(f"/b/{plant['codes'][0]}/count", data={"quantity": "7", "unit": "pcs",
                                                      "csrf_token": auth.csrf(f"/b/{plant['codes'][0]}")})
    with app.app_context():
        web_id = db.session.execute(select(schema.devices.c.id).where(schema.devices.c.kind == "web")).scalar()
    assert web_id is not None
    assert web_id != str(uuid.uuid5(uuid.NAMESPACE_URL, f"shopfloor:web:{admin.id}"))  # not computable
    auth.logout()
    auth.login(make_user("operator").username)
    refused = register(client, auth, web_id, device_secret=secrets.token_urlsafe(32))
    assert refused.status_code == 409
    # Nor may a session push to it.
    push = client.post("/api/v1/sync/push", json={"device_id": web_id, "events": []},
                       headers={"X-CSRFToken": auth.csrf("/scan")})
    assert push.status_code == 400 and push.json["error"] == "unknown_device"


def test_a_role_is_judged_as_of_the_event_time(app, signed_in_device, plant):
    phone = signed_in_device("clerk")
    before = count(phone, plant["codes"][0], occurred_at=int(time.time() * 1000) - 1000)
    with app.app_context():
        user = db.session.get(User, phone.user.id)
        user.role = "office"  # promoted to the office: may no longer count from now on
        db.session.commit()
    after = count(phone, plant["codes"][1])
    results = phone.push([before, after]).json["results"]
    assert results[0]["status"] == "stored"
    assert results[1]["status"] == "quarantined" and results[1]["exceptions"][0]["code"] == "forbidden"


# Hole 4: the import trusts the file.

def test_an_import_keeps_who_imported_and_accepts_only_actors_who_used_the_device(app, client, auth, make_user,
                                                                                   signed_in_device, plant):
    phone = signed_in_device("clerk")
    admin = make_user("admin")
    genuine = count(phone, plant["codes"][0], 11)
    as_admin = count(phone, plant["codes"][1], 12, actor_id=admin.id)
    without_actor = count(phone, plant["codes"][2], 13, actor_id=None)
    auth.logout()
    office = make_user("office")
    auth.login(office.username)
    raw = export_file(phone, [genuine, as_admin, without_actor])
    page = upload(client, auth, raw)
    assert 'data-stored>1<' in page.text and 'data-quarantined>2<' in page.text
    row = stored_event(app, genuine["id"])
    assert row["actor_id"] == phone.user.id and row["pushed_by"] == office.id
    assert stored_event(app, as_admin["id"]) is None
    with app.app_context():
        held = db.session.execute(select(schema.quarantine.c.event_id, schema.quarantine.c.reason,
                                         schema.quarantine.c.pushed_by)).all()
    assert {(r.event_id, r.reason, r.pushed_by) for r in held} == {
        (as_admin["id"], "unknown_actor", office.id), (without_actor["id"], "unknown_actor", office.id)}


def test_an_import_from_an_unknown_device_makes_nobody_its_actor(app, client, auth, make_user, plant):
    clerk, office = make_user("clerk"), make_user("office")
    auth.login(office.username)
    ghost = type("Ghost", (), {})()
    ghost.id, ghost.user, ghost.seq = str(uuid.uuid4()), clerk, 0
    move = Device.event(ghost, "bin.moved", {"bin_code": plant["codes"][0], "to_location": "L-OP20",
                                             "seen_location": "L-OP10", "seen_version": 1})
    page = upload(client, auth, export_file(ghost, [move]))
    assert 'data-stored>0<' in page.text and 'data-quarantined>1<' in page.text
    with app.app_context():
        kind = db.session.execute(select(schema.devices.c.kind).where(schema.devices.c.id == ghost.id)).scalar()
        linked = db.session.execute(select(schema.device_users).where(
            schema.device_users.c.device_id == ghost.id)).all()
    assert kind == "import" and linked == []
    auth.logout()
    auth.login(clerk.username)
    assert register(client, auth, ghost.id, device_secret=secrets.token_urlsafe(32)).status_code == 409


# Hole 5 (the payload part): what is stored is the checked payload.

def test_a_field_no_version_knows_is_not_stored(app, signed_in_device, plant):
    phone = signed_in_device("clerk")
    event = count(phone, plant["codes"][0])
    event["payload"]["junk"] = "x" * 1_000_000
    assert phone.push([event]).json["results"][0]["status"] == "stored"
    assert stored_event(app, event["id"])["payload"] == {"bin_code": plant["codes"][0], "quantity": 5, "unit": "pcs"}
    assert phone.push([event]).json["results"][0]["status"] == "duplicate"  # still the same event


# Hole 6: sessions outlive sign-out and revocation.

def test_a_cookie_copied_before_sign_out_no_longer_opens_anything(app, client, auth, make_user):
    office = make_user("office")
    auth.login(office.username)
    copied = client.get_cookie("session").value
    assert client.get("/office/").status_code == 200
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", copied)
    answer = thief.get("/office/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_sign_out_ends_the_token_of_the_device_registered_in_that_session(signed_in_device, plant):
    phone = signed_in_device("clerk")
    phone.auth.logout()
    refused = phone.push([count(phone, plant["codes"][0])])
    assert refused.status_code == 401 and refused.json["error"] == "sign_in_again"


def test_revoking_a_device_ends_the_session_that_registered_it(app, make_user, plant):
    phone_browser = app.test_client()
    phone_auth = Auth(phone_browser)
    clerk = make_user("clerk")
    phone_auth.login(clerk.username)
    phone = Device(phone_browser, phone_auth, clerk)
    admin_browser = app.test_client()
    admin_auth = Auth(admin_browser)
    admin_auth.login(make_user("admin").username)
    admin_browser.post(f"/admin/devices/{phone.id}/revoke", data={"csrf_token": admin_auth.csrf("/admin/devices")})
    # The same browser can neither register a new device nor push through its session.
    again = phone_browser.post("/api/v1/devices", json={"device_id": str(uuid.uuid4()),
                                                        "device_secret": secrets.token_urlsafe(32)},
                               headers={"X-CSRFToken": phone_auth.csrf("/login")})
    assert again.status_code in (400, 401)
    assert phone_browser.get("/scan").status_code == 302
    assert phone.push([count(phone, plant["codes"][0])]).status_code == 403
