"""Moving a bin (`bin.moved` v1): check the record, store its transfer slip, follow the log, raise the move rules.

A move says where the bin goes and where the device believed it was. The server stores every
move as a completed `Transfer` and decides from the log, ordered by (effective time, device,
seq), never from arrival order:

- the bin stands where the last move in the log took it, so a move that arrives late with an
  older effective time never moves the bin back;
- each move is compared with the move before it in the log (before the first, with where the
  bin stood before any move): a device that saw the bin elsewhere broke `location_conflict`.
  A move that arrives late re-judges the moves after it, so the flags follow the log too;
- a move of more pieces than the bin held broke `negative_stock` (`webapp.domain.moving`);
- moves end a count's window (two counts with a transfer between need not agree): a move
  that arrives after later counts refolds the bin's counts (`refold_bin_counts`).

This module must not import `webapp.services.floor_events`, which imports it to register the type.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from sync import schema
from sync.pull import record_changes
from sync.registry import HandlerContext, PayloadInvalid, RuleBroken, count_field, text_field
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY, CountFact, fold_counts
from webapp.domain.moving import TRANSFER_KINDS, HeldCount, MoveFact, MoveVerdict, fold_moves, held_before, judge_move
from webapp.extensions import db
from webapp.models import Bin, BinLabel, Count, Location, Transfer
from webapp.models.types import from_ms
from webapp.services import review

EVENT_TYPE = "bin.moved"
MOVE_RULES = ("location_conflict", "negative_stock")
NUMBER_PREFIX = "MV-"  # transfers a move stored; the rest of the number is the event id, so it is unique
MAX_CODE = 40


def move_shape(payload: dict[str, Any]) -> dict[str, Any]:
    """Check the fields of a `bin.moved` v1 payload without looking anything up; return it cleaned."""
    clean: dict[str, Any] = {
        "bin_code": text_field(payload, "bin_code", required=True, limit=MAX_CODE).upper(),
        "to_location": text_field(payload, "to_location", required=True, limit=MAX_CODE),
        # A device that never heard of the bin saw it nowhere: null.
        "seen_location": text_field(payload, "seen_location", required=False, limit=MAX_CODE),
        "seen_version": count_field(payload, "seen_version", required=True, limit=2**31 - 1),
    }
    quantity = count_field(payload, "quantity", required=False, limit=MAX_QUANTITY)
    if quantity is not None:
        clean["quantity"] = quantity
    note = text_field(payload, "note", required=False, limit=MAX_NOTE)
    if note:
        clean["note"] = note
    return clean


def validate_move(payload: dict[str, Any]) -> dict[str, Any]:
    """Check a `bin.moved` v1 payload: {bin_code, to_location, seen_location, seen_version, quantity?, note?}.

    The destination must be a known location. Where the device saw the bin is taken as it
    is, known or not: a stale view is exactly what `location_conflict` is there to flag.
    """
    clean = move_shape(payload)
    known = db.session.execute(select(Location.id).where(Location.code == clean["to_location"])).first()
    if known is None:
        raise PayloadInvalid("to_location", "is not a known location")
    return clean


def subject(payload: dict[str, Any]) -> str:
    """Return the subject of a move: its bin."""
    return f"bin:{payload['bin_code']}"


class SameRun(Exception):
    """A late move re-judges a move of the same run, whose flags ingest has not written yet.

    Raised from the batch handler, it makes ingest store the batch event by event, which
    decides the same way with each event's flags written before the next is handled.
    """


def handle_move(ctx: HandlerContext) -> list[RuleBroken]:
    """Record one move (see `handle_moves`)."""
    return handle_moves(ctx.session, [ctx])[0]


def handle_moves(session, ctxs: list[HandlerContext]) -> list[list[RuleBroken]]:
    """Record a run of moves in turn; return each one's flags."""
    run = {ctx.envelope.id for ctx in ctxs} if len(ctxs) > 1 else set()
    return [_record_move(session, ctx, run) for ctx in ctxs]


@dataclass
class _Stored:
    """A move already in the log: its fact, its transfer, its flags and subject as stored."""

    fact: MoveFact
    transfer_id: int
    number: str
    from_location_id: int | None
    seen_version: int | None
    flags: list[dict[str, Any]]
    subject: str | None


