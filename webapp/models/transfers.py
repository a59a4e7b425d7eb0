"""Transfer slips (转序单), warehouse entry/issue slips and their signatures."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Transfer(db.Model):
    """Moving a quantity of parts in a bin from one location to the next (§3.2, §5)."""

    __tablename__ = "transfers"
    KINDS = ("next_operation", "waiting", "warehouse", "return")
    STATUSES = ("open", "complete", "refused", "held")
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    event_id: Mapped[str | None] = mapped_column(String(36), unique=True)  # the event that opened it
    kind: Mapped[str] = mapped_column(String(20), default="next_operation")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    bin_id: Mapped[int] = mapped_column(ForeignKey("bins.id"), index=True)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    part_name: Mapped[str | None] = mapped_column(String(120))  # as in the process-state list
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int] = mapped_column(Integer)  # leaving
    quantity_in: Mapped[int | None] = mapped_column(Integer)  # what came into the operation (§5.4)
    explanation: Mapped[str | None] = mapped_column(Text)  # operator's, for a shortfall
    seen_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))  # what the device saw
    seen_bin_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    completed_at = mapped_column(UTCDateTime)
    bin = relationship("Bin")
    work_order = relationship("WorkOrder")
    product = relationship("Product")
    from_location = relationship("Location", foreign_keys=[from_location_id])
    to_location = relationship("Location", foreign_keys=[to_location_id])
    signatures = relationship("Signature", order_by="Signature.signed_at", back_populates="transfer")


class SlipBook(db.Model):
    """A numbered book of entry or issue slips, one per workshop or supplier (§3.5, §3.6)."""

    __tablename__ = "slip_books"
    __table_args__ = (UniqueConstraint("kind", "owner"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # entry | issue
    owner: Mapped[str] = mapped_column(String(60))  # workshop code or supplier name
    prefix: Mapped[str] = mapped_column(String(20))
    last_number: Mapped[int] = mapped_column(Integer, default=0)  # numbers run without gaps


class WarehouseSlip(db.Model):
    """A warehouse entry (入库单) or issue (出库单) slip, numbered in its book."""

    __tablename__ = "warehouse_slips"
    __table_args__ = (UniqueConstraint("book_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("slip_books.id"))
    number: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="own")  # own | bought | outsourced
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    book = relationship(SlipBook)


class Signature(db.Model):
    """A person confirming a quantity or a result (签字) on a slip or an inspection."""

    __tablename__ = "signatures"
    STEPS = ("clerk", "inspector", "operator", "receiver", "director", "keeper", "buyer")
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), index=True)
    warehouse_slip_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse_slips.id"), index=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(10), default="sign")  # sign | refuse
    quantity: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    image_sha256: Mapped[str | None] = mapped_column(String(64))  # the drawn signature
    device_id: Mapped[str | None] = mapped_column(String(36))
    signed_at = mapped_column(UTCDateTime, nullable=False)
    transfer = relationship(Transfer, back_populates="signatures")
    user = relationship("User")
