"""The office imports a device's export; it goes through the push path, so importing twice changes nothing."""

import base64
import hashlib
import io
import json

from PIL import Image


def export_file(device, events, attachments=()):
    return json.dumps({"format": "shopfloor-outbox", "version": 1, "exported_at": 1, "device_id": device.id,
                       "build": "test", "user": {"id": device.user.id, "username": device.user.username},
                       "events": events, "attachments": list(attachments)}).encode()


def upload(client, auth, raw: bytes):
    return client.post("/office/import", content_type="multipart/form-data",
                       data={"csrf_token": auth.csrf("/office/import"), "file": (io.BytesIO(raw), "export.json")})


def test_an_export_imports_once(client, auth, make_user, signed_in_device, plant):
    device = signed_in_device("clerk")
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(photo, "JPEG")
    sha = hashlib.sha256(photo.getvalue()).hexdigest()
    first = device.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 31, "photos": [sha]},
                         attachments=[sha])
    second = device.event("bin.counted", {"bin_code": plant["codes"][1], "quantity": 32})
    data = base64.b64encode(photo.getvalue()).decode()
    raw = export_file(device, [first, second], [{"sha256": sha, "mime": "image/jpeg", "data_base64": data}])
    auth.logout()
    auth.login(make_user("office").username)
    page = upload(client, auth, raw)
    assert page.status_code == 200
    assert 'data-stored>2<' in page.text and 'data-duplicate>0<' in page.text
    again = upload(client, auth, raw)
    assert 'data-stored>0<' in again.text and 'data-duplicate>2<' in again.text
    events = client.get("/api/v1/events", query_string={"bin_code": plant["codes"][0]}).json["events"]
    assert [e["id"] for e in events] == [first["id"]] and events[0]["actor"] == device.user.username
    assert client.head(f"/api/v1/blobs/{sha}").status_code == 200
    # The device later reaches the server: its push is a duplicate.
    assert device.push([first]).json["results"][0]["status"] == "duplicate"


def test_a_file_that_is_not_an_export_is_refused_with_a_message(client, auth, make_user):
    auth.login(make_user("office").username)
    reply = upload(client, auth, b"hello")
    assert reply.status_code == 422 and "not a file exported by Shopfloor" in reply.text


def test_clerks_cannot_import(client, auth, make_user):
    auth.login(make_user("clerk").username)
    assert client.get("/office/import").status_code == 403
