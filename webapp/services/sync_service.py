"""Push, pull and the event log, as the API and the office use them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.exc import OperationalError

from sync import schema
from sync.db import immediate_writes
from sync.envelope import MAX_EVENTS_PER_PUSH, MAX_INT32, MAX_SAFE_INTEGER, storable_text
from sync.ingest import DeviceBusy, PushOutcome, ingest_push
from sync.pull import PullSource, pull_page
from webapp import releases
from webapp.domain import aql
from webapp.extensions import db
from webapp.models import (Bin, DefectType, Inspection, InspectionTemplate, Location, Operation, Product,
                           ReferenceTable, Setting, Transfer, User, WorkOrder)
from webapp.domain.signing import PIN_ITERATIONS
from webapp.services import blobs, quality, signers, slips
from webapp.services.devices import actor_roles, ensure_web_device, now_ms
from webapp.areas import registry


class BadPush(ValueError):
    """A push body that is not the contract's shape (400)."""


class BatchTooLarge(ValueError):
    """More events than one push may carry (413): the device splits the batch."""


def push(device_id: str, body: Any, pusher_id: int | None, pushed_by: int | None = None) -> PushOutcome:
    """Store a device's batch and return the per-event answer; serialised per device.

    `pusher_id` is the person events without an actor are recorded for (None: such events are
    quarantined); `pushed_by` who delivered them (default: the pusher), kept on every event.
    """
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BadPush("events")
    if len(body["events"]) > MAX_EVENTS_PER_PUSH:
        raise BatchTooLarge(len(body["events"]))
    build = body.get("build") if isinstance(body.get("build"), str) and storable_text(body["build"]) else None
    db.session.rollback()  # start the write transaction fresh, IMMEDIATE on SQLite
    try:
        with immediate_writes():
            outcome = ingest_push(
                db.session, registry, device_id=device_id, raw_events=body["events"], now_ms=now_ms(),
                build=build[:64] if build else None, sent_at=_count(body.get("sent_at"), MAX_SAFE_INTEGER),
                actor_role=actor_roles(device_id), default_actor=pusher_id,
                missing_attachments=blobs.missing, pending=_count(body.get("pending"), MAX_INT32),
                verify_signer=signers.verify_for_ingest, pushed_by=pushed_by or pusher_id,
            )
            db.session.commit()
    except OperationalError as exc:
        db.session.rollback()
        raise DeviceBusy(device_id) from exc
    except Exception:
        db.session.rollback()
        raise
    return outcome


def _count(value: Any, limit: int) -> int | None:
    """Return a whole number from 0 to `limit` (what its column and the device's JavaScript hold), else None.

    The device's clock at sending (a BIGINT time, up to 2^53-1) and its outbox size (an INTEGER
    column) are hints: a value outside that range is ignored, never stored.
    """
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit else None


def record_locally(user: User, event_type: str, payload: dict[str, Any],
                   attachments: list[str] | None = None) -> dict[str, Any]:
    """Record an event from a plain form post (no JavaScript) through the same ingest path."""
    db.session.rollback()
    with immediate_writes():
        device_id = ensure_web_device(user)
        top = db.session.execute(
            select(func.max(schema.events.c.seq)).where(schema.events.c.device_id == device_id)
        ).scalar() or 0
        q_top = db.session.execute(
            select(func.max(schema.quarantine.c.seq)).where(schema.quarantine.c.device_id == device_id)
        ).scalar() or 0
        now = now_ms()
        event = {
            "id": str(uuid.uuid4()), "device_id": device_id, "seq": max(top, q_top) + 1, "type": event_type,
            "v": registry.get(event_type).version, "occurred_at": now, "actor_id": user.id,
            "payload": payload, "attachments": attachments or [],
        }
        outcome = ingest_push(db.session, registry, device_id=device_id, raw_events=[event], now_ms=now,
                              build="web", sent_at=now, actor_role=actor_roles(device_id),
                              missing_attachments=blobs.missing, verify_signer=signers.verify_for_ingest,
                              pushed_by=user.id)
        db.session.commit()
    return outcome.results[0]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _load_bins(session, codes: list[str]) -> dict[str, dict]:
    rows = session.execute(select(Bin).where(Bin.code.in_(codes))).scalars()
    return {b.code: bin_state(b) for b in rows}