_BINS, _TRANSFERS, _COUNTS = Bin.__table__, Transfer.__table__, Count.__table__


def _find_bin(session, code: str):
    """Return the bin row a code names (current or replaced label), or None."""
    b = _BINS.c
    columns = (b.id, b.code, b.quantity, b.location_id, b.work_order_id, b.product_id)
    found = session.execute(select(*columns).where(b.code == code)).first()
    if found is None:
        labels = BinLabel.__table__
        found = session.execute(select(*columns).join(labels, labels.c.bin_id == b.id)
                                .where(labels.c.code == code)).first()
    return found


def _stored_moves(session, bin_id: int) -> list[_Stored]:
    """Return the bin's moves in the log, in log order."""
    e, t = schema.events.c, _TRANSFERS.c
    rows = session.execute(
        select(t.id, t.number, t.event_id, t.from_location_id, t.seen_bin_version, e.effective_at, e.device_id, e.seq,
               e.payload, e.exceptions, e.subject)
        .join(schema.events, e.id == t.event_id)
        .where(t.bin_id == bin_id, t.number.startswith(NUMBER_PREFIX))
    ).all()
    stored = []
    for r in rows:
        p = move_shape(r.payload)
        fact = MoveFact((r.effective_at, r.device_id, r.seq), r.event_id, p["to_location"], p["seen_location"],
                        p.get("quantity"), from_ms(r.effective_at))
        stored.append(_Stored(fact, r.id, r.number, r.from_location_id, r.seen_bin_version, list(r.exceptions or []),
                              r.subject))
    return sorted(stored, key=lambda s: s.fact.order)


def _held_counts(session, bin_id: int) -> list[HeldCount]:
    """Return the bin's counts that settled what it holds (every outcome but a discrepancy)."""
    c = _COUNTS.c
    rows = session.execute(select(c.counted_at, c.device_id, c.seq, c.quantity)
                           .where(c.bin_id == bin_id, c.outcome != "discrepancy"))
    return [HeldCount((_ms(r.counted_at), r.device_id, r.seq), r.quantity) for r in rows]


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def _flags(verdict: MoveVerdict, fact: MoveFact, bin_code: str, seen_version: int | None) -> list[RuleBroken]:
    """Turn a verdict into the flags the event carries."""
    flags = []
    if verdict.location_conflict:
        flags.append(RuleBroken("location_conflict", {
            "bin_code": bin_code, "seen_location": fact.seen_location, "seen_version": seen_version,
            "logged_location": verdict.from_location, "other_event_id": verdict.previous_event_id}))
    if verdict.negative_stock:
        flags.append(RuleBroken("negative_stock", {
            "bin_code": bin_code, "quantity": fact.quantity, "bin_quantity": verdict.held}))
    return flags


