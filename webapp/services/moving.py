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
  that arrives after later counts refolds the bin's counts (`counting.refold_bin_counts`).

A completed four-signature slip (webapp/services/transfers.py) is a move in the same log, placed
by the event that completed it: a bin's moves are its `bin.moved` transfers and the completed
slips that carry it, so there is one answer to where a bin is and why (`follow_log`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, insert, select, update

from sync import schema
from sync.flags import flags_of, raise_flags, withdraw
from sync.registry import EventType, HandlerContext, PayloadInvalid, RuleBroken
from sync.spec import Integer, PayloadSpec, Text
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY
from webapp.domain.moving import TRANSFER_KINDS, HeldCount, MoveFact, MoveVerdict, fold_moves, held_before, judge_move
from webapp.domain.roles import CAPABILITIES, Can
from webapp.events import Area, Flag, Kind
from webapp.extensions import db
from webapp.models import Bin, Count, Location, Transfer, TransferBin
from webapp.models.types import from_ms, to_ms
from webapp.services import review
from webapp.services.bins import bins_by_code
from webapp.services.counting import refold_bin_counts

EVENT_TYPE = "bin.moved"
MOVE_RULES = ("location_conflict", "negative_stock")
NUMBER_PREFIX = "MV-"  # transfers a move stored; the rest of the number is the event id, so it is unique
MAX_CODE = 40


MOVE = PayloadSpec((
    Text("bin_code", required=True, max_length=MAX_CODE, upper=True, description="the bin's label code"),
    Text("to_location", required=True, max_length=MAX_CODE, description="a location code: where the bin goes"),
    # A device that never heard of the bin saw it nowhere: null.
    Text("seen_location", max_length=MAX_CODE, description="where the device saw the bin (null: nowhere)"),
    Integer("seen_version", required=True, maximum=2**31 - 1, description="the bin version the device had"),
    Integer("quantity", maximum=MAX_QUANTITY, description="pieces moving (absent: all in the bin)"),
    Text("note", max_length=MAX_NOTE),
))


def check_move(clean: dict[str, Any]) -> dict[str, Any]:
    """Check what the spec cannot: the destination must be a known location.

    Where the device saw the bin is taken as it is, known or not: a stale view is exactly what
    `location_conflict` is there to flag.
    """
    known = db.session.execute(select(Location.id).where(Location.code == clean["to_location"])).first()
    if known is None:
        raise PayloadInvalid("to_location", "is not a known location", "unknown")
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
    slip: bool = False  # a completed signed slip: its flags are the slip's, never re-judged here


_BINS, _TRANSFERS, _COUNTS = Bin.__table__, Transfer.__table__, Count.__table__


def _find_bin(session, code: str):
    """Return the bin row a code names (current or replaced label), or None."""
    b = _BINS.c
    return bins_by_code(session, {code}, b.quantity, b.location_id, b.work_order_id, b.product_id).get(code)


def _stored_moves(session, bin_id: int) -> list[_Stored]:
    """Return the bin's moves in the log, in log order."""
    e, t = schema.events.c, _TRANSFERS.c
    rows = session.execute(
        select(t.id, t.number, t.event_id, t.from_location_id, t.seen_bin_version, e.effective_at, e.device_id, e.seq,
               e.payload, e.subject)
        .join(schema.events, e.id == t.event_id)
        .where(t.bin_id == bin_id, t.number.startswith(NUMBER_PREFIX))
    ).all()
    flags = flags_of(session, [r.event_id for r in rows], MOVE_RULES)
    stored = []
    for r in rows:
        p = MOVE.validate(r.payload)
        fact = MoveFact((r.effective_at, r.device_id, r.seq), r.event_id, p["to_location"], p.get("seen_location"),
                        p.get("quantity"), from_ms(r.effective_at))
        stored.append(_Stored(fact, r.id, r.number, r.from_location_id, r.seen_bin_version,
                              flags.get(r.event_id, []), r.subject))
    return sorted(stored + _completed_slips(session, bin_id), key=lambda s: s.fact.order)


def _completed_slips(session, bin_id: int) -> list[_Stored]:
    """Return the completed signed slips that carried the bin, as moves placed by their completing event."""
    e, t, tb, loc = schema.events.c, _TRANSFERS.c, TransferBin.__table__.c, Location.__table__.c
    frm = Location.__table__.alias("frm")
    rows = session.execute(
        select(t.id, t.number, t.moved_event_id, t.from_location_id, loc.code.label("to_code"),
               frm.c.code.label("from_code"), e.effective_at, e.device_id, e.seq)
        .join(TransferBin.__table__, tb.transfer_id == t.id)
        .join(schema.events, e.id == t.moved_event_id)
        .join(Location.__table__, loc.id == t.to_location_id)
        .outerjoin(frm, frm.c.id == t.from_location_id)
        .where(tb.bin_id == bin_id, t.status == "complete")).all()
    return [_Stored(MoveFact((r.effective_at, r.device_id, r.seq), r.moved_event_id, r.to_code, r.from_code, None,
                             from_ms(r.effective_at)), r.id, r.number, r.from_location_id, None, [], None, slip=True)
            for r in rows]


def follow_log(session, bin_id: int, quantity: int | None = None) -> None:
    """Put a bin where the last move in its log took it (a slip completed or stopped being complete).

    `quantity`: what a completing slip's receiver counted, which the bin holds from then on.
    """
    stored = _stored_moves(session, bin_id)
    b = _BINS.c
    values: dict[str, Any] = {"version": b.version + 1}
    if stored:
        last = stored[-1].fact
        to_id = session.execute(select(Location.id).where(Location.code == last.to_location)).scalar()
        values.update(location_id=to_id, location_since=last.at)
    if quantity is not None:
        values["quantity"] = quantity
    session.execute(update(_BINS).where(b.id == bin_id).values(**values))


def _held_counts(session, bin_id: int) -> list[HeldCount]:
    """Return the bin's counts that settled what it holds (every outcome but a discrepancy)."""
    c = _COUNTS.c
    rows = session.execute(select(c.counted_at, c.device_id, c.seq, c.quantity)
                           .where(c.bin_id == bin_id, c.outcome != "discrepancy"))
    return [HeldCount((to_ms(r.counted_at), r.device_id, r.seq), r.quantity) for r in rows]


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
    if late:
        _rejudge(session, ctx, stored, verdicts, places, codes, found.code)
    return _flags(verdict, fact, found.code, p["seen_version"])


def _rejudge(session, ctx: HandlerContext, stored: list[_Stored], verdicts: dict[str, MoveVerdict],
             places: dict[str, tuple[int, str]], codes: dict[int, str], bin_code: str) -> None:
    """Bring the moves after a late one in line with the log: where each started, and their flags.

    A flag the late move withdraws is withdrawn (naming the late move), one it adds is raised:
    the office's list says what happened.
    """
    t = _TRANSFERS.c
    starts, withdrawn, raised = [], [], []
    # Only moves after the late one can change (the fold before it is the same); the ones before it
    # may be of this very run, with flags ingest has not written yet.
    after = [s for s in stored if s.fact.order > (ctx.effective_at, ctx.envelope.device_id, ctx.envelope.seq)]
    for s in after:
        if s.slip:
            continue
        verdict = verdicts[s.fact.event_id]
        if codes.get(s.from_location_id) != verdict.from_location:
            starts.append({"_id": s.transfer_id, "_from": places.get(verdict.from_location, (None,))[0]})
        new = [f.as_dict() for f in _flags(verdict, s.fact, bin_code, s.seen_version)]
        withdrawn.extend((s.fact.event_id, f["code"]) for f in s.flags if f not in new)
        raised.extend({"code": f["code"], "event_id": s.fact.event_id, "subject": s.subject,
                       "detail": {k: v for k, v in f.items() if k != "code"}, "created_at": ctx.received_at}
                      for f in new if f not in s.flags)
    if starts:
        session.execute(update(_TRANSFERS).where(t.id == bindparam("_id")).values(from_location_id=bindparam("_from")),
                        starts)
    withdraw(session, withdrawn, by_event=ctx.envelope.id, by_actor=ctx.actor_id, at=ctx.effective_at,
             note="a move earlier in the log arrived late")
    raise_flags(session, raised)


def destinations() -> list[tuple[str, list[Location]]]:
    """Return the places a bin can go, grouped by kind (operations, waiting areas, warehouses)."""
    places = db.session.execute(select(Location).order_by(Location.code)).scalars().all()
    kinds = list(TRANSFER_KINDS)
    return [(kind, [p for p in places if p.kind == kind]) for kind in kinds if any(p.kind == kind for p in places)]


MOVED = EventType(
    name=EVENT_TYPE, version=1, spec=MOVE, check=check_move, handler=handle_move, batch=handle_moves,
    roles=CAPABILITIES[Can.MOVE_BIN], subject=subject,
)

AREA = Area(
    name="moving",
    kinds=(Kind(MOVED, _l("Move"), "moving/record.html", form_errors={
        ("to_location", "*"): _l("Choose where the bin goes."),
        ("quantity", "*"): _l("Enter the number of pieces, from 0 to %(maximum)s."),
        ("note", "*"): _l("The note is too long."),
        # Hidden fields the page filled in.
        ("seen_location", "*"): _l("The page is out of date. Open the bin again."),
        ("seen_version", "*"): _l("The page is out of date. Open the bin again."),
        ("bin_code", "*"): _l("The page is out of date. Open the bin again."),
    }),),
    flags=(Flag("location_conflict", _l("Bin was not where the device saw it"), "moving/flags/location_conflict.html"),
           Flag("negative_stock", _l("More pieces moved than the bin held"), "moving/flags/negative_stock.html")),
)
