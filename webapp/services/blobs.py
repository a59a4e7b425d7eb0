"""Photos and signature images held by the server: resumable, content-addressed uploads.

The blob's database row is both its record and its lock. Every write takes the row first
(SQLite: a transaction begun IMMEDIATE, the single writer; PostgreSQL: `SELECT ... FOR UPDATE`
on a row created by an INSERT that tolerates a conflict), then touches the files, then commits.
So two uploads of the same photo, from two devices or two workers, take turns: one finishes it
and the other learns it is already held.

An unfinished upload belongs to its uploader (the device, or the person of a cookie session): nobody
else may append to it, restart it or finish it (409 `upload_in_progress`; HEAD answers them 404)
until it has gone untouched for PARTIAL_UPLOAD_HOURS. Then it expires: the next upload of that
file discards it and starts afresh, and `flask --app webapp expire-uploads` (cron) discards every
expired one. A complete blob is everyone's. Each uploader may hold UPLOAD_HELD_BYTES of unfinished
uploads at once and send UPLOAD_DAILY_BYTES a plant day (413 `upload_quota` / `daily_quota`, with
Retry-After): the device keeps its photos and tries again later. The office import and other
server-side callers pass no uploader: no owner, no quota.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sync.blobs import MAX_PIXELS, BlobRejected, BlobStore, DecodeSlots, FileBlobStore, limit_decoder
from sync.db import immediate_writes
from webapp.extensions import db
from webapp.models import Blob
from webapp.models.attachments import UploadUsage
from webapp.models.types import utcnow

MAX_BLOB_BYTES = 20 * 1024 * 1024
MAX_CHUNK_BYTES = 1024 * 1024
PENDING_MIME = "application/octet-stream"  # until the finished file shows what it is
THUMB_MIME = "image/jpeg"
IN_PROGRESS_RETRY_S = 15 * 60  # ask again this soon: the other uploader has probably finished by then


@dataclass(frozen=True)
class UploadState:
    """How much of a blob the server holds, and what it turned out to be once complete."""

    sha256: str
    length: int
    received: int
    complete: bool
    mime: str | None = None
    width: int | None = None
    height: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the state as the API answers it."""
        return {"sha256": self.sha256, "length": self.length, "received": self.received,
                "complete": self.complete, "mime": self.mime, "width": self.width, "height": self.height}


class TooLarge(ValueError):
    """A file or a chunk over the limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class OffsetMismatch(Exception):
    """A chunk that does not start where the held bytes end (409): the device resumes from `state.received`."""

    def __init__(self, state: UploadState) -> None:
        super().__init__(state.received)
        self.state = state


class LengthChanged(OffsetMismatch):
    """A chunk of an upload begun with another Upload-Length (409)."""


class ChunkPastEnd(ValueError):
    """A chunk that would run past the file's Upload-Length (400)."""


class UploadRefused(ValueError):
    """An upload not taken now, through no fault of the file: the device keeps it and tries after `retry_after` s."""

    code = "upload_refused"

    def __init__(self, retry_after: int, limit: int | None = None) -> None:
        super().__init__(self.code)
        self.retry_after = max(1, retry_after)
        self.limit = limit


class UploadInProgress(UploadRefused):
    """Someone else's unfinished upload of this file is live (409): not theirs to append to, restart or finish."""

    code = "upload_in_progress"


class HeldQuotaExceeded(UploadRefused):
    """The uploader already holds UPLOAD_HELD_BYTES of unfinished uploads (413)."""

    code = "upload_quota"


class DailyQuotaExceeded(UploadRefused):
    """The uploader sent UPLOAD_DAILY_BYTES this plant day (413); Retry-After is the next midnight."""

    code = "daily_quota"


_slots: dict[int, DecodeSlots] = {}
_slots_lock = threading.Lock()


def decode_slots(count: int) -> DecodeSlots:
    """Return this process's decode slots (one set for all requests and threads of the process)."""
    with _slots_lock:
        return _slots.setdefault(count, DecodeSlots(count))


def store() -> BlobStore:
    """Return the blob store of this app (files under UPLOAD_DIR), with its pixel limit and decode slots."""
    config = current_app.config
    max_pixels = int(config.get("BLOB_MAX_PIXELS", MAX_PIXELS))
    limit_decoder(max_pixels)  # process-wide, and the same for every app of it: Pillow never decodes a bomb
    return FileBlobStore(config["UPLOAD_DIR"], max_pixels=max_pixels,
                         decode_slots=decode_slots(int(config.get("BLOB_DECODE_SLOTS", 2))))