def _record_move(session, ctx: HandlerContext, run: set[str]) -> list[RuleBroken]:
    """Store one move's transfer, move the bin if this is its latest move in the log, judge the move.

    Written with SQL statements rather than ORM objects, like the count handler: ingest may
    roll a batch back to a savepoint and store it again event by event.
    """
    p, env = ctx.payload, ctx.envelope
    found = _find_bin(session, p["bin_code"])
    if found is None:
        return [RuleBroken("unknown_bin", {"bin_code": p["bin_code"]})]
    places = {code: (id_, kind) for id_, code, kind in session.execute(select(Location.id, Location.code,
                                                                               Location.kind))}
    codes = {id_: code for code, (id_, _) in places.items()}
    fact = MoveFact((ctx.effective_at, env.device_id, env.seq), env.id, p["to_location"], p.get("seen_location"),
                    p.get("quantity"), from_ms(ctx.effective_at))
    stored = _stored_moves(session, found.id)
    # Where the bin stood before its first move in the log: the first move's starting place.
    start = codes.get(stored[0].from_location_id) if stored else codes.get(found.location_id)
    late = bool(stored) and stored[-1].fact.order > fact.order
    if late and any(s.fact.event_id in run for s in stored if s.fact.order > fact.order):
        raise SameRun(fact.event_id)  # their flags are not written yet: let ingest go event by event
    # Counts first: this move ends the window of counts after it, which may change what later moves held.
    c = _COUNTS.c
    counted_since = session.execute(select(c.id).where(c.bin_id == found.id, c.counted_at >= fact.at).limit(1))
    if counted_since.first() is not None:
        if refold_bin_counts(session, found.id, moved_at=fact.at):
            review.close_for_subjects(session, "count_discrepancy", [
                (f"bin:{found.code}", env.id, ctx.actor_id, ctx.effective_at, "a transfer between the counts")])
        found = _find_bin(session, p["bin_code"])  # what it holds now
    needs_counts = fact.quantity is not None or (late and any(s.fact.quantity is not None for s in stored))
    held = _held_counts(session, found.id) if needs_counts else []
    if late:
        verdicts = {v.event_id: v for v in fold_moves([s.fact for s in stored] + [fact], start, held, found.quantity)
                    .verdicts}
        verdict = verdicts[fact.event_id]
    else:
        last = stored[-1].fact if stored else None
        verdict = judge_move(fact, last.to_location if last else start, last.event_id if last else None,
                             held_before(fact.order, held, found.quantity))

    to_id, to_kind = places[fact.to_location]
    number = NUMBER_PREFIX + env.id.replace("-", "")
    session.execute(insert(_TRANSFERS).values(
        number=number, event_id=env.id, kind=TRANSFER_KINDS.get(to_kind, "next_operation"), status="complete",
        bin_id=found.id, work_order_id=found.work_order_id, product_id=found.product_id,
        from_location_id=places.get(verdict.from_location, (None,))[0], to_location_id=to_id,
        quantity=next((q for q in (fact.quantity, verdict.held, found.quantity) if q is not None), 0),
        seen_location_id=places.get(fact.seen_location, (None,))[0] if fact.seen_location else None,
        seen_bin_version=p["seen_version"], created_by=ctx.actor_id, created_at=fact.at, completed_at=fact.at,
    ))
    b = _BINS.c
    values: dict[str, Any] = {"version": b.version + 1}
    if not late:  # the bin follows its latest move in the log; an older one arriving late never moves it back
        values.update(location_id=to_id, location_since=fact.at)
    session.execute(update(_BINS).where(b.id == found.id).values(**values))
    changes = [("bin", found.code, False), ("transfer", number, False)]
    if late:
        changes += _rejudge(session, ctx, stored, verdicts, places, codes, found.code)
    record_changes(session, changes, int(time.time() * 1000))
    return _flags(verdict, fact, found.code, p["seen_version"])


def _rejudge(session, ctx: HandlerContext, stored: list[_Stored], verdicts: dict[str, MoveVerdict],
             places: dict[str, tuple[int, str]], codes: dict[int, str], bin_code: str) -> list[tuple[str, str, bool]]:
    """Bring the moves after a late one in line with the log: where each started, and their flags.

    A flag the late move withdraws is closed (naming the late move), one it adds is opened:
    the office's list says what happened. Return the pull changes (transfers that changed).
    """
    x, t = schema.exceptions.c, _TRANSFERS.c
    starts, closes, opens, rewrites = [], [], [], []
    # Only moves after the late one can change (the fold before it is the same); the ones before it
    # may be of this very run, with flags ingest has not written yet.
    after = [s for s in stored if s.fact.order > (ctx.effective_at, ctx.envelope.device_id, ctx.envelope.seq)]
    for s in after:
        verdict = verdicts[s.fact.event_id]
        if codes.get(s.from_location_id) != verdict.from_location:
            starts.append({"_id": s.transfer_id, "_from": places.get(verdict.from_location, (None,))[0],
                           "_number": s.number})
        new = [f.as_dict() for f in _flags(verdict, s.fact, bin_code, s.seen_version)]
        old = [f for f in s.flags if f.get("code") in MOVE_RULES]
        if new == old:
            continue
        rewrites.append({"_event": s.fact.event_id,
                         "_flags": [f for f in s.flags if f.get("code") not in MOVE_RULES] + new})
        closes.extend({"_event": s.fact.event_id, "_code": f["code"]} for f in old if f not in new)
        opens.extend({"code": f["code"], "event_id": s.fact.event_id, "quarantine_id": None, "subject": s.subject,
                      "detail": {k: v for k, v in f.items() if k != "code"}, "created_at": ctx.received_at}
                     for f in new if f not in old)
    if starts:
        session.execute(update(_TRANSFERS).where(t.id == bindparam("_id")).values(from_location_id=bindparam("_from")),
                        [{"_id": r["_id"], "_from": r["_from"]} for r in starts])
    if closes:
        session.execute(
            update(schema.exceptions)
            .where(x.event_id == bindparam("_event"), x.code == bindparam("_code"), x.resolved_at.is_(None))
            .values(resolved_at=ctx.effective_at, resolved_by=ctx.actor_id, resolution_event_id=ctx.envelope.id,
                    resolution_note="a move earlier in the log arrived late"), closes)
    if opens:
        session.execute(insert(schema.exceptions), opens)
    if rewrites:
        e = schema.events.c
        session.execute(update(schema.events).where(e.id == bindparam("_event"))
                        .values(exceptions=bindparam("_flags")), rewrites)
    return [("transfer", r["_number"], False) for r in starts]


