"""Photo and signature uploads (/api/v1/blobs/<sha256>) over HTTP, against real files and a real database."""

import functools
import io
import json
import os
import threading
import time
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import update as sa_update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import Auth, Device
from tests.unit.test_blob_store import bomb_png, gif, noise_jpeg, phone_jpeg, png, sha
from webapp.domain.roles import ALL_ROLES
from webapp.extensions import db
from webapp.models import Blob
from webapp.models.attachments import UploadUsage
from webapp.routes import blobs as blob_routes
from webapp.services import blobs as blobs_service

KIB = 1024
CHUNK = "application/offset+octet-stream"


def url(name: str) -> str:
    return f"/api/v1/blobs/{name}"


@pytest.fixture
def device(signed_in_device, plant):
    return signed_in_device("clerk")


@pytest.fixture
def uploads(app) -> Path:
    return Path(app.config["UPLOAD_DIR"])


def put(client, data: bytes, headers, name: str | None = None):
    return client.put(url(name or sha(data)), data=data, headers={**headers, "Content-Type": "image/jpeg"})


def patch(client, name: str, data: bytes, offset: int, length: int, headers):
    return client.patch(url(name), data=data, headers={**headers, "Content-Type": CHUNK,
                                                       "Upload-Offset": str(offset), "Upload-Length": str(length)})


def head(client, name: str, headers):
    return client.head(url(name), headers=headers)


def get(client, name: str, headers, **query):
    """GET a blob, reading the whole answer (so the served file is closed)."""
    return client.get(url(name), headers=headers, query_string=query, buffered=True)


def upload_in_chunks(client, data: bytes, headers, size: int = 256 * KIB, start: int = 0, stop: int | None = None):
    """PATCH `data[start:stop]` in chunks; return the last response."""
    stop = len(data) if stop is None else stop
    reply = None
    for offset in range(start, stop, size):
        reply = patch(client, sha(data), data[offset:min(offset + size, stop)], offset, len(data), headers)
        assert reply.status_code in (201, 204), reply.text
        assert reply.headers["Upload-Offset"] == str(min(offset + size, stop))
    return reply


def blob_row(app, name: str) -> Blob | None:
    with app.app_context():
        row = db.session.get(Blob, name)
        if row is not None:
            db.session.expunge(row)
        return row


def stored_image(client, name: str, headers, **query) -> Image.Image:
    reply = get(client, name, headers, **query)
    assert reply.status_code == 200, reply.text
    image = Image.open(io.BytesIO(reply.data))
    image.load()
    return image


def assert_complete(reply, length: int):
    assert reply.headers["Upload-Offset"] == reply.headers["Upload-Length"] == str(length)
    assert reply.headers["Upload-Complete"] == "?1"


def test_a_whole_photo_is_201_then_200(app, client, device):
    data = phone_jpeg()
    first = put(client, data, device.headers)
    assert first.status_code == 201, first.text
    assert first.json == {"sha256": sha(data), "length": len(data), "received": len(data), "complete": True,
                          "mime": "image/jpeg", "width": 30, "height": 40}
    assert_complete(first, len(data))
    again = put(client, data, device.headers)
    assert again.status_code == 200 and again.json == first.json
    assert_complete(head(client, sha(data), device.headers), len(data))
    row = blob_row(app, sha(data))
    assert (row.complete, row.received, row.length, row.mime) == (True, len(data), len(data), "image/jpeg")


def test_chunks_of_256_kib_with_head_between(app, client, device):
    data = noise_jpeg((1000, 800))
    assert len(data) > 3 * 256 * KIB
    name, step = sha(data), 256 * KIB
    assert head(client, name, device.headers).status_code == 404
    for offset in range(0, len(data), step):
        end = min(offset + step, len(data))
        reply = patch(client, name, data[offset:end], offset, len(data), device.headers)
        if end < len(data):
            assert reply.status_code == 204 and reply.data == b""
            assert reply.headers["Upload-Offset"] == str(end) and reply.headers["Upload-Complete"] == "?0"
            status = head(client, name, device.headers)
            assert status.status_code == 200
            assert (status.headers["Upload-Offset"], status.headers["Upload-Length"]) == (str(end), str(len(data)))
            assert status.headers["Upload-Complete"] == "?0"
            assert get(client, name, device.headers).status_code == 404  # not viewable yet
    assert reply.status_code == 201 and reply.json["complete"] is True
    assert_complete(head(client, name, device.headers), len(data))
    assert stored_image(client, name, device.headers).size == (1000, 800)


