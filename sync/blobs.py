"""Photo and signature files: resumable partial uploads, checked and cleaned images, thumbnails.

A blob is named by the SHA-256 the device computed over the bytes it sent. On completion the
store checks those bytes (length and hash), opens them with Pillow, and keeps a cleaned copy:
EXIF orientation applied, EXIF/GPS and other metadata dropped by re-encoding. The cleaned file
keeps the device's name, so the key is "the hash of what the device sent", not of the file held.

Storage sits behind `BlobStore`; `FileBlobStore` keeps files under one folder. Callers
serialise writes per blob (the webapp holds the blob's database row lock): the store itself
only promises that a finished file appears whole or not at all.

Memory: a decoded image costs 3 to 4 bytes a pixel, and turning it upright and shrinking it
copies it, so a 16 MP photo takes about 200 MB while it is finished (a 7000x7000 PNG of
185 KB, about 700 MB). So the pixel count is read from the header and checked before
anything is decoded, Pillow's own bomb limit is lowered to match (`limit_decoder`), and
`DecodeSlots` lets only a few finishes of a process decode at once; the others wait their turn.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from sync.envelope import SHA256_RE

MAX_PIXELS = 16_777_216  # 16 MP: a phone camera's full size (4000x3000 is 12 MP); the app sends ~1600 px
THUMB_PX = 320
JPEG_QUALITY = 90
THUMB_QUALITY = 80
ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Metadata that survives re-encoding: colour and transparency, nothing about the place or the phone.
KEPT_INFO = ("icc_profile", "transparency")
PIECE = 1 << 20
# Other image types a phone might send, recognised to answer "wrong type" (415), not "not an image".
OTHER_IMAGE_MAGIC = (b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00")
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif")


class BlobRejected(Exception):
    """An upload the server will not keep (422): not the bytes the device named, or not an image."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class UnsupportedType(BlobRejected):
    """An image of a type the server does not take (415)."""


@dataclass(frozen=True)
class StoredImage:
    """What was kept of a finished upload: the cleaned image's type, size in pixels and in bytes."""

    mime: str
    width: int
    height: int
    size: int


def limit_decoder(max_pixels: int) -> None:
    """Lower Pillow's own decompression-bomb limit for this process to `max_pixels`.

    Pillow checks it in `Image.open`, from the header: over it a DecompressionBombWarning (an
    error where warnings are errors), over twice it a DecompressionBombError. Its default
    (about 89 MP) would let a 178 MP bomb be decoded by any code that opens an image.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels


class DecodeSlots:
    """At most `count` images decoded at once in this process; the others wait for a free slot.

    `busy` and `waiting` say how many finishes decode and wait now (`changed` is notified when
    they change), for logs and tests.
    """

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one decode slot")
        self.count = count
        self._free = threading.BoundedSemaphore(count)
        self.changed = threading.Condition()
        self.busy = 0
        self.waiting = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block, waiting for one first if all are taken."""
        with self.changed:
            self.waiting += 1
            self.changed.notify_all()
        try:
            self._free.acquire()
        finally:
            with self.changed:
                self.waiting -= 1
                self.changed.notify_all()
        try:
            with self.changed:
                self.busy += 1
                self.changed.notify_all()
            yield
        finally:
            with self.changed:
                self.busy -= 1
                self.changed.notify_all()
            self._free.release()


@contextmanager
def _no_slot() -> Iterator[None]:
    yield


class BlobStore(Protocol):
    """Where blob bytes live: partial uploads, finished (cleaned) images and their thumbnails."""

    def held(self, sha256: str) -> int:
        """Return how many bytes of an unfinished upload are held (0 if none)."""
        ...

    def append(self, sha256: str, offset: int, data: bytes | BinaryIO) -> int:
        """Write `data` at `offset` of the partial upload, durably; return the bytes now held."""
        ...

    def finish(self, sha256: str, length: int) -> StoredImage:
        """Check the partial upload and keep its cleaned image; discard it and raise BlobRejected if bad."""
        ...

    def discard(self, sha256: str) -> None:
        """Forget an unfinished upload."""
        ...

    def has(self, sha256: str) -> bool:
        """Say whether the finished image is held."""
        ...

    def untouched_partials(self, before: float) -> list[str]:
        """Return the names of unfinished uploads last written before `before` (epoch seconds)."""
        ...

    def open(self, sha256: str, *, thumb: bool = False) -> BinaryIO:
        """Open the finished image (or its JPEG thumbnail) for reading; FileNotFoundError if absent."""
        ...


