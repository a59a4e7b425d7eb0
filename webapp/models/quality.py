"""Inspections (检验), defects and sampling settings."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Inspection(db.Model):
    """An inspection of a work order (first-piece, mid-production, final AQL sampling, the follower's checks).

    Made on a device (`uid`, the id its events name) and folded from its log (`inspection_log`)
    by `webapp/services/inspections.py`: status, what was found per defect class, the decision.
    """

    __tablename__ = "inspections"
    KINDS = ("first_piece", "mid_production", "final", "pre_production_sample", "material_receipt",
             "shipment_sample")
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
    # Made on a device (issue 16): everything below is folded from the inspection's log.
    uid: Mapped[str | None] = mapped_column(String(36), unique=True, index=True)
    product_id: Mapped[int | None] = mapped_column(Integer)
    template_code: Mapped[str | None] = mapped_column(String(40))
    level: Mapped[str | None] = mapped_column(String(4))
    severity: Mapped[str | None] = mapped_column(String(12))  # normal | tightened | reduced
    supplier: Mapped[str | None] = mapped_column(String(120))  # the factory: a switching series is product + supplier
    aqls = mapped_column(JSON)  # {"critical": "0", "major": "2.5", "minor": "4.0"} as used
    plans = mapped_column(JSON)  # per class: code letter, plan letter, n, Ac, Re (the server's)
    units: Mapped[int | None] = mapped_column(Integer)  # units the checklist is filled for
    cartons = mapped_column(JSON)  # the carton numbers drawn
    results = mapped_column(JSON)  # item key -> {unit: value}, latest in log order
    out_of_tolerance: Mapped[int | None] = mapped_column(Integer)
    found = mapped_column(JSON)  # defects found per class
    verdict: Mapped[str | None] = mapped_column(String(10))  # the inspector's: pass | fail
    decision: Mapped[str | None] = mapped_column(String(10))  # accepted | rejected (AQL plans), else the verdict
    note: Mapped[str | None] = mapped_column(Text)
    completed_by: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[str | None] = mapped_column(String(36))
    reinspects: Mapped[str | None] = mapped_column(String(36))  # uid of the failed final this re-inspects
    rework_status: Mapped[str | None] = mapped_column(String(20))  # a failed final: open | reinspected
    work_order = relationship("WorkOrder")
    operation = relationship("Operation")
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
    # Recorded on a device (issue 16): its id, its type from the catalogue, where, the photos and their markup.
    defect_uid: Mapped[str | None] = mapped_column(String(36), unique=True, index=True)
    inspection_uid: Mapped[str | None] = mapped_column(String(36), index=True)
    type_code: Mapped[str | None] = mapped_column(String(40))
    location: Mapped[str | None] = mapped_column(String(120))
    unit: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    photos = mapped_column(JSON)  # SHA-256 of the original photos
    markup = mapped_column(JSON)  # a layer of shapes per photo, drawn over it (the photo is kept as taken)
    device_id: Mapped[str | None] = mapped_column(String(36))
    inspection = relationship(Inspection, back_populates="defects")
    attachments = relationship("Attachment", back_populates="defect")


class InspectionLog(db.Model):
    """An inspection's events as handled, in the log's order keys: what its state is folded from.

    As `transfer_log`: `effective_at`, `device_id`, `seq` order it; `person_id`/`role` is the
    signer for a signature, else the actor; `verification` how the server knows that person.
    """

    __tablename__ = "inspection_log"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    inspection_uid: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # started | measured | defect | completed | signed
    effective_at: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(20))
    verification: Mapped[str] = mapped_column(String(20))
    payload = mapped_column(JSON, nullable=False)


class InspectionTemplate(db.Model):
    """A checklist for one kind of inspection: the plant's (no product) or a product's own."""

    __tablename__ = "inspection_templates"
    GROUPS = ("size", "workmanship", "materials", "pressing", "packaging", "quantity", "other")
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    kind: Mapped[str] = mapped_column(String(30))
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    units: Mapped[int] = mapped_column(Integer, default=1)  # units checked by default (first pieces …)
    # [{key, label_zh, label_en, group, type: measure|check, nominal, minus, plus, unit}]
    items = mapped_column(JSON, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    product = relationship("Product")


class DefectType(db.Model):
    """A defect in a product's catalogue (or the plant's), bilingual, with its reference photo."""

    __tablename__ = "defect_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    default_class: Mapped[str] = mapped_column(String(10), default="minor")
    description_zh: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    reference_sha256: Mapped[str | None] = mapped_column(String(64))
    product = relationship("Product")


class QualityPlan(db.Model):
    """Per product and/or customer: the inspection level and each defect class's AQL."""

    __tablename__ = "quality_plans"
    __table_args__ = (UniqueConstraint("product_id", "customer"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    customer: Mapped[str | None] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(4), default="II")
    aql_critical: Mapped[str] = mapped_column(String(10), default="0")
    aql_major: Mapped[str] = mapped_column(String(10), default="2.5")
    aql_minor: Mapped[str] = mapped_column(String(10), default="4.0")


class SamplingSeries(db.Model):
    """A product from one supplier (factory): what the switching rules need beyond its lots."""

    __tablename__ = "sampling_series"
    __table_args__ = (UniqueConstraint("product_id", "supplier"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    supplier: Mapped[str] = mapped_column(String(120), default="")  # "" : the plant itself
    reduced_approved: Mapped[bool] = mapped_column(Boolean, default=False)  # by the responsible authority
    production_steady: Mapped[bool] = mapped_column(Boolean, default=True)
    resumed_at = mapped_column(UTCDateTime)  # after a discontinuation, the supplier improved
    updated_by: Mapped[int | None] = mapped_column(Integer)
    updated_at = mapped_column(UTCDateTime)


class ReworkOrder(db.Model):
    """A rejected final lot sent back to the floor: tracked until its re-inspection."""

    __tablename__ = "rework_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_uid: Mapped[str] = mapped_column(String(36), unique=True)  # the rejecting inspection
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    quantity: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | reinspected
    opened_at = mapped_column(UTCDateTime, nullable=False)
    reinspection_uid: Mapped[str | None] = mapped_column(String(36))
    closed_at = mapped_column(UTCDateTime)
    work_order = relationship("WorkOrder")


class PackingRecord(db.Model):
    """Cartons packed for an order (`packing.recorded`): the final inspection's lot grows with them."""

    __tablename__ = "packing_records"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    cartons: Mapped[int] = mapped_column(Integer)
    per_carton: Mapped[int] = mapped_column(Integer)
    pieces: Mapped[int] = mapped_column(Integer)
    first_carton: Mapped[int] = mapped_column(Integer)  # cartons are numbered 1..N per order in log order
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    effective_at: Mapped[int] = mapped_column(BigInteger)
    recorded_at = mapped_column(UTCDateTime, nullable=False)


class ReferenceTable(db.Model):
    """Reference data devices pull (the ISO 2859-1 tables): a row per table, its version."""

    __tablename__ = "reference_tables"
    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Setting(db.Model):
    """A plant setting: sampling plan (AQL 2.5, level II by default), demo mode, label options."""

    __tablename__ = "settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    value: Mapped[str] = mapped_column(String(120))