def test_a_3_mb_photo_cut_at_half_resumes_where_head_says(app, client, device):
    data = noise_jpeg((2000, 1400))
    assert len(data) > 3_000_000
    half = len(data) // 2
    upload_in_chunks(client, data, device.headers, size=1024 * KIB, stop=half)
    # The connection dropped; later (another page load) the device asks where to go on.
    later = app.test_client()
    status = head(later, sha(data), device.headers)
    assert status.status_code == 200 and status.headers["Upload-Offset"] == str(half)
    reply = upload_in_chunks(later, data, device.headers, size=1024 * KIB, start=int(status.headers["Upload-Offset"]))
    assert reply.status_code == 201
    assert stored_image(later, sha(data), device.headers).size == (2000, 1400)


def test_a_wrong_offset_is_409_with_the_offset_held(client, device):
    data = noise_jpeg((600, 400))
    name = sha(data)
    assert patch(client, name, data[:1000], 0, len(data), device.headers).status_code == 204
    for offset in (0, 500, 2000):
        reply = patch(client, name, data[offset:offset + 1000], offset, len(data), device.headers)
        assert reply.status_code == 409 and reply.json["error"] == "offset_mismatch"
        assert reply.headers["Upload-Offset"] == "1000" and reply.headers["Upload-Complete"] == "?0"
    assert head(client, name, device.headers).headers["Upload-Offset"] == "1000"


def test_a_first_chunk_at_an_offset_starts_nothing(client, device):
    name = sha(b"never sent")
    reply = patch(client, name, b"x" * 10, 100, 500, device.headers)
    assert reply.status_code == 409 and reply.headers["Upload-Offset"] == "0"
    assert head(client, name, device.headers).status_code == 404


def test_another_length_mid_upload_is_409(client, device):
    data = noise_jpeg((600, 400))
    patch(client, sha(data), data[:1000], 0, len(data), device.headers)
    reply = patch(client, sha(data), data[1000:2000], 1000, len(data) + 5, device.headers)
    assert reply.status_code == 409 and reply.json["error"] == "length_changed"
    assert reply.headers["Upload-Length"] == str(len(data))


def test_bytes_that_do_not_match_their_hash_are_422_and_discarded(app, client, device, uploads):
    data = noise_jpeg((300, 200))
    wrong = sha(b"another photo")
    assert patch(client, wrong, data[:1000], 0, len(data), device.headers).status_code == 204
    reply = patch(client, wrong, data[1000:], 1000, len(data), device.headers)
    assert reply.status_code == 422 and reply.json["error"] == "hash_mismatch"
    assert head(client, wrong, device.headers).status_code == 404
    assert not (uploads / "partial" / wrong).exists() and blob_row(app, wrong) is None
    assert put(client, data, device.headers, name=wrong).status_code == 422
    assert put(client, data, device.headers).status_code == 201  # under its own name the same bytes are fine


@pytest.mark.parametrize("make,status,code", [
    (lambda: os.urandom(4000), 422, "not_an_image"),  # random bytes the phone called photo.jpg
    (gif, 415, "unsupported_type"),
    (bomb_png, 422, "too_many_pixels"),
])
def test_what_is_not_an_accepted_image_is_refused(app, client, device, uploads, make, status, code):
    data = make()
    reply = put(client, data, device.headers)
    assert reply.status_code == status and reply.json["error"] == code and reply.json["message"]
    assert head(client, sha(data), device.headers).status_code == 404
    assert blob_row(app, sha(data)) is None and not (uploads / "partial" / sha(data)).exists()
    chunked = patch(client, sha(data), data, 0, len(data), device.headers)
    assert chunked.status_code == status


def test_the_stored_photo_is_upright_without_exif_or_gps(client, device, uploads):
    data = phone_jpeg((40, 30))
    assert put(client, data, device.headers).status_code == 201
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.size == (40, 30) and raw.getexif().get_ifd(0x8825)  # GPS in what the phone sent
    image = stored_image(client, sha(data), device.headers)
    assert image.size == (30, 40)
    assert dict(image.getexif()) == {} and not image.getexif().get_ifd(0x8825)
    on_disk = (uploads / sha(data)[:2] / sha(data)).read_bytes()
    assert b"Exif" not in on_disk and b"PhoneMaker" not in on_disk


