"""The plant: workshops, operations, locations, products and their routes."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db


class Named:
    """A thing with a Chinese and an English name; `name(locale)` picks one."""

    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))

    def name(self, locale: str | None = "en") -> str:
        """Return the name in `locale` (zh… → Chinese, else English)."""
        return self.name_zh if (locale or "").startswith("zh") else self.name_en


class Plant(Named, db.Model):
    """The factory; one per installation."""

    __tablename__ = "plants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)


class Workshop(Named, db.Model):
    """A workshop (车间) of the plant."""

    __tablename__ = "workshops"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("plants.id"))
    code: Mapped[str] = mapped_column(String(20), unique=True)
    plant = relationship(Plant)


class Operation(Named, db.Model):
    """A process (工序) such as cutting or grinding, done in one workshop."""

    __tablename__ = "operations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"))
    workshop = relationship(Workshop)


class Location(Named, db.Model):
    """Where a bin can be: at an operation, in the waiting area (待料区), or in a warehouse."""

    __tablename__ = "locations"
    KINDS = ("operation", "waiting", "warehouse")
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshops.id"))
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"), unique=True)
    workshop = relationship(Workshop)
    operation = relationship(Operation)


class SpecGroup(Named, db.Model):
    """Parts of nearly the same specification: never transferred together (§3.3)."""

    __tablename__ = "spec_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)


class Product(Named, db.Model):
    """A part or product made on the floor."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    spec_group_id: Mapped[int | None] = mapped_column(ForeignKey("spec_groups.id"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"))
    spec_group = relationship(SpecGroup)
    route = relationship("Route")


class Route(Named, db.Model):
    """The ordered operations (工艺路线) a product goes through."""

    __tablename__ = "routes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    steps = relationship("RouteStep", order_by="RouteStep.position", back_populates="route")


class RouteStep(db.Model):
    """One operation at a position in a route; its official part name (工艺状态明细表)."""

    __tablename__ = "route_steps"
    __table_args__ = (UniqueConstraint("route_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"))
    position: Mapped[int] = mapped_column(Integer)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"))
    state_name_zh: Mapped[str | None] = mapped_column(String(120))
    state_name_en: Mapped[str | None] = mapped_column(String(120))
    route = relationship(Route, back_populates="steps")
    operation = relationship(Operation)
