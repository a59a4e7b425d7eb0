"""Bins (周转箱), their labels, counts and stocktakes."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Bin(db.Model):
    """A reusable work-in-progress container with a QR label; its state follows the event log."""

    __tablename__ = "bins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # current label's code
    bin_type: Mapped[str | None] = mapped_column(String(40))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | retired
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int | None] = mapped_column(Integer)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    location_since = mapped_column(UTCDateTime)
    last_counted_at = mapped_column(UTCDateTime)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every move or count
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    workshop = relationship("Workshop")
    work_order = relationship("WorkOrder")
    product = relationship("Product")
    location = relationship("Location")


class BinLabel(db.Model):
    """A printed label code; a replaced label is retired and still points to its bin."""

    __tablename__ = "bin_labels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # minting order: gapless, never reused
    code: Mapped[str] = mapped_column(String(20), unique=True)
    bin_id: Mapped[int] = mapped_column(ForeignKey("bins.id"), index=True)
    minted_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    retired_at = mapped_column(UTCDateTime)
    retired_reason: Mapped[str | None] = mapped_column(String(200))
    bin = relationship(Bin)


class Stocktake(db.Model):
    """A count of all WIP in an area (盘点), made of the counts taken during it."""

    __tablename__ = "stocktakes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    started_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    closed_at = mapped_column(UTCDateTime)
    # Started on a device (issue 15): its id, what was expected when it started, how it ended.
    stocktake_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    status: Mapped[str | None] = mapped_column(String(20))  # open | closed | approved
    expected = mapped_column(JSON)  # [{"code", "quantity"}] of the bins the area held at the start
    approved_by: Mapped[int | None] = mapped_column(Integer)
    approved_at = mapped_column(UTCDateTime)
    location = relationship("Location")


class Count(db.Model):
    """A bin counted by someone at a time: derived from one `bin.counted` event."""

    __tablename__ = "counts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"), index=True)
    bin_code: Mapped[str] = mapped_column(String(40), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(10), default="pcs")
    note: Mapped[str | None] = mapped_column(Text)
    stocktake_id: Mapped[int | None] = mapped_column(ForeignKey("stocktakes.id"))
    counted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger, default=0)  # the event's seq: log order is (time, device, seq)
    counted_at = mapped_column(UTCDateTime, nullable=False)  # effective time
    received_at = mapped_column(UTCDateTime, nullable=False)
    outcome: Mapped[str] = mapped_column(String(20), default="recorded")  # recorded|confirmed|discrepancy|recount
    bin = relationship(Bin)
    counter = relationship("User")