def refold_bin_counts(session, bin_id: int, moved_at: datetime | None = None) -> bool:
    """Fold all a bin's counts again over its transfers; write the outcomes that change and the bin's count state.

    `moved_at` is the time of a transfer about to be written. Return whether this settled a
    dispute (the bin was disputed and is no longer).
    """
    c = _COUNTS.c
    rows = session.execute(select(c.event_id, c.quantity, c.counted_at, c.device_id, c.seq, c.outcome)
                           .where(c.bin_id == bin_id)).all()
    if not rows:
        return False
    facts = [CountFact((_ms(r.counted_at), r.device_id, r.seq), r.event_id, r.quantity, r.counted_at) for r in rows]
    t = _TRANSFERS.c
    moves = list(session.execute(select(t.created_at).where(t.bin_id == bin_id)).scalars())
    if moved_at is not None:
        moves.append(moved_at)
    state = fold_counts(facts, moves)
    stored = {r.event_id: r.outcome for r in rows}
    changed = [{"_event": e, "_outcome": o} for e, o in state.outcomes.items() if stored[e] != o]
    if changed:
        session.execute(update(_COUNTS).where(c.event_id == bindparam("_event"))
                        .values(outcome=bindparam("_outcome")), changed)
    b = _BINS.c
    code, disputed = session.execute(select(b.code, b.disputed).where(b.id == bin_id)).one()
    values: dict[str, Any] = {"disputed": state.disputed}
    if state.quantity is not None:
        values.update(quantity=state.quantity, last_counted_at=state.last_counted_at)
    session.execute(update(_BINS).where(b.id == bin_id).values(**values))
    record_changes(session, [("bin", code, False)], int(time.time() * 1000))
    return disputed and not state.disputed


def destinations() -> list[tuple[str, list[Location]]]:
    """Return the places a bin can go, grouped by kind (operations, waiting areas, warehouses)."""
    places = db.session.execute(select(Location).order_by(Location.code)).scalars().all()
    kinds = list(TRANSFER_KINDS)
    return [(kind, [p for p in places if p.kind == kind]) for kind in kinds if any(p.kind == kind for p in places)]


def move_from_form(code: str, form) -> dict[str, Any]:
    """Build a `bin.moved` payload from the bin page's form; raise PayloadInvalid for a field that is wrong."""
    payload: dict[str, Any] = {"bin_code": code, "to_location": form.get("to_location", "").strip() or None,
                               "seen_location": form.get("seen_location", "").strip() or None}
    for name in ("seen_version", "quantity"):
        text = form.get(name, "").strip()
        if text:
            try:
                payload[name] = int(text)
            except ValueError:
                raise PayloadInvalid(name, "must be a whole number") from None
    payload.setdefault("seen_version", 0)
    if form.get("note", "").strip():
        payload["note"] = form["note"].strip()
    return validate_move(payload)
