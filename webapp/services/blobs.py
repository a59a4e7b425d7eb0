"""Photos and signature images held by the server: resumable, content-addressed uploads.

The blob's database row is both its record and its lock. Every write takes the row first
(SQLite: a transaction begun IMMEDIATE, the single writer; PostgreSQL: `SELECT ... FOR UPDATE`
on a row created by an INSERT that tolerates a conflict), then touches the files, then commits.
So two uploads of the same photo, from two devices or two workers, take turns: one finishes it
and the other learns it is already held.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from sync.blobs import BlobRejected, BlobStore, FileBlobStore
from sync.db import immediate_writes
from webapp.extensions import db
from webapp.models import Blob

MAX_BLOB_BYTES = 20 * 1024 * 1024
MAX_CHUNK_BYTES = 1024 * 1024
PENDING_MIME = "application/octet-stream"  # until the finished file shows what it is
THUMB_MIME = "image/jpeg"


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


def store() -> BlobStore:
    """Return the blob store of this app (files under UPLOAD_DIR)."""
    return FileBlobStore(current_app.config["UPLOAD_DIR"])


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


def upload_state(sha256: str) -> UploadState | None:
    """Return how much of this blob is held, or None if no upload of it ever began (or it was refused)."""
    row = db.session.get(Blob, sha256)
    if row is None:
        return None
    return _state(row, None if row.complete else min(row.received, store().held(sha256)))


def _lock_row(sha256: str, length: int) -> Blob:
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for _ in range(3):
        db.session.execute(
            insert(Blob).values(sha256=sha256, mime=PENDING_MIME, length=length, received=0, complete=False)
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


def put_whole(sha256: str, body: BinaryIO) -> tuple[UploadState, bool]:
    """Store a whole file sent at once; return its state and whether this request completed it."""
    row = db.session.get(Blob, sha256)
    if row is not None and row.complete:
        return _state(row), False
    # Receive the body before taking the lock: a slow phone must not hold the database's writer.
    with tempfile.SpooledTemporaryFile(max_size=MAX_CHUNK_BYTES) as spool:
        length = _spool(body, spool)
        with _locked(sha256, length) as row:
            if row.complete:
                return _state(row), False
            files = store()
            files.discard(sha256)  # a whole file replaces any unfinished upload
            row.length = row.received = files.append(sha256, 0, spool)
            _finish(files, row)
            return _state(row), True


def append_chunk(sha256: str, offset: int, length: int, chunk: bytes) -> tuple[UploadState, bool]:
    """Write one chunk at `offset` of an upload of `length` bytes; return the state and whether it completed."""
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
        held = min(row.received, files.held(sha256))  # a partial file lost on disk is resent
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
    """Store a photo posted with a form (no JavaScript): hash it here, then as a whole upload; return its name."""
    with tempfile.SpooledTemporaryFile(max_size=MAX_CHUNK_BYTES) as spool:
        _spool(body, spool)
        digest = hashlib.sha256()
        for piece in iter(lambda: spool.read(1 << 16), b""):
            digest.update(piece)
        spool.seek(0)
        sha256 = digest.hexdigest()
        put_whole(sha256, spool)
    return sha256