def current_uploader() -> str | None:
    """Return who sends this request's upload: its device (bearer token), else its signed-in person."""
    if not has_request_context():
        return None
    device = getattr(g, "device", None)
    if device:
        return f"device:{device['id']}"
    from webapp.auth import api_user

    user = api_user()
    return f"user:{user.id}" if user is not None else None


def _partial_lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config.get("PARTIAL_UPLOAD_HOURS", 24)))


def _last_touched(row: Blob) -> datetime:
    return row.touched_at or row.created_at


def _expired(row: Blob, now: datetime) -> bool:
    return not row.complete and _last_touched(row) < now - _partial_lifetime()


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _plant_day(now: datetime) -> tuple[date, int]:
    """Return the plant's date now and the seconds until its next midnight (when the daily quota starts again)."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), zone)
    return local.date(), _seconds(midnight - local)


def missing(shas: list[str]) -> list[str]:
    """Return which of these files the server does not hold completely yet."""
    if not shas:
        return []
    held = set(db.session.execute(
        select(Blob.sha256).where(Blob.sha256.in_(shas), Blob.complete.is_(True))
    ).scalars())
    return [sha for sha in shas if sha not in held]


def _state(row: Blob, received: int | None = None) -> UploadState:
    if row.complete:
        return UploadState(row.sha256, row.length, row.length, True, row.mime, row.width, row.height)
    return UploadState(row.sha256, row.length, row.received if received is None else received, False)


def upload_state(sha256: str, uploader: str | None = None) -> UploadState | None:
    """Return how much of this blob is held; None if no upload of it began, it was refused or expired, or
    it is someone else's unfinished upload (an `uploader` given: only theirs and complete ones are shown)."""
    row = db.session.get(Blob, sha256)
    if row is None:
        return None
    if row.complete:
        return _state(row)
    if _expired(row, utcnow()) or not _may_write(row, uploader):
        return None
    return _state(row, min(row.received, store().held(sha256)))


def _may_write(row: Blob, uploader: str | None) -> bool:
    return uploader is None or row.uploader is None or row.uploader == uploader