def _checked(sha256: str) -> str:
    if not SHA256_RE.match(sha256):
        raise ValueError(f"not a lowercase SHA-256 hex digest: {sha256!r}")
    return sha256


def _pieces(data: bytes | BinaryIO) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    while piece := data.read(PIECE):
        yield piece


class FileBlobStore:
    """Blobs as files: `partial/<sha>`, `<sha[:2]>/<sha>` when finished, `thumbs/<sha>.jpg`.

    `max_pixels` refuses larger images before decoding them; `decode_slots` (shared by every
    store of a process) bounds how many finishes decode at once (None: no bound).
    """

    def __init__(self, root: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS,
                 decode_slots: DecodeSlots | None = None) -> None:
        self.root = Path(root)
        self.max_pixels = max_pixels
        self.decode_slots = decode_slots

    def partial_path(self, sha256: str) -> Path:
        """Return where the unfinished upload of `sha256` is written."""
        return self.root / "partial" / _checked(sha256)

    def path(self, sha256: str, *, thumb: bool = False) -> Path:
        """Return where the finished image (or its thumbnail) of `sha256` is kept."""
        sha256 = _checked(sha256)
        return self.root / "thumbs" / f"{sha256}.jpg" if thumb else self.root / sha256[:2] / sha256

    def held(self, sha256: str) -> int:
        """Return how many bytes of an unfinished upload are held (0 if none)."""
        try:
            return self.partial_path(sha256).stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, sha256: str, offset: int, data: bytes | BinaryIO) -> int:
        """Write `data` at `offset` of the partial upload, durably; return the bytes now held."""
        path = self.partial_path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o640)
        try:
            end = offset
            for piece in _pieces(data):
                view = memoryview(piece)
                while view:  # pwrite may write less than asked
                    written = os.pwrite(fd, view, end)
                    end += written
                    view = view[written:]
            # Bytes past the end belong to an attempt whose answer never reached the database: not held.
            os.ftruncate(fd, end)
            os.fsync(fd)
        finally:
            os.close(fd)
        return end

    def finish(self, sha256: str, length: int) -> StoredImage:
        """Check the partial upload and keep its cleaned image; discard it and raise BlobRejected if bad."""
        partial = self.partial_path(sha256)
        try:
            _check_bytes(partial, sha256, length)
            _check_header(partial, self.max_pixels)  # before waiting for a slot: a refusal costs no memory
            with self.decode_slots.slot() if self.decode_slots else _no_slot():
                with _open_image(partial, self.max_pixels) as image:
                    clean = _upright(image)
                    self._place(self.path(sha256, thumb=True), lambda out: _save_thumbnail(clean, out))
                    fmt = image.format or ""
                    final = self._place(self.path(sha256), lambda out: _save_clean(clean, fmt, out))
                    width, height = clean.width, clean.height
                    clean.close()
        except BlobRejected:
            self.discard(sha256)
            raise
        partial.unlink(missing_ok=True)
        return StoredImage(ACCEPTED[fmt], width, height, final.stat().st_size)

    def discard(self, sha256: str) -> None:
        """Forget an unfinished upload."""
        self.partial_path(sha256).unlink(missing_ok=True)

    def has(self, sha256: str) -> bool:
        """Say whether the finished image is held."""
        return self.path(sha256).is_file()

    def untouched_partials(self, before: float) -> list[str]:
        """Return the names of unfinished uploads last written before `before` (epoch seconds)."""
        folder = self.root / "partial"
        if not folder.is_dir():
            return []
        names = []
        for path in folder.iterdir():
            try:
                if SHA256_RE.match(path.name) and path.stat().st_mtime < before:
                    names.append(path.name)
            except FileNotFoundError:  # finished or discarded meanwhile
                continue
        return names

    def open(self, sha256: str, *, thumb: bool = False) -> BinaryIO:
        """Open the finished image (or its JPEG thumbnail) for reading; FileNotFoundError if absent."""
        return self.path(sha256, thumb=thumb).open("rb")

    def _place(self, target: Path, write: Callable[[BinaryIO], None]) -> Path:
        # Write beside the target and rename over it: readers and a concurrent writer of the same
        # content see the old file or the new one, never a torn one.
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o640)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return target


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_bytes(path: Path, sha256: str, length: int) -> None:
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size != length:
                raise BlobRejected("length_mismatch", f"received {size} bytes, Upload-Length was {length}")
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        raise BlobRejected("length_mismatch", "no bytes held") from None
    if digest != sha256:
        raise BlobRejected("hash_mismatch", f"the bytes hash to {digest}")


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    if size[0] * size[1] > max_pixels:
        raise BlobRejected("too_many_pixels", f"{size[0]}x{size[1]} is over {max_pixels} pixels")


