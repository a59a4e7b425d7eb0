"""Event types of the floor and their handlers: the webapp's side of the sync engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sync.envelope import SHA256_RE
from sync.registry import EventRegistry, EventType, HandlerContext, PayloadInvalid, RuleBroken
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY, CountFact, fold_counts
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
    """Record a count; flag an unknown bin or counts that disagree; the bin follows its counts in log order."""
    session, payload, env = ctx.session, ctx.payload, ctx.envelope
    found = find_bin(session, payload["bin_code"])
    session.add(Count(
        event_id=env.id, bin_id=found.id if found else None, bin_code=payload["bin_code"],
        quantity=payload["quantity"], unit=payload["unit"], note=payload.get("note"),
        counted_by=ctx.actor_id, device_id=env.device_id, seq=env.seq, counted_at=from_ms(ctx.effective_at),
        received_at=from_ms(ctx.received_at),
    ))
    session.flush()
    if found is None:
        return [RuleBroken("unknown_bin", {"bin_code": payload["bin_code"]})]
    return settle_counts(session, found, env.id, ctx.actor_id, ctx.effective_at)


def _fact(c: Count) -> CountFact:
    return CountFact((int(c.counted_at.timestamp() * 1000), c.device_id, c.seq), c.event_id, c.quantity, c.counted_at)


def settle_counts(session, found: Bin, event_id: str, actor_id: int, at_ms: int) -> list[RuleBroken]:
    """Bring the bin's state to the fold of its counts in log order; return the flags the new count raises.

    A count that arrives in log order (the usual case) extends the fold by one step from the
    bin's stored state; one that arrives late (an offline device) refolds the bin's counts.
    """
    new = session.execute(select(Count).where(Count.event_id == event_id)).scalar_one()
    latest = session.execute(
        select(Count).where(Count.bin_id == found.id, Count.event_id != event_id)
        .order_by(Count.counted_at.desc(), Count.device_id.desc(), Count.seq.desc()).limit(1)
    ).scalar_one_or_none()
    moves = session.execute(select(Transfer.created_at).where(Transfer.bin_id == found.id)).scalars().all()
    if latest is None or _fact(latest).order < _fact(new).order:
        counts = [c for c in (latest, new) if c is not None]
        state = fold_counts([_fact(new)], list(moves), after=_fact(latest) if latest else None,
                            disputed=found.disputed)
    else:
        counts = session.execute(select(Count).where(Count.bin_id == found.id)).scalars().all()
        state = fold_counts([_fact(c) for c in counts], list(moves))
        for c in counts:
            c.outcome = state.outcomes[c.event_id]
    new.outcome = state.outcomes[event_id]
    by_event = {c.event_id: c for c in counts}
    was_disputed = found.disputed
    if state.quantity is not None:
        found.quantity, found.last_counted_at = state.quantity, state.last_counted_at
    found.disputed = state.disputed
    found.version += 1
    flags = [
        RuleBroken("count_discrepancy", {
            "bin_code": found.code, "quantity": by_event[later].quantity,
            "previous_quantity": by_event[earlier].quantity, "previous_event_id": earlier,
            "later_event_id": later})
        for later, earlier in state.discrepancies if event_id in (later, earlier)
    ]
    if was_disputed and not found.disputed:
        review.close_for_subject(session, f"bin:{found.code}", "count_discrepancy", event_id, actor_id, at_ms,
                                 "recount")
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
