"""The file blob store: partial uploads at offsets, checks on completion, cleaned images and thumbnails."""

import hashlib
import io
import os
import struct
import threading
import zlib

import pytest
from PIL import ExifTags, Image

import sync.blobs
from sync.blobs import MAX_PIXELS, BlobRejected, DecodeSlots, FileBlobStore, UnsupportedType

ORIENTATION = 0x0112
RED = (255, 0, 0)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def phone_jpeg(size=(40, 30)) -> bytes:
    """A JPEG as a phone writes it: raw pixels landscape, EXIF orientation 6 (turn right), GPS, a comment."""
    image = Image.new("RGB", size, "blue")
    image.paste(RED, (0, 0, size[0] // 4, size[1] // 4))  # a red corner, top left of the raw pixels
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at the back gate")
    return out.getvalue()


def png(size=(64, 48), mode="RGBA") -> bytes:
    """A PNG with transparency."""
    out = io.BytesIO()
    Image.new(mode, size, (0, 128, 0, 100) if mode == "RGBA" else 100).save(out, "PNG")
    return out.getvalue()


def noise_jpeg(size=(2000, 1400)) -> bytes:
    """A photo-sized JPEG that does not compress (2000x1400 is about 3 MB)."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width=20000, height=20000) -> bytes:
    """A valid 1-bit black PNG: tiny on disk, `width * height` pixels when decoded."""
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    return out.getvalue()


@pytest.fixture
def store(tmp_path):
    return FileBlobStore(tmp_path / "uploads")


def upload(store, data: bytes, name: str | None = None):
    name = name or sha(data)
    store.append(name, 0, data)
    return store.finish(name, len(data))


def test_chunks_land_at_their_offsets_and_are_held(store):
    data = os.urandom(1000)
    name = sha(data)
    assert store.held(name) == 0
    assert store.append(name, 0, data[:400]) == 400
    assert store.append(name, 400, io.BytesIO(data[400:])) == 1000
    assert store.held(name) == 1000
    assert store.partial_path(name).read_bytes() == data


def test_writing_at_an_offset_drops_bytes_past_it(store):
    # A chunk written but never acknowledged (the process died before its commit) is sent again.
    name = sha(b"x")
    store.append(name, 0, b"a" * 300)
    assert store.append(name, 100, b"b" * 50) == 150
    assert store.partial_path(name).read_bytes() == b"a" * 100 + b"b" * 50


def test_a_phone_photo_is_turned_upright_and_loses_its_metadata(store):
    data = phone_jpeg((40, 30))
    stored = upload(store, data)
    assert (stored.mime, stored.width, stored.height) == ("image/jpeg", 30, 40)
    kept = store.path(sha(data)).read_bytes()
    with Image.open(io.BytesIO(kept)) as image:
        assert image.format == "JPEG" and image.size == (30, 40)
        assert dict(image.getexif()) == {} and "comment" not in image.info and "exif" not in image.info
        red, green, blue = image.convert("RGB").getpixel((image.width - 2, 1))  # raw top left is now top right
        assert red > 200 and blue < 80
    assert b"Exif" not in kept and b"PhoneMaker" not in kept and b"back gate" not in kept
    assert not store.partial_path(sha(data)).exists()


def test_the_thumbnail_is_a_small_jpeg(store):
    data = noise_jpeg((1600, 1200))
    upload(store, data)
    with store.open(sha(data), thumb=True) as f, Image.open(f) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 320 and thumb.size == (320, 240)


@pytest.mark.parametrize("data,mime,mode", [
    (png(mode="RGBA"), "image/png", "RGBA"),
    (png(mode="L"), "image/png", "L"),
    (png(mode="I;16"), "image/png", "I;16"),
])
def test_a_png_stays_a_png(store, data, mime, mode):
    stored = upload(store, data)
    assert (stored.mime, stored.width, stored.height) == (mime, 64, 48)
    with store.open(sha(data)) as f, Image.open(f) as image:
        assert image.format == "PNG" and image.mode == mode
    with store.open(sha(data), thumb=True) as f, Image.open(f) as thumb:
        assert thumb.format == "JPEG" and thumb.mode == "RGB"


def test_a_webp_stays_a_webp(store):
    out = io.BytesIO()
    Image.new("RGB", (50, 20), "white").save(out, "WEBP")
    stored = upload(store, out.getvalue())
    assert (stored.mime, stored.width, stored.height) == ("image/webp", 50, 20)


@pytest.mark.parametrize("make,code,kind", [
    (lambda: os.urandom(5000), "not_an_image", BlobRejected),
    (lambda: phone_jpeg()[:300], "not_an_image", BlobRejected),  # cut short
    (lambda: b"", "not_an_image", BlobRejected),
    (gif, "unsupported_type", UnsupportedType),
    (bomb_png, "too_many_pixels", BlobRejected),  # over Pillow's own limit
    (lambda: bomb_png(8000, 8000), "too_many_pixels", BlobRejected),  # over ours only
    (lambda: bomb_png(7000, 7000), "too_many_pixels", BlobRejected),  # 49 MP: far more than a phone sends
])
def test_what_is_not_an_accepted_image_is_refused_and_discarded(store, make, code, kind):
    data = make()
    with pytest.raises(kind) as refused:
        upload(store, data)
    assert refused.value.code == code
    assert not store.partial_path(sha(data)).exists() and not store.has(sha(data))


def test_the_bomb_is_small_on_disk_and_over_the_limit():
    data = bomb_png()
    assert len(data) < 200_000 and 20000 * 20000 > MAX_PIXELS
    assert MAX_PIXELS == 16_777_216 and len(bomb_png(7000, 7000)) < 200_000


def test_too_many_pixels_are_refused_from_the_header_before_anything_is_decoded(tmp_path, decoded):
    data = phone_jpeg((40, 30))
    strict = FileBlobStore(tmp_path / "strict", max_pixels=40 * 30 - 1)  # Pillow's own limit plays no part
    with pytest.raises(BlobRejected) as refused:
        upload(strict, data)
    assert refused.value.code == "too_many_pixels" and decoded == []
    assert not strict.partial_path(sha(data)).exists() and not strict.has(sha(data))
    stored = upload(FileBlobStore(tmp_path / "at-the-limit", max_pixels=40 * 30), data)
    assert (stored.width, stored.height) == (30, 40) and set(decoded) == {(40, 30)}


def test_no_more_images_are_decoded_at_once_than_there_are_slots(tmp_path, monkeypatch):
    slots = DecodeSlots(2)
    store = FileBlobStore(tmp_path / "uploads", decode_slots=slots)
    photos = [png((20 + n, 10)) for n in range(3)]
    for data in photos:
        store.append(sha(data), 0, data)
    inside, peak, lock, go_on = 0, 0, threading.Lock(), threading.Event()
    open_image = sync.blobs._open_image

    def slow_decode(path, max_pixels):
        """Decode, holding on until the test has seen who decodes and who waits."""
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        try:
            assert go_on.wait(30)
            return open_image(path, max_pixels)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(sync.blobs, "_open_image", slow_decode)
    results = {}
    threads = [threading.Thread(target=lambda d=data: results.update({sha(d): store.finish(sha(d), len(d))}))
               for data in photos]
    for thread in threads:
        thread.start()
    try:
        with slots.changed:
            assert slots.changed.wait_for(lambda: slots.busy == 2 and slots.waiting == 1, timeout=30)
    finally:
        go_on.set()
        for thread in threads:
            thread.join(30)
    assert peak == 2 and slots.busy == slots.waiting == 0
    assert sorted(r.width for r in results.values()) == [20, 21, 22] and all(store.has(sha(d)) for d in photos)


def test_bytes_that_are_not_the_named_hash_are_refused_and_discarded(store):
    data = phone_jpeg()
    other = sha(b"something else")
    store.append(other, 0, data)
    with pytest.raises(BlobRejected) as refused:
        store.finish(other, len(data))
    assert refused.value.code == "hash_mismatch"
    assert store.held(other) == 0 and not store.has(other)


def test_fewer_bytes_than_announced_are_refused(store):
    data = phone_jpeg()
    store.append(sha(data), 0, data)
    with pytest.raises(BlobRejected) as refused:
        store.finish(sha(data), len(data) + 1)
    assert refused.value.code == "length_mismatch"


def test_finishing_twice_keeps_one_intact_file(store):
    data = phone_jpeg()
    first = upload(store, data)
    again = upload(store, data)
    assert first == again
    assert sorted(p.name for p in store.path(sha(data)).parent.iterdir()) == [sha(data)]  # no temp files left


@pytest.mark.parametrize("name", ["../../etc/passwd", "A" * 64, "0" * 63, ""])
def test_only_sha256_names_reach_the_disk(store, name):
    with pytest.raises(ValueError):
        store.append(name, 0, b"x")