def _other_image_type(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(16)
    return head.startswith(OTHER_IMAGE_MAGIC) or (head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS)


def _check_header(path: Path, max_pixels: int) -> None:
    """Refuse what is not an accepted image, or has too many pixels, from its header alone."""
    with _refusals(path), Image.open(path, formats=list(ACCEPTED)) as probe:
        _check_pixels(probe.size, max_pixels)


def _open_image(path: Path, max_pixels: int) -> Image.Image:
    """Open an accepted image fully decoded, after checking its pixel count and structure."""
    formats = list(ACCEPTED)
    with _refusals(path):
        # Image.open reads the header only: the pixel limit is checked before anything is decoded.
        with Image.open(path, formats=formats) as probe:
            _check_pixels(probe.size, max_pixels)
            probe.verify()
        image = Image.open(path, formats=formats)
        try:
            image.load()
        except BaseException:
            image.close()
            raise
    return image


@contextmanager
def _refusals(path: Path) -> Iterator[None]:
    """Turn Pillow's errors about an upload into the refusals the device is told."""
    try:
        yield
    except BlobRejected:
        raise
    except UnidentifiedImageError:
        if _other_image_type(path):
            raise UnsupportedType("unsupported_type", "send JPEG, PNG or WebP") from None
        raise BlobRejected("not_an_image", "not a JPEG, PNG or WebP image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit (its warning is an error only where warnings are errors, as in the
        # tests); ours is lower, so either way the image is refused.
        raise BlobRejected("too_many_pixels", str(exc)) from None
    except Exception as exc:  # Pillow's decoders raise many kinds for damaged data
        raise BlobRejected("not_an_image", f"damaged image: {type(exc).__name__}") from None


def _upright(image: Image.Image) -> Image.Image:
    """Return the image turned as its EXIF orientation says, with no metadata but colour and transparency."""
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block costs the orientation, not the photo
        upright = image.copy()
    upright.info = {key: value for key, value in image.info.items() if key in KEPT_INFO}
    return upright


def _save_clean(image: Image.Image, fmt: str, out: BinaryIO) -> None:
    icc = image.info.get("icc_profile")
    if fmt == "JPEG":
        rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
        rgb.save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=icc)
    elif fmt == "PNG":
        image.save(out, "PNG")
    else:
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image.convert("RGBA" if has_alpha else "RGB").save(out, "WEBP", quality=JPEG_QUALITY, icc_profile=icc)


def _on_white(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, "white")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = image.convert("I").point(lambda v: v / 256).convert("L")  # 16-bit grey to 8-bit
    return image.convert("RGB")


def _save_thumbnail(image: Image.Image, out: BinaryIO) -> None:
    thumb = image.copy()
    thumb.thumbnail((THUMB_PX, THUMB_PX))
    _on_white(thumb).save(out, "JPEG", quality=THUMB_QUALITY)
