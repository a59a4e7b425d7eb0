"""Photos and signature images: content-addressed blobs and what they belong to."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Blob(db.Model):
    """A file held by its SHA-256; the same photo twice is stored once."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    mime: Mapped[str] = mapped_column(String(60))
    length: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes held (resumable upload)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # An unfinished upload belongs to who sent its first chunk ("device:<id>", or "user:<id>" for a
    # cookie session) until it goes untouched for PARTIAL_UPLOAD_HOURS: nobody else may append to it,
    # restart it or finish it meanwhile. A complete blob is everyone's; the column then says who finished it.
    uploader: Mapped[str | None] = mapped_column(String(60), index=True)
    touched_at = mapped_column(UTCDateTime)  # when its last chunk came (None only for blobs older than 0007)


class UploadUsage(db.Model):
    """The bytes one uploader sent on one plant day: the daily upload quota (UPLOAD_DAILY_BYTES)."""

    __tablename__ = "upload_usage"
    uploader: Mapped[str] = mapped_column(String(60), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # in the plant's time zone
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)


class Attachment(db.Model):
    """A blob attached to a record by an event: a defect photo or a drawn signature."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # may arrive before its blob
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="photo")  # photo | signature
    defect_id: Mapped[int | None] = mapped_column(ForeignKey("defects.id"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    defect = relationship("Defect", back_populates="attachments")
