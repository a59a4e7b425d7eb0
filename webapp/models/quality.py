"""Inspections (检验), defects and sampling settings."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Inspection(db.Model):
    """A first-piece, mid-production or final (AQL) inspection of a work order."""

    __tablename__ = "inspections"
    KINDS = ("first_piece", "mid_production", "final")
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open|passed|failed
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"))
    bin_id: Mapped[int | None] = mapped_column(ForeignKey("bins.id"), index=True)
    lot_size: Mapped[int | None] = mapped_column(Integer)
    sample_size: Mapped[int | None] = mapped_column(Integer)
    aql: Mapped[str | None] = mapped_column(String(10))
    accept_number: Mapped[int | None] = mapped_column(Integer)
    reject_number: Mapped[int | None] = mapped_column(Integer)
    checked: Mapped[str | None] = mapped_column(Text)  # what was checked: size, workmanship, materials…
    findings: Mapped[str | None] = mapped_column(Text)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at = mapped_column(UTCDateTime)
    reinspection_of: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    work_order = relationship("WorkOrder")
    bin = relationship("Bin")
    inspector = relationship("User")
    defects = relationship("Defect", back_populates="inspection")


class Defect(db.Model):
    """A nonconformity found in an inspection, with its class and photos."""

    __tablename__ = "defects"
    SEVERITIES = ("critical", "major", "minor")
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at = mapped_column(UTCDateTime, nullable=False)
    inspection = relationship(Inspection, back_populates="defects")
    attachments = relationship("Attachment", back_populates="defect")


class Setting(db.Model):
    """A plant setting: sampling plan (AQL 2.5, level II by default), demo mode, label options."""

    __tablename__ = "settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    value: Mapped[str] = mapped_column(String(120))