def test_a_thumbnail_is_made(client, device, uploads):
    data = noise_jpeg((1600, 1200))
    put(client, data, device.headers)
    assert (uploads / "thumbs" / f"{sha(data)}.jpg").is_file()
    reply = get(client, sha(data), device.headers, thumb="1")
    assert reply.status_code == 200 and reply.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(reply.data)).size) <= 320
    assert "private" in reply.headers["Cache-Control"] and reply.headers["X-Content-Type-Options"] == "nosniff"


def test_a_png_signature_is_served_as_png(client, device):
    data = png((300, 120))
    assert put(client, data, device.headers).status_code == 201
    reply = get(client, sha(data), device.headers)
    assert reply.mimetype == "image/png" and Image.open(io.BytesIO(reply.data)).size == (300, 120)
    again = get(client, sha(data), {**device.headers, "If-None-Match": reply.headers["ETag"]})
    assert again.status_code == 304


def _together(app, work, count=2):
    """Run `work(client)` in `count` threads released at once, each with its own test client."""
    start, results = threading.Barrier(count), []

    def run():
        client = app.test_client()
        start.wait()
        results.append(work(client))

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == count
    return results


def assert_one_intact_blob(app, client, device, uploads, data, size):
    row = blob_row(app, sha(data))
    assert row.complete and row.received == row.length == len(data)
    assert stored_image(client, sha(data), device.headers).size == size
    assert not (uploads / "partial" / sha(data)).exists()
    assert [p.name for p in (uploads / sha(data)[:2]).iterdir()] == [sha(data)]  # no temp file left behind
    with app.app_context():
        assert db.session.query(Blob).count() == 1


def test_the_same_photo_put_twice_at_once_is_stored_once(app, client, device, uploads):
    data = noise_jpeg((1200, 900))
    statuses = _together(app, lambda c: put(c, data, device.headers).status_code)
    assert sorted(statuses) == [200, 201]
    assert_one_intact_blob(app, client, device, uploads, data, (1200, 900))


def test_the_same_photo_sent_in_chunks_twice_at_once_is_stored_once(app, client, device, uploads):
    data = noise_jpeg((1200, 900))

    def send(c):
        """Upload as a device does: on 409 continue from the offset the server holds."""
        offset, statuses = 0, []
        while True:
            reply = patch(c, sha(data), data[offset:offset + 256 * KIB], offset, len(data), device.headers)
            statuses.append(reply.status_code)
            if reply.status_code in (200, 201):
                return statuses
            assert reply.status_code in (204, 409), reply.text
            offset = int(reply.headers["Upload-Offset"])

    results = _together(app, send)
    assert sorted(statuses[-1] for statuses in results) == [200, 201]  # one finished it, the other heard so
    assert_one_intact_blob(app, client, device, uploads, data, (1200, 900))


def test_a_lost_answer_after_completion_is_learnt_on_retry(client, device):
    data = noise_jpeg((600, 400))
    upload_in_chunks(client, data, device.headers)  # the last answer never reached the phone
    assert_complete(head(client, sha(data), device.headers), len(data))
    last = (len(data) - 1) // (256 * KIB) * (256 * KIB)
    retry = patch(client, sha(data), data[last:], last, len(data), device.headers)
    assert retry.status_code == 200 and retry.json["complete"] is True
    assert_complete(retry, len(data))
    assert put(client, data, device.headers).status_code == 200


def test_a_photo_is_missing_from_the_push_answer_until_its_blob_completes(client, device, plant):
    data = phone_jpeg()
    name = sha(data)
    event = device.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 5, "photos": [name]},
                         attachments=[name])
    first = device.push([event]).json["results"][0]
    assert first["status"] == "stored" and first["missing_attachments"] == [name]
    patch(client, name, data[:500], 0, len(data), device.headers)
    assert device.push([event]).json["results"][0]["missing_attachments"] == [name]  # half a photo is missing
    patch(client, name, data[500:], 500, len(data), device.headers)
    again = device.push([event]).json["results"][0]
    assert again["status"] == "duplicate" and again["missing_attachments"] == []