def bin_state(b: Bin) -> dict[str, Any]:
    """Return a bin as devices and the API see it."""
    return {
        "code": b.code,
        "bin_type": b.bin_type,
        "workshop": b.workshop.code if b.workshop else None,
        "status": b.status,
        "retired": b.status == "retired",
        "location_code": b.location.code if b.location else None,
        "location_kind": b.location.kind if b.location else None,
        "location_name": b.location.name_zh + " / " + b.location.name_en if b.location else None,
        "location_since": _iso(b.location_since),
        "work_order": b.work_order.number if b.work_order else None,
        "product_code": b.product.code if b.product else None,
        "product_name": b.product.name_zh + " / " + b.product.name_en if b.product else None,
        "quantity": b.quantity,
        "disputed": b.disputed,
        "version": b.version,
    }


def _load_operations(session, codes):
    rows = session.execute(select(Operation).where(Operation.code.in_(codes))).scalars()
    return {o.code: {"code": o.code, "name_zh": o.name_zh, "name_en": o.name_en,
                     "workshop": o.workshop.code} for o in rows}


def _load_locations(session, codes):
    rows = session.execute(select(Location).where(Location.code.in_(codes))).scalars()
    return {x.code: {"code": x.code, "kind": x.kind, "name_zh": x.name_zh, "name_en": x.name_en,
                     "operation": x.operation.code if x.operation else None} for x in rows}


def _load_products(session, codes):
    rows = session.execute(select(Product).where(Product.code.in_(codes))).scalars()
    return {p.code: {"code": p.code, "name_zh": p.name_zh, "name_en": p.name_en,
                     "spec_group": p.spec_group.code if p.spec_group else None,
                     "route": [s.operation.code for s in p.route.steps] if p.route else []} for p in rows}


def _load_work_orders(session, numbers):
    rows = session.execute(select(WorkOrder).where(WorkOrder.number.in_(numbers))).scalars().all()
    summaries = quality.current(session, rows)
    return {w.number: {"number": w.number, "product_code": w.product.code,
                       "product_name": w.product.name_zh + " / " + w.product.name_en,
                       "quantity": w.quantity, "due_date": w.due_date.isoformat(), "customer": w.customer,
                       "status": w.status, "factory": w.factory, "quality": summaries[w.id]} for w in rows}


def _load_users(session, usernames):
    """People a device may show and ask to sign (handover, inspections).

    Never their password hash nor their PIN's key: only the PIN's salt, which the device needs
    to derive the key from the PIN a person types (webapp/domain/signing.py).
    """
    rows = session.execute(select(User).where(User.username.in_(usernames), User.active.is_(True))).scalars()
    return {u.username: {"username": u.username, "id": u.id, "display_name": u.display_name, "role": u.role,
                         "has_pin": bool(u.pin_key), "pin_salt": u.pin_salt if u.pin_key else None,
                         "pin_iterations": PIN_ITERATIONS}
            for u in rows}


def _load_transfers(session, numbers):
    """Slips not yet complete or refused (a finished one leaves the device as a tombstone).

    A signed slip comes with what a device needs to show and sign it offline: its content and
    the hash signatures sign, its bins, and each signature with its state (`slips.slip`).
    """
    rows = session.execute(select(Transfer).where(Transfer.number.in_(numbers),
                                                  Transfer.status.in_(("open", "discrepancy")))).scalars()
    found = {}
    for t in rows:
        item = {"number": t.number, "kind": t.kind, "status": t.status, "bin_code": t.bin.code,
                "work_order": t.work_order.number if t.work_order else None,
                "product_code": t.product.code if t.product else None, "part": t.part_name,
                "from_location": t.from_location.code if t.from_location else None,
                "to_location": t.to_location.code if t.to_location else None,
                "quantity": t.quantity, "created_at": _iso(t.created_at)}
        if t.content_hash is not None:
            slip = slips.slip(t.number)
            item.update(transfer_id=t.number, content=slip["content"], content_hash=slip["content_hash"],
                        bin_codes=[b["code"] for b in slip["bins"]], next_step=slip["next_step"],
                        custodian=slip["custodian"],
                        signatures=[{k: s[k] for k in ("event_id", "step", "quantity", "verdict", "signed_at",
                                                       "state", "verification")}
                                    | {"signer": (s["signer"] or {}).get("name")} for s in slip["signatures"]])
        found[t.number] = item
    return found


