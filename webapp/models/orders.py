"""Work orders: what is being made, how many, by when, for whom."""

from __future__ import annotations

from datetime import date

from sqlalchemy import JSON, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class WorkOrder(db.Model):
    """A production order (生产订单) for one product."""

    __tablename__ = "work_orders"
    STATUSES = ("planned", "in_progress", "done", "closed")
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    customer: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # Quality (issue 16): the factory making it (an outside supplier; none: the plant), pieces packed,
    # and the quality summary devices pull with the order (webapp/services/inspections.py).
    factory: Mapped[str | None] = mapped_column(String(120))
    packed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cartons: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quality = mapped_column(JSON)
    product = relationship("Product")