def test_limits_content_types_and_names(client, device):
    name = sha(b"limits")
    too_big = put(client, b"\0" * (20 * 1024 * KIB + 1), device.headers, name=name)
    assert too_big.status_code == 413 and too_big.json["error"] == "file_too_large"
    chunk = patch(client, name, b"\0" * (1024 * KIB + 1), 0, 5 * 1024 * KIB, device.headers)
    assert chunk.status_code == 413 and chunk.json["error"] == "chunk_too_large"
    length = patch(client, name, b"\0" * 10, 0, 20 * 1024 * KIB + 1, device.headers)
    assert length.status_code == 413
    wrong_type = client.patch(url(name), data=b"x", headers={**device.headers, "Content-Type": "image/jpeg",
                                                             "Upload-Offset": "0", "Upload-Length": "1"})
    assert wrong_type.status_code == 415
    no_offset = client.patch(url(name), data=b"x", headers={**device.headers, "Content-Type": CHUNK,
                                                            "Upload-Length": "1"})
    assert no_offset.status_code == 400
    past_end = patch(client, name, b"x" * 20, 0, 10, device.headers)
    assert past_end.status_code == 400 and past_end.json["error"] == "chunk_past_end"
    assert head(client, name, device.headers).status_code == 404
    for bad in ("A" * 64, "0" * 63, "not-a-hash"):
        assert head(client, bad, device.headers).status_code == 404
        assert get(client, bad, device.headers).status_code == 404
        assert put(client, phone_jpeg(), device.headers, name=bad).status_code == 404


def test_a_signed_in_page_uploads_with_its_csrf_token(client, auth, device):
    data = phone_jpeg()
    assert client.put(url(sha(data)), data=data).status_code == 400  # a cookie alone is not enough
    reply = client.put(url(sha(data)), data=data, headers={"X-CSRFToken": auth.csrf("/scan")})
    assert reply.status_code == 201


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_every_role_can_see_a_photo(app, role, signed_in_device, device):
    data = phone_jpeg()
    put(device.client, data, device.headers)
    other = signed_in_device(role)
    viewer = app.test_client()
    assert head(viewer, sha(data), other.headers).status_code == 200
    assert get(viewer, sha(data), other.headers).status_code == 200
    assert get(viewer, sha(data), other.headers, thumb="1").status_code == 200


def test_without_signing_in_nothing_is_open(app, client, device):
    data = phone_jpeg()
    put(client, data, device.headers)
    anonymous = app.test_client()
    for reply in (anonymous.head(url(sha(data))), get(anonymous, sha(data), {}),
                  anonymous.put(url(sha(data)), data=data),
                  anonymous.patch(url(sha(data)), data=data, headers={"Content-Type": CHUNK, "Upload-Offset": "0",
                                                                      "Upload-Length": str(len(data))})):
        assert reply.status_code == 401


# Memory, disk and who may write what (issue 13, hole 5).

MIB = 1024 * KIB


@functools.cache
def big_photo() -> bytes:
    """A real photo of 5 MP and more than 5 MiB: over the global request cap, under the photo caps."""
    data = noise_jpeg((2600, 2000))
    assert 5 * MIB < len(data) < 20 * MIB
    return data


class Counting(io.BytesIO):
    """A request body that counts how much of it the server read."""

    taken = 0

    def read(self, size=-1):
        data = super().read(size)
        self.taken += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.taken += len(data)
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.taken += count
        return count


@pytest.fixture
def two_devices(app, make_user, plant):
    """Two phones of two people, each with its own browser (cookie jar)."""

    def phone() -> Device:
        browser = app.test_client()
        auth = Auth(browser)
        user = make_user("clerk")
        assert auth.login(user.username).status_code == 303
        return Device(browser, auth, user)

    return phone(), phone()


def post_form(client, path: str, fields: dict):
    """Post a multipart form built in memory (the test client would leave a temporary file open)."""
    boundary, body = encode_multipart(fields)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def age(app, name: str, hours: float) -> None:
    """Make a blob's last chunk `hours` older, as if nobody had touched it since."""
    with app.app_context():
        row = db.session.get(Blob, name)
        row.touched_at = (row.touched_at or row.created_at) - timedelta(hours=hours)
        db.session.commit()


