"""Transfer slips (转序单), warehouse entry/issue slips and their signatures."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Transfer(db.Model):
    """Moving a quantity of parts in a bin from one location to the next (§3.2, §5)."""

    __tablename__ = "transfers"
    KINDS = ("next_operation", "waiting", "warehouse", "return")
    STATUSES = ("open", "discrepancy", "complete", "refused")
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
    # A signed slip (transfer.opened …): what the signatures sign, and how it stands (webapp/services/transfers.py).
    content_hash: Mapped[str | None] = mapped_column(String(64))
    quantity_received: Mapped[int | None] = mapped_column(Integer)  # the receiver's count
    scrap_quantity: Mapped[int | None] = mapped_column(Integer)  # a difference the statistician wrote off
    custodian_id: Mapped[int | None] = mapped_column(Integer)  # in whose keeping (the waiting area, §3.3)
    moved_event_id: Mapped[str | None] = mapped_column(String(36))  # the event whose log order moved the bins
    refused_reason: Mapped[str | None] = mapped_column(Text)
    bin = relationship("Bin")
    work_order = relationship("WorkOrder")
    product = relationship("Product")
    from_location = relationship("Location", foreign_keys=[from_location_id])
    to_location = relationship("Location", foreign_keys=[to_location_id])
    signatures = relationship("Signature", order_by="Signature.signed_at", back_populates="transfer")


class TransferBin(db.Model):
    """A bin on a slip (a slip carries one or more bins of one part)."""

    __tablename__ = "transfer_bins"
    __table_args__ = (UniqueConstraint("transfer_id", "bin_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    bin_id: Mapped[int] = mapped_column(ForeignKey("bins.id"), index=True)


class TransferLog(db.Model):
    """A slip's events as handled, in the log's order keys: what its state is folded from.

    Kept apart from `sync_events` so that a fold sees only the events already handled (a push
    stores a batch's events before it handles them). `effective_at` is the log's order key
    (epoch ms, as in sync_events); `person_id` and `role`: the signer for a signature, else the actor.
    """

    __tablename__ = "transfer_log"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    slip_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # opened | signed | explained | refused | written_off
    effective_at: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(20))
    verification: Mapped[str] = mapped_column(String(20))  # device_user | badge_pin | unverified
    payload = mapped_column(JSON, nullable=False)


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
    # Made on a device (issue 15): its id, who the parts are from or with, and a void that keeps the number.
    slip_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    party: Mapped[str | None] = mapped_column(String(120))  # supplier, outsourcing factory
    location_id: Mapped[int | None] = mapped_column(Integer)  # the store
    note: Mapped[str | None] = mapped_column(Text)
    voided_by: Mapped[int | None] = mapped_column(Integer)
    voided_at = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)
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
    content_hash: Mapped[str | None] = mapped_column(String(64))  # the slip content signed
    verdict: Mapped[str | None] = mapped_column(String(10))  # the inspector's: pass | fail
    verification: Mapped[str | None] = mapped_column(String(20))  # device_user | badge_pin | unverified
    state: Mapped[str | None] = mapped_column(String(20))  # valid | void | out_of_order | replaced
    transfer = relationship(Transfer, back_populates="signatures")
    user = relationship("User")
