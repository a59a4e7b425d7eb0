"""Photo and signature uploads (/api/v1/blobs/<sha256>) over HTTP, against real files and a real database."""

import io
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from tests.unit.test_blob_store import bomb_png, gif, noise_jpeg, phone_jpeg, png, sha
from webapp.domain.roles import ALL_ROLES
from webapp.extensions import db
from webapp.models import Blob

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
