"""Event types of the floor and their handlers: the webapp's side of the sync engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sync.envelope import SHA256_RE
from sync.registry import EventRegistry, EventType, HandlerContext, PayloadInvalid, RuleBroken
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY, PreviousCount, judge_count
from webapp.domain.roles import CAPABILITIES, Can
from webapp.models import Bin, BinLabel, Count, Transfer
from webapp.services import review
from webapp.models.types import from_ms


def _text(payload: dict, name: str, *, required: bool, limit: int) -> str | None:
    value = payload.get(name)
    if value is None or (value == "" and not required):
        if required:
            raise PayloadInvalid(name, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise PayloadInvalid(name, "must be text")
    if len(value) > limit:
        raise PayloadInvalid(name, f"must be at most {limit} characters")
    return value.strip()


UNITS = ("pcs", "kg")


def validate_count(payload: dict[str, Any]) -> dict[str, Any]:
    """Check a `bin.counted` v2 payload: {bin_code, quantity, unit, note?, photos?}."""
    code = _text(payload, "bin_code", required=True, limit=40)
    quantity = payload.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise PayloadInvalid("quantity", "must be a whole number")
    if not 0 <= quantity <= MAX_QUANTITY:
        raise PayloadInvalid("quantity", f"must be between 0 and {MAX_QUANTITY}")
    clean: dict[str, Any] = {"bin_code": code.upper(), "quantity": quantity}
    note = _text(payload, "note", required=False, limit=MAX_NOTE)
    if note:
        clean["note"] = note
    unit = payload.get("unit")
    if unit not in UNITS:
        raise PayloadInvalid("unit", f"must be one of {', '.join(UNITS)}")
    clean["unit"] = unit
    photos = payload.get("photos", [])
    if not isinstance(photos, list) or len(photos) > 10 or not all(isinstance(p, str) and SHA256_RE.match(p)
                                                                   for p in photos):
        raise PayloadInvalid("photos", "must be a list of at most 10 SHA-256 digests")
    if photos:
        clean["photos"] = photos
    return clean


def find_bin(session, code: str) -> Bin | None:
    """Return the bin a code names: its current label, or a replaced label of it."""
    found = session.execute(select(Bin).where(Bin.code == code)).scalar_one_or_none()
    if found is None:
        found = session.execute(
            select(Bin).join(BinLabel, BinLabel.bin_id == Bin.id).where(BinLabel.code == code)
        ).scalar_one_or_none()
    return found


def handle_count(ctx: HandlerContext) -> list[RuleBroken]:
    """Record a count; flag an unknown bin or a count that disagrees with a recent one."""
    session, payload, env = ctx.session, ctx.payload, ctx.envelope
    counted_at = from_ms(ctx.effective_at)
    found = find_bin(session, payload["bin_code"])
    count = Count(
        event_id=env.id, bin_id=found.id if found else None, bin_code=payload["bin_code"],
        quantity=payload["quantity"], unit=payload["unit"], note=payload.get("note"),
        counted_by=ctx.actor_id, device_id=env.device_id, counted_at=counted_at,
        received_at=from_ms(ctx.received_at),
    )
    session.add(count)
    if found is None:
        session.flush()
        return [RuleBroken("unknown_bin", {"bin_code": payload["bin_code"]})]

    previous_row = session.execute(
        select(Count).where(Count.bin_id == found.id, Count.counted_at <= counted_at, Count.event_id != env.id)
        .order_by(Count.counted_at.desc()).limit(1)
    ).scalar_one_or_none()
    previous = None
    if previous_row is not None:
        moved = session.execute(
            select(Transfer.id).where(
                Transfer.bin_id == found.id,
                Transfer.created_at > previous_row.counted_at,
                Transfer.created_at <= counted_at,
            ).limit(1)
        ).first()
        previous = PreviousCount(previous_row.quantity, previous_row.counted_at, moved is not None)
    count.outcome = judge_count(payload["quantity"], previous, found.disputed, counted_at)

    flags = []
    if count.outcome == "discrepancy":
        found.disputed = True
        flags.append(RuleBroken("count_discrepancy", {
            "bin_code": found.code, "quantity": payload["quantity"], "previous_quantity": previous.quantity,
            "previous_event_id": previous_row.event_id,
        }))
    elif count.outcome == "recount":
        found.disputed = False
        review.close_for_subject(session, f"bin:{found.code}", "count_discrepancy", env.id, ctx.actor_id,
                                 ctx.effective_at, "recount")
    is_latest = found.last_counted_at is None or counted_at >= found.last_counted_at
    if is_latest and count.outcome != "discrepancy":
        found.quantity = payload["quantity"]
        found.last_counted_at = counted_at
    found.version += 1
    session.flush()
    return flags


def upgrade_count_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """bin.counted v1 had no unit: every v1 count was in pieces."""
    payload.setdefault("unit", "pcs")
    return payload


def build_registry() -> EventRegistry:
    """Return the registry of every event type the floor records."""
    registry = EventRegistry()
    registry.register(EventType(
        name="bin.counted", version=2, handler=handle_count, validate=validate_count,
        roles=CAPABILITIES[Can.COUNT_BIN], upgrades={1: upgrade_count_v1},
        subject=lambda p: f"bin:{p['bin_code']}",
    ))
    registry.register(EventType(
        name="exception.resolved", version=1, handler=review.handle_resolution,
        validate=review.validate_resolution, roles=CAPABILITIES[Can.REVIEW],
        subject=lambda p: f"exception:{p['exception_id']}",
    ))
    return registry


registry = build_registry()