def usage_rows(app) -> dict[tuple[str, date], int]:
    with app.app_context():
        return {(u.uploader, u.day): u.bytes_received for u in db.session.query(UploadUsage)}


def test_a_7000_by_7000_png_is_refused_unread_and_discarded(app, client, device, uploads, decoded):
    data = bomb_png(7000, 7000)  # tiny on disk, 49 MP (about 700 MB) decoded
    assert len(data) < 200 * KIB
    for reply in (put(client, data, device.headers),
                  patch(client, sha(data), data, 0, len(data), device.headers)):
        assert reply.status_code == 422 and reply.json["error"] == "too_many_pixels" and reply.json["message"]
        assert head(client, sha(data), device.headers).status_code == 404
        assert blob_row(app, sha(data)) is None and not (uploads / "partial" / sha(data)).exists()
    assert decoded == []  # refused from the header: not one pixel was decoded
    # Pillow's own limit is the app's: any code of this process that opens such an image is stopped.
    assert Image.MAX_IMAGE_PIXELS == app.config["BLOB_MAX_PIXELS"] == 16_777_216
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(data))
    photo = phone_jpeg()
    assert put(client, photo, device.headers).status_code == 201 and decoded  # a photo is decoded as before


def test_uploads_share_the_process_decode_slots(app):
    with app.test_request_context():
        first, again = blobs_service.store(), blobs_service.store()
    assert first.decode_slots is again.decode_slots is blobs_service.decode_slots(2)
    assert first.decode_slots.count == app.config["BLOB_DECODE_SLOTS"] == 2


def test_a_request_over_the_cap_is_refused_before_it_is_read(app, client, device):
    assert app.config["MAX_CONTENT_LENGTH"] == 4 * MIB
    body = Counting(b"[" + b" " * (5 * MIB) + b"]")
    reply = client.post("/api/v1/sync/push", input_stream=body, content_length=len(body.getvalue()),
                        headers={**device.headers, "Content-Type": "application/json"})
    assert reply.status_code == 413 and reply.json["error"] == "request_too_large"
    assert reply.json["limit"] == 4 * MIB and "4 MiB" in reply.json["message"]
    assert body.taken == 0  # refused on its Content-Length
    # Without a Content-Length (chunked, the server ending the stream) reading stops at the cap.
    endless = Counting(b" " * (6 * MIB))
    reply = client.post("/api/v1/sync/push", input_stream=endless, environ_overrides={"wsgi.input_terminated": True},
                        headers={**device.headers, "Content-Type": "application/json"})
    assert reply.status_code == 413 and endless.taken <= 4 * MIB + 64 * KIB
    # A push of 200 events of the largest kind a device makes stays far below the cap.
    events = [device.event("bin.counted", {"bin_code": "B00001Z", "quantity": 5, "note": "数" * 500})
              for _ in range(200)]
    assert len(json.dumps({"device_id": device.id, "events": events}, ensure_ascii=False).encode()) < MIB


def test_a_form_over_the_cap_gets_a_page(client):
    reply = client.post("/login", data={"username": "x", "password": "y", "note": "z" * (5 * MIB)})
    assert reply.status_code == 413 and reply.mimetype == "text/html"
    assert "Too large" in reply.text and "4 MiB" in reply.text


def test_a_whole_photo_and_the_photo_form_may_be_larger_than_the_cap(app, client, device, plant, auth):
    data = big_photo()
    assert put(client, data, device.headers).status_code == 201
    with app.app_context():
        db.session.delete(db.session.get(Blob, sha(data)))  # so the form stores it again
        db.session.commit()
    code = plant["codes"][0]
    form = {"quantity": "5", "unit": "pcs", "csrf_token": auth.csrf(f"/b/{code}"),
            "photo": FileStorage(io.BytesIO(data), "photo.jpg", content_type="image/jpeg")}
    reply = post_form(client, f"/b/{code}/count", form)
    assert reply.status_code == 303, reply.text[:500]
    assert blob_row(app, sha(data)).complete