def _load_inspections(session, uids):
    """Inspections made on devices, open or finished in the last two weeks (what a device may go back to)."""
    since = datetime.now(UTC) - timedelta(days=14)
    rows = session.execute(select(Inspection).where(
        Inspection.uid.in_(uids), or_(Inspection.status == "open", Inspection.finished_at >= since))).scalars()
    return {i.uid: {"inspection_id": i.uid, "kind": i.kind, "status": i.status, "work_order": i.work_order.number,
                    "operation": i.operation.code if i.operation else None,
                    "bin_code": i.bin.code if i.bin else None, "template": i.template_code,
                    "lot_size": i.lot_size, "sample_size": i.sample_size, "aql": i.aql, "level": i.level,
                    "severity": i.severity,
                    "aqls": i.aqls, "plans": i.plans, "units": i.units, "found": i.found, "decision": i.decision,
                    "verdict": i.verdict, "reinspection_of": i.reinspects, "rework": i.rework_status,
                    "started_at": _iso(i.started_at), "finished_at": _iso(i.finished_at)} for i in rows}


def _load_templates(session, codes):
    rows = session.execute(select(InspectionTemplate).where(InspectionTemplate.code.in_(codes),
                                                            InspectionTemplate.active.is_(True))).scalars()
    return {t.code: {"code": t.code, "product": t.product.code if t.product else None, "kind": t.kind,
                     "name_zh": t.name_zh, "name_en": t.name_en, "units": t.units, "items": t.items} for t in rows}


def _load_defect_types(session, codes):
    rows = session.execute(select(DefectType).where(DefectType.code.in_(codes))).scalars()
    return {d.code: {"code": d.code, "product": d.product.code if d.product else None, "name_zh": d.name_zh,
                     "name_en": d.name_en, "class": d.default_class, "reference": d.reference_sha256} for d in rows}


REFERENCE_TABLES = {"aql": aql.tables}  # a change to the tables' code ships with a migration bumping the version


def _load_reference(session, keys):
    """Reference tables the server publishes: the ISO 2859-1 sampling tables (a phone computes plans offline)."""
    rows = session.execute(select(ReferenceTable.key, ReferenceTable.version).where(ReferenceTable.key.in_(keys)))
    return {key: {"key": key, "version": version,
                  "tables": REFERENCE_TABLES[key]() if key in REFERENCE_TABLES else None} for key, version in rows}


def _load_settings(session, keys):
    """Plant settings the floor works by (the sampling plan: AQL, inspection level)."""
    rows = session.execute(select(Setting).where(Setting.key.in_(keys))).scalars()
    return {x.key: {"key": x.key, "value": x.value} for x in rows}


# Each follows its table's changes through triggers a migration installs (sync/changelog.py):
# a new source needs a migration for its table (tests/integration/test_change_log.py checks).
PULL_SOURCES = [
    PullSource("bin", "bins", _load_bins, table="bins", key="code"),
    PullSource("operation", "operations", _load_operations, table="operations", key="code"),
    PullSource("location", "locations", _load_locations, table="locations", key="code"),
    PullSource("product", "products", _load_products, table="products", key="code"),
    PullSource("work_order", "work_orders", _load_work_orders, table="work_orders", key="number"),
    PullSource("user", "users", _load_users, table="users", key="username"),
    PullSource("transfer", "transfers", _load_transfers, table="transfers", key="number"),
    PullSource("inspection", "inspections", _load_inspections, table="inspections", key="uid"),
    PullSource("inspection_template", "inspection_templates", _load_templates, table="inspection_templates",
               key="code"),
    PullSource("defect_type", "defect_types", _load_defect_types, table="defect_types", key="code"),
    PullSource("reference", "references", _load_reference, table="reference_tables", key="key"),
    PullSource("setting", "settings", _load_settings, table="settings", key="key"),
]


def pull(cursor: str | None) -> dict[str, Any]:
    """Return one page of reference data for a device, with the builds it should know about."""
    body = pull_page(db.session, PULL_SOURCES, cursor, now_ms())
    body.update(builds())
    return body


def min_build() -> int | None:
    """Return the oldest release allowed to pull (None: any)."""
    return current_app.config.get("MIN_BUILD")


def builds() -> dict[str, Any]:
    """Return what every sync answer tells a device about builds: the oldest release allowed to pull,
    and the server's own build (a device on another build asks its service worker for an update)."""
    return {"min_build": min_build(), "build": current_app.config["DEVICE_BUILD"]}


def build_too_old(device_build: object) -> bool:
    """Say whether a device on this build may no longer pull (it may still push)."""
    return releases.too_old(device_build, min_build())
