"""Work orders: what is being made, how many, by when, for whom."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String
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
    product = relationship("Product")