def test_the_office_import_has_its_own_cap(app, client, auth, make_user, monkeypatch):
    office = make_user("office")
    assert auth.login(office.username).status_code == 303
    not_an_export = {"csrf_token": auth.csrf("/office/import"),
                     "file": FileStorage(io.BytesIO(b"{}" + b" " * (5 * MIB)), "export.json")}
    reply = post_form(client, "/office/import", not_an_export)
    assert reply.status_code == 422 and "Nothing was imported" in reply.text  # read, over the global cap
    monkeypatch.setitem(blob_routes.BODY_LIMITS, "office.import_outbox", MIB)
    small = {"csrf_token": auth.csrf("/office/import"),
             "file": FileStorage(io.BytesIO(b"{}" + b" " * (2 * MIB)), "export.json")}
    reply = post_form(client, "/office/import", small)
    assert reply.status_code == 413 and "Too large" in reply.text and "1 MiB" in reply.text


def test_someone_elses_partial_cannot_be_appended_restarted_or_finished(app, client, auth, make_user, two_devices):
    mine, theirs = two_devices
    data = noise_jpeg((600, 400))
    name, half = sha(data), len(data) // 2
    assert patch(client, name, data[:half], 0, len(data), mine.headers).status_code == 204
    row = blob_row(app, name)
    assert row.uploader == f"device:{mine.id}" and row.touched_at is not None
    assert head(client, name, theirs.headers).status_code == 404  # not started by them
    for reply in (patch(client, name, data[half:], half, len(data), theirs.headers),  # append (and finish)
                  patch(client, name, data[:1000], 0, len(data), theirs.headers),  # restart
                  patch(client, name, data[:1000], 0, len(data) + 1, theirs.headers),  # restart, another length
                  put(client, data, theirs.headers)):  # the whole file
        assert reply.status_code == 409 and reply.json["error"] == "upload_in_progress", reply.text
        assert 0 < int(reply.headers["Retry-After"]) <= 15 * 60 and reply.json["message"]
        assert "Upload-Offset" not in reply.headers  # nothing for the device to resume from
    auth.login(make_user("clerk").username)  # a signed-in page, with its cookie rather than a device token
    csrf = auth.csrf("/scan")
    cookie = client.patch(url(name), data=data[half:], headers={"Content-Type": CHUNK, "X-CSRFToken": csrf,
                                                                "Upload-Offset": str(half),
                                                                "Upload-Length": str(len(data))})
    assert cookie.status_code == 409 and cookie.json["error"] == "upload_in_progress"
    status = head(client, name, mine.headers)
    assert status.status_code == 200 and status.headers["Upload-Offset"] == str(half)
    assert patch(client, name, data[half:], half, len(data), mine.headers).status_code == 201
    for reply in (head(client, name, theirs.headers), patch(client, name, data[half:], half, len(data), theirs.headers),
                  put(client, data, theirs.headers)):
        assert reply.status_code == 200 and reply.headers["Upload-Complete"] == "?1"  # complete: everyone's


def test_an_expired_partial_is_discarded_when_next_touched(app, client, two_devices, uploads):
    mine, theirs = two_devices
    data = noise_jpeg((600, 400))
    name, half = sha(data), len(data) // 2
    patch(client, name, data[:half], 0, len(data), mine.headers)
    age(app, name, 23)
    assert patch(client, name, data[:100], 0, len(data), theirs.headers).status_code == 409  # still live
    age(app, name, 1.5)  # untouched for 24.5 hours
    assert head(client, name, mine.headers).status_code == 404  # gone, even for its uploader
    assert head(client, name, theirs.headers).status_code == 404
    # The owner's next chunk learns it starts again from 0.
    resumed = patch(client, name, data[half:], half, len(data), mine.headers)
    assert resumed.status_code == 409 and resumed.headers["Upload-Offset"] == "0"
    age(app, name, 25)
    # Someone else may now start it afresh: the old bytes are dropped and the upload is theirs.
    assert patch(client, name, data[:1000], 0, len(data), theirs.headers).status_code == 204
    assert (uploads / "partial" / name).stat().st_size == 1000
    assert blob_row(app, name).uploader == f"device:{theirs.id}"
    assert patch(client, name, data[1000:], 1000, len(data), mine.headers).json["error"] == "upload_in_progress"
    assert patch(client, name, data[1000:], 1000, len(data), theirs.headers).status_code == 201
    assert patch(client, name, data[1000:], 1000, len(data), mine.headers).status_code == 200


