"""Photos and signature images: content-addressed blobs and what they belong to."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
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
