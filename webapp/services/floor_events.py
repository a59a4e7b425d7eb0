"""Event types of the floor and their handlers: the webapp's side of the sync engine."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert, select, update

from sync.envelope import SHA256_RE
from sync.pull import record_changes
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


_BINS = Bin.__table__
_COUNTS = Count.__table__


def _bin_row(session, code: str):
    """Return the bin (its count state) that a code names, by its current or a replaced label."""
    b = _BINS.c
    columns = (b.id, b.code, b.quantity, b.disputed, b.last_counted_at, b.version)
    row = session.execute(select(*columns).where(b.code == code)).first()
    if row is None:
        row = session.execute(select(*columns).join(BinLabel.__table__, BinLabel.bin_id == b.id)
                              .where(BinLabel.code == code)).first()
    return row


def handle_count(ctx: HandlerContext) -> list[RuleBroken]:
    """Record a count; flag an unknown bin or counts that disagree; the bin follows its counts in log order.

    Written with SQL statements rather than ORM objects: this runs once per synced count.
    """
    session, payload, env = ctx.session, ctx.payload, ctx.envelope
    found = _bin_row(session, payload["bin_code"])
    fact = CountFact((ctx.effective_at, env.device_id, env.seq), env.id, payload["quantity"],
                     from_ms(ctx.effective_at))
    session.execute(insert(_COUNTS).values(
        event_id=env.id, bin_id=found.id if found else None, bin_code=payload["bin_code"],
        quantity=payload["quantity"], unit=payload["unit"], note=payload.get("note"), counted_by=ctx.actor_id,
        device_id=env.device_id, seq=env.seq, counted_at=fact.at, received_at=from_ms(ctx.received_at),
        outcome="recorded", stocktake_id=None,
    ))
    if found is None:
        return [RuleBroken("unknown_bin", {"bin_code": payload["bin_code"]})]
    return settle_counts(session, found, fact, ctx.actor_id)


def _fact(row) -> CountFact:
    return CountFact((int(row.counted_at.timestamp() * 1000), row.device_id, row.seq), row.event_id, row.quantity,
                     row.counted_at)


def settle_counts(session, found, new: CountFact, actor_id: int) -> list[RuleBroken]:
    """Bring the bin's state to the fold of its counts in log order; return the flags the new count raises.

    A count that arrives in log order (the usual case) extends the fold by one step from the
    bin's stored state; one that arrives late (an offline device) refolds the bin's counts.
    """
    c = _COUNTS.c
    columns = (c.event_id, c.quantity, c.counted_at, c.device_id, c.seq, c.outcome)
    latest = session.execute(
        select(*columns).where(c.bin_id == found.id, c.event_id != new.event_id)
        .order_by(c.counted_at.desc(), c.device_id.desc(), c.seq.desc()).limit(1)
    ).first()
    moves = list(session.execute(select(Transfer.created_at).where(Transfer.bin_id == found.id)).scalars())
    stored = {new.event_id: "recorded"}  # what each count's outcome says now, to write only changes
    if latest is None or _fact(latest).order < new.order:
        facts = [new] + ([_fact(latest)] if latest else [])
        state = fold_counts([new], moves, after=facts[1] if latest else None, disputed=found.disputed)
    else:
        rows = session.execute(select(*columns).where(c.bin_id == found.id)).all()
        stored.update({r.event_id: r.outcome for r in rows if r.event_id != new.event_id})
        facts = [_fact(r) for r in rows]
        state = fold_counts(facts, moves)
    for event_id, outcome in state.outcomes.items():
        if stored.get(event_id) != outcome:
            session.execute(update(_COUNTS).where(c.event_id == event_id).values(outcome=outcome))
    changes = {"disputed": state.disputed, "version": found.version + 1}
    if state.quantity is not None:
        changes.update(quantity=state.quantity, last_counted_at=state.last_counted_at)
    session.execute(update(_BINS).where(_BINS.c.id == found.id).values(**changes))
    record_changes(session, [("bin", found.code, False)], int(time.time() * 1000))
    quantities = {f.event_id: f.quantity for f in facts}
    flags = [
        RuleBroken("count_discrepancy", {
            "bin_code": found.code, "quantity": quantities[later], "previous_quantity": quantities[earlier],
            "previous_event_id": earlier, "later_event_id": later})
        for later, earlier in state.discrepancies if new.event_id in (later, earlier)
    ]
    if found.disputed and not state.disputed:
        review.close_for_subject(session, f"bin:{found.code}", "count_discrepancy", new.event_id, actor_id,
                                 new.order[0], "recount")
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