def test_expire_uploads_discards_what_nobody_touched(app, client, device, runner, uploads):
    old, fresh, done = noise_jpeg((300, 200)), noise_jpeg((310, 200)), phone_jpeg()
    patch(client, sha(old), old[:500], 0, len(old), device.headers)
    patch(client, sha(fresh), fresh[:500], 0, len(fresh), device.headers)
    put(client, done, device.headers)
    age(app, sha(old), 30)
    age(app, sha(done), 30)  # complete: never expires
    stray_old, stray_new = uploads / "partial" / sha(b"crashed"), uploads / "partial" / sha(b"being written")
    for stray in (stray_old, stray_new):
        stray.write_bytes(b"x" * 10)
    os.utime(stray_old, (time.time() - 30 * 3600,) * 2)
    with app.app_context():
        today = datetime.now(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])).date()
        for days in (0, 1, 2, 9):
            db.session.merge(UploadUsage(uploader="device:x", day=today - timedelta(days=days), bytes_received=1))
        db.session.commit()
    result = runner.invoke(args=["expire-uploads"])
    assert result.exit_code == 0, result.output
    assert "1 expired unfinished upload" in result.output and "1 stray" in result.output
    assert blob_row(app, sha(old)) is None and not (uploads / "partial" / sha(old)).exists()
    assert blob_row(app, sha(fresh)).received == 500 and (uploads / "partial" / sha(fresh)).exists()
    assert blob_row(app, sha(done)).complete and not stray_old.exists() and stray_new.exists()
    assert sorted(day for who, day in usage_rows(app) if who == "device:x") == [today - timedelta(days=1), today]


def test_a_device_may_hold_only_so_many_unfinished_uploads(app, client, two_devices):
    mine, theirs = two_devices
    first, second = noise_jpeg((600, 400)), noise_jpeg((610, 400))
    app.config["UPLOAD_HELD_BYTES"] = len(first) + len(second) - 1
    assert patch(client, sha(first), first[:1000], 0, len(first), mine.headers).status_code == 204
    refused = patch(client, sha(second), second[:1000], 0, len(second), mine.headers)
    assert refused.status_code == 413 and refused.json["error"] == "upload_quota" and refused.json["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert blob_row(app, sha(second)) is None  # nothing of it kept
    assert patch(client, sha(second), second[:1000], 0, len(second), theirs.headers).status_code == 204
    assert patch(client, sha(first), first[1000:2000], 1000, len(first), mine.headers).status_code == 204
    age(app, sha(first), 25)  # an expired upload holds nothing
    third = noise_jpeg((620, 400))
    assert patch(client, sha(third), third[:1000], 0, len(third), mine.headers).status_code == 204


def test_a_device_may_send_only_so_many_bytes_a_day(app, client, two_devices):
    mine, theirs = two_devices
    first, second = noise_jpeg((600, 400)), noise_jpeg((610, 400))
    app.config["UPLOAD_DAILY_BYTES"] = len(first) + len(second) // 2
    assert put(client, first, mine.headers).status_code == 201
    assert patch(client, sha(second), second[:1000], 0, len(second), mine.headers).status_code == 204
    refused = patch(client, sha(second), second[1000:], 1000, len(second), mine.headers)
    assert refused.status_code == 413 and refused.json["error"] == "daily_quota" and refused.json["message"]
    zone = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])
    now = datetime.now(zone)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), zone)
    assert abs(int(refused.headers["Retry-After"]) - (midnight - now).total_seconds()) < 60
    assert head(client, sha(second), mine.headers).headers["Upload-Offset"] == "1000"  # the refused chunk: not kept
    body = Counting(second)
    whole = client.put(url(sha(second)), input_stream=body, content_length=len(second),
                        headers={**mine.headers, "Content-Type": "image/jpeg"})
    assert whole.status_code == 413 and whole.json["error"] == "daily_quota" and body.taken == 0
    assert usage_rows(app)[(f"device:{mine.id}", now.date())] == len(first) + 1000
    third = noise_jpeg((620, 400))
    assert put(client, third, theirs.headers).status_code == 201  # another device has its own quota
    with app.app_context():  # the next day
        db.session.execute(sa_update(UploadUsage).values(day=now.date() - timedelta(days=1)))
        db.session.commit()
    assert patch(client, sha(second), second[1000:], 1000, len(second), mine.headers).status_code == 201