def _insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _lock_row(sha256: str, length: int) -> Blob:
    insert = _insert()
    for _ in range(3):
        db.session.execute(
            insert(Blob).values(sha256=sha256, mime=PENDING_MIME, length=length, received=0, complete=False,
                                touched_at=utcnow())
            .on_conflict_do_nothing(index_elements=[Blob.sha256])
        )
        row = db.session.execute(
            select(Blob).where(Blob.sha256 == sha256).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if row is not None:  # None: a refused upload deleted it while we waited; create it again
            return row
    raise RuntimeError(f"could not lock blob {sha256}")


@contextmanager
def _locked(sha256: str, length: int) -> Iterator[Blob]:
    """Hold the blob's row for a write; commit at the end, roll back on failure."""
    db.session.rollback()  # begin the write transaction fresh: IMMEDIATE on SQLite
    with immediate_writes():
        try:
            yield _lock_row(sha256, length)
        except BlobRejected:
            db.session.commit()  # the refused upload's row is deleted: the device starts again
            raise
        except Exception:
            db.session.rollback()
            raise
        db.session.commit()


def _take(files: BlobStore, row: Blob, uploader: str | None, length: int, now: datetime) -> int:
    """Check `uploader` may write this unfinished upload (an expired one is discarded first); return bytes held."""
    held = min(row.received, files.held(row.sha256))  # a partial file lost on disk is resent
    if _expired(row, now):
        files.discard(row.sha256)
        row.received = held = 0
        row.length, row.uploader = length, None
    _refuse_unless_theirs(row, uploader, now)
    return held


def _refuse_unless_theirs(row: Blob, uploader: str | None, now: datetime) -> None:
    """Raise UploadInProgress if the unfinished upload in `row` is someone else's and still live."""
    if not _may_write(row, uploader) and not _expired(row, now):
        left = _last_touched(row) + _partial_lifetime() - now
        raise UploadInProgress(min(IN_PROGRESS_RETRY_S, _seconds(left)))


def _check_held(sha256: str, uploader: str, length: int, now: datetime) -> None:
    """Refuse to start an upload of `length` bytes that would take the uploader's unfinished uploads over the quota."""
    limit = int(current_app.config.get("UPLOAD_HELD_BYTES", 200 << 20))
    held = db.session.execute(
        select(func.coalesce(func.sum(Blob.length), 0)).where(
            Blob.uploader == uploader, Blob.complete.is_(False), Blob.sha256 != sha256,
            Blob.touched_at >= now - _partial_lifetime())  # expired ones hold nothing
    ).scalar_one()
    if held + length > limit:
        # Room comes when the uploader finishes one of them, or one expires: ask again in a while.
        raise HeldQuotaExceeded(IN_PROGRESS_RETRY_S, limit)


def _daily_used(uploader: str, now: datetime) -> int:
    day, _ = _plant_day(now)
    used = db.session.execute(
        select(UploadUsage.bytes_received).where(UploadUsage.uploader == uploader, UploadUsage.day == day)
    ).scalar()
    return used or 0


def _count_daily(uploader: str, size: int, now: datetime, *, dry_run: bool = False) -> None:
    """Add `size` bytes to the uploader's bytes of the plant day, or refuse them if that goes over the quota.

    The sum is added and read back in one statement (the row stays locked until the commit), and a
    refusal rolls it back: two requests of one uploader at once cannot both slip under the quota.
    """
    limit = int(current_app.config.get("UPLOAD_DAILY_BYTES", 1 << 30))
    day, until_midnight = _plant_day(now)
    if dry_run:
        if _daily_used(uploader, now) + size > limit:
            raise DailyQuotaExceeded(until_midnight, limit)
        return
    total = db.session.execute(
        _insert()(UploadUsage).values(uploader=uploader, day=day, bytes_received=size)
        .on_conflict_do_update(index_elements=[UploadUsage.uploader, UploadUsage.day],
                               set_={"bytes_received": UploadUsage.bytes_received + size})
        .returning(UploadUsage.bytes_received)
    ).scalar_one()
    if total > limit:
        raise DailyQuotaExceeded(until_midnight, limit)


def _finish(files: BlobStore, row: Blob) -> None:
    try:
        image = files.finish(row.sha256, row.length)
    except BlobRejected:
        db.session.delete(row)
        raise
    row.complete, row.received = True, row.length
    row.mime, row.width, row.height = image.mime, image.width, image.height


def _spool(body: BinaryIO, spool: BinaryIO) -> int:
    size = 0
    while piece := body.read(MAX_CHUNK_BYTES):
        size += len(piece)
        if size > MAX_BLOB_BYTES:
            raise TooLarge(MAX_BLOB_BYTES)
        spool.write(piece)
    spool.seek(0)
    return size


def put_whole(sha256: str, body: BinaryIO, uploader: str | None = None,
              expected: int = 0) -> tuple[UploadState, bool]:
    """Store a whole file sent at once; return its state and whether this request completed it.

    `uploader` (None: a server-side caller, as the office import) may not replace someone else's live
    unfinished upload and counts the bytes against its daily quota; `expected` (the announced size)
    lets an upload over the quota be refused before its body is read.
    """
    row = db.session.get(Blob, sha256)
    if row is not None and row.complete:
        return _state(row), False
    now = utcnow()
    if uploader is not None:  # refuse before receiving the body when the answer is known already
        if row is not None:
            _refuse_unless_theirs(row, uploader, now)
        _count_daily(uploader, expected, now, dry_run=True)
    # Receive the body before taking the lock: a slow phone must not hold the database's writer.
    with tempfile.SpooledTemporaryFile(max_size=MAX_CHUNK_BYTES) as spool:
        length = _spool(body, spool)
        with _locked(sha256, length) as row:
            if row.complete:
                return _state(row), False
            files = store()
            now = utcnow()
            _take(files, row, uploader, length, now)
            if uploader is not None:
                _count_daily(uploader, length, now)
            files.discard(sha256)  # a whole file replaces the uploader's own unfinished upload
            row.length = row.received = files.append(sha256, 0, spool)
            row.uploader, row.touched_at = uploader or row.uploader, now
            _finish(files, row)
            return _state(row), True


def append_chunk(sha256: str, offset: int, length: int, chunk: bytes,
                 uploader: str | None = None) -> tuple[UploadState, bool]:
    """Write one chunk at `offset` of an upload of `length` bytes; return the state and whether it completed.

    The first chunk makes `uploader` the upload's owner; the chunks count against its quotas.
    """
    if length > MAX_BLOB_BYTES:
        raise TooLarge(MAX_BLOB_BYTES)
    if len(chunk) > MAX_CHUNK_BYTES:
        raise TooLarge(MAX_CHUNK_BYTES)
    row = db.session.get(Blob, sha256)
    if row is not None and row.complete:
        return _state(row), False
    with _locked(sha256, length) as row:
        if row.complete:
            return _state(row), False
        files = store()
        now = utcnow()
        held = _take(files, row, uploader, length, now)
        if row.length != length:
            if offset != 0:
                raise LengthChanged(_state(row, held))
            # A fresh start with another length replaces an abandoned upload; its hash decides at the end.
            files.discard(sha256)
            row.length, held = length, 0
        if offset != held:
            raise OffsetMismatch(_state(row, held))
        if offset + len(chunk) > length:
            raise ChunkPastEnd(offset + len(chunk))
        if uploader is not None:
            if held == 0:
                _check_held(sha256, uploader, length, now)
            _count_daily(uploader, len(chunk), now)
            row.uploader = uploader
        row.touched_at = now
        row.received = files.append(sha256, offset, chunk) if chunk else held
        if row.received < length:
            return _state(row), False
        _finish(files, row)
        return _state(row), True


@dataclass(frozen=True)
class ServedImage:
    """A stored image opened for a viewer: its bytes, MIME type and size."""

    file: BinaryIO
    mime: str
    size: int


def open_image(sha256: str, *, thumb: bool = False) -> ServedImage | None:
    """Open a complete blob's cleaned image (or its JPEG thumbnail); None if not held."""
    row = db.session.get(Blob, sha256)
    if row is None or not row.complete:
        return None
    try:
        file = store().open(sha256, thumb=thumb)
    except FileNotFoundError:
        return None
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    return ServedImage(file, THUMB_MIME if thumb else row.mime, size)


def store_upload(body: BinaryIO) -> str:
    """Store a photo posted with a form (no JavaScript): hash it here, then as a whole upload; return its name.

    It counts against the signed-in person's quotas (UploadRefused, a ValueError, when over).
    """
    with tempfile.SpooledTemporaryFile(max_size=MAX_CHUNK_BYTES) as spool:
        _spool(body, spool)
        digest = hashlib.sha256()
        for piece in iter(lambda: spool.read(1 << 16), b""):
            digest.update(piece)
        spool.seek(0)
        sha256 = digest.hexdigest()
        put_whole(sha256, spool, uploader=current_uploader())
    return sha256


@dataclass(frozen=True)
class Expired:
    """What `expire_partials` discarded."""

    uploads: int
    stray_files: int
    usage_rows: int


def expire_partials(now: datetime | None = None) -> Expired:
    """Discard every unfinished upload untouched for PARTIAL_UPLOAD_HOURS (its bytes and its row), partial
    files no row claims that are as old, and daily-quota counts older than yesterday."""
    now = now or utcnow()
    cutoff = now - _partial_lifetime()
    files = store()
    stale = db.session.execute(select(Blob.sha256).where(
        Blob.complete.is_(False),
        or_(Blob.touched_at < cutoff, and_(Blob.touched_at.is_(None), Blob.created_at < cutoff)),
    )).scalars().all()
    uploads = 0
    for sha256 in stale:
        db.session.rollback()
        with immediate_writes():
            row = db.session.execute(
                select(Blob).where(Blob.sha256 == sha256).with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if row is not None and _expired(row, now):  # not finished or touched meanwhile
                files.discard(sha256)
                db.session.delete(row)
                uploads += 1
            db.session.commit()
    # A partial file whose row was never committed (the worker died): gone once it is as old.
    live = set(db.session.execute(select(Blob.sha256).where(Blob.complete.is_(False))).scalars())
    strays = [name for name in files.untouched_partials(cutoff.timestamp()) if name not in live]
    for name in strays:
        files.discard(name)
    day, _ = _plant_day(now)
    db.session.rollback()
    with immediate_writes():
        usage = db.session.execute(delete(UploadUsage).where(UploadUsage.day < day - timedelta(days=1))).rowcount
        db.session.commit()
    return Expired(uploads, len(strays), usage)
