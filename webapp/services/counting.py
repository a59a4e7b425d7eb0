"""Counting a bin (`bin.counted` v2): its payload, its handler, the refold, the form without JavaScript.

Two counts of one bin within the window with no transfer between must agree, or the bin is
disputed until a recount (`webapp.domain.counting`). Everything is decided from the log,
ordered by (effective time, device, seq), whatever order the records arrive in.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, insert, select, update

from sync.registry import EventType, HandlerContext, RuleBroken
from sync.spec import Choice, Digests, Integer, PayloadSpec, Text
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY, CountFact, fold_counts
from webapp.domain.roles import CAPABILITIES, FLOOR_ROLES, Can, Role
from webapp.domain.stocktaking import UUID_PATTERN
from webapp.events import Area, Flag, Kind
from webapp.models import Bin, Count, Transfer
from webapp.models.types import from_ms, to_ms
from webapp.services import review, stocktaking
from webapp.services.bins import bins_by_code

EVENT_TYPE = "bin.counted"
UNITS = ("pcs", "kg")
MAX_CODE = 40

COUNT_V1 = PayloadSpec((
    Text("bin_code", required=True, max_length=MAX_CODE, upper=True),
    Integer("quantity", required=True, maximum=MAX_QUANTITY),
    Text("note", max_length=MAX_NOTE),
    Digests("photos", max_items=10),
), description="a count before units: always in pieces")
COUNT = PayloadSpec((
    Text("bin_code", required=True, max_length=MAX_CODE, upper=True, description="the bin's label code"),
    Integer("quantity", required=True, maximum=MAX_QUANTITY, description="pieces (or kg) in the bin"),
    Choice("unit", required=True, choices=UNITS, form_default="pcs"),
    Text("note", max_length=MAX_NOTE),
    Digests("photos", max_items=10, description="SHA-256 of photos uploaded to /api/v1/blobs"),
    # Optional and additive (no new version): a count taken during a stocktake names it.
    Text("stocktake_id", max_length=36, pattern=UUID_PATTERN, description="the stocktake this count is part of"),
), stored_only=("signer",),
    description="signer: a second person's badge + PIN proof (README, signing for someone else)")


def upgrade_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """bin.counted v1 had no unit: every v1 count was in pieces."""
    payload.setdefault("unit", "pcs")
    return payload


def subject(payload: dict[str, Any]) -> str:
    """Return a count's subject: its bin."""
    return f"bin:{payload['bin_code']}"


_BINS = Bin.__table__
_COUNTS = Count.__table__
_COUNT_COLUMNS = (_COUNTS.c.event_id, _COUNTS.c.quantity, _COUNTS.c.counted_at, _COUNTS.c.device_id,
                  _COUNTS.c.seq, _COUNTS.c.outcome)


def _latest_counts(session, bin_ids: list[int]) -> dict[int, Any]:
    """Return each bin's stored count that comes last in log order."""
    c = _COUNTS.c
    rank = func.row_number().over(partition_by=c.bin_id,
                                  order_by=(c.counted_at.desc(), c.device_id.desc(), c.seq.desc())).label("rank")
    ranked = select(c.bin_id, *_COUNT_COLUMNS, rank).where(c.bin_id.in_(bin_ids)).subquery()
    return {row.bin_id: row for row in session.execute(select(ranked).where(ranked.c.rank == 1))}


def _fact(row) -> CountFact:
    return CountFact((to_ms(row.counted_at), row.device_id, row.seq), row.event_id, row.quantity, row.counted_at)


def handle_count(ctx: HandlerContext) -> list[RuleBroken]:
    """Record one count (see `handle_counts`)."""
    return handle_counts(ctx.session, [ctx])[0]


def handle_counts(session, ctxs: list[HandlerContext]) -> list[list[RuleBroken]]:
    """Record a run of counts; flag unknown bins and counts that disagree; each bin follows its counts in log order.

    The same as recording each count in turn: a count that comes after the bin's latest in
    log order (the usual case) extends the fold by one step; one that arrives late (an
    offline device) refolds the bin's counts. Written as a few set-based SQL statements per
    run, since this is the hot path of every sync. Devices hear of the bins it changes through
    the change log, which the database writes itself (sync/changelog.py).
    """
    facts = [CountFact((ctx.effective_at, ctx.envelope.device_id, ctx.envelope.seq), ctx.envelope.id,
                       ctx.payload["quantity"], from_ms(ctx.effective_at)) for ctx in ctxs]
    stocktakes, stocktake_flags = stocktaking.link_counts(session, ctxs)
    b = _BINS.c
    bins = bins_by_code(session, {ctx.payload["bin_code"] for ctx in ctxs},
                        b.quantity, b.disputed, b.last_counted_at, b.version)
    flags: list[list[RuleBroken]] = [[] for _ in ctxs]
    runs: dict[int, list[int]] = {}  # bin id -> its counts in this run, in arrival order
    for i, ctx in enumerate(ctxs):
        found = bins.get(ctx.payload["bin_code"])
        if found is None:
            flags[i] = [RuleBroken("unknown_bin", {"bin_code": ctx.payload["bin_code"]})]
        else:
            runs.setdefault(found.id, []).append(i)
    outcomes: dict[str, str] = {}
    changed: list[dict[str, Any]] = []  # stored counts whose outcome a late count changes
    bin_rows: list[dict[str, Any]] = []
    closes = []
    if runs:
        latest = _latest_counts(session, list(runs))
        t = Transfer.__table__.c
        moves: dict[int, list] = {}
        for bin_id, at in session.execute(select(t.bin_id, t.created_at).where(t.bin_id.in_(list(runs)))):
            moves.setdefault(bin_id, []).append(at)
    for bin_id, members in runs.items():
        found = bins[ctxs[members[0]].payload["bin_code"]]
        state = _BinFold(found, _fact(latest[bin_id]) if bin_id in latest else None, moves.get(bin_id, []))
        raised: list[tuple[int, int]] = []  # flags of this run on the bin's subject, still open
        for i in members:
            flags[i], settles = state.add(session, facts[i])
            if settles:
                # As each count in turn would: the recount closes what is open on the bin, including
                # what this run raised (whose exceptions are written after the run, closed).
                settled_by = (facts[i].event_id, ctxs[i].actor_id, facts[i].order[0], "recount")
                for j, k in raised:
                    flags[j][k] = replace(flags[j][k], settled_by=settled_by)
                if not closes or closes[-1][0] != found.code:  # later recounts find nothing else open
                    closes.append((found.code, facts[i], ctxs[i].actor_id))
                raised = []
            if ctxs[i].payload["bin_code"] == found.code:
                raised.extend((i, k) for k in range(len(flags[i])))
        outcomes.update(state.outcomes)
        changed.extend({"_event": e, "_outcome": o} for e, o in state.outcomes.items()
                       if e in state.stored and state.stored[e] != o)
        bin_rows.append({"_bin": bin_id, "_disputed": state.disputed, "_quantity": state.quantity,
                         "_at": state.last_counted_at, "_version": found.version + len(members)})
    session.execute(insert(_COUNTS), [{
        "event_id": ctx.envelope.id, "bin_id": bins[code].id if (code := ctx.payload["bin_code"]) in bins else None,
        "bin_code": code, "quantity": ctx.payload["quantity"], "unit": ctx.payload["unit"],
        "note": ctx.payload.get("note"), "counted_by": ctx.actor_id, "device_id": ctx.envelope.device_id,
        "seq": ctx.envelope.seq, "counted_at": fact.at, "received_at": from_ms(ctx.received_at),
        "outcome": outcomes.get(ctx.envelope.id, "recorded"), "stocktake_id": stocktake,
    } for ctx, fact, stocktake in zip(ctxs, facts, stocktakes, strict=True)])
    c = _COUNTS.c
    if changed:
        session.execute(update(_COUNTS).where(c.event_id == bindparam("_event"))
                        .values(outcome=bindparam("_outcome")), changed)
    if bin_rows:
        session.execute(update(_BINS).where(b.id == bindparam("_bin")).values(
            disputed=bindparam("_disputed"), quantity=bindparam("_quantity"), last_counted_at=bindparam("_at"),
            version=bindparam("_version")), bin_rows)
    if closes:
        review.close_for_subjects(session, "count_discrepancy", [
            (f"bin:{code}", fact.event_id, actor_id, fact.order[0], "recount") for code, fact, actor_id in closes])
    return [found + extra for found, extra in zip(flags, stocktake_flags, strict=True)]


class _BinFold:
    """One bin's counts folded in log order as a run of new counts arrives, one at a time."""

    def __init__(self, found, latest: CountFact | None, moves: list) -> None:
        self.bin_id = found.id
        self.code = found.code
        self.disputed = found.disputed
        self.quantity, self.last_counted_at = found.quantity, found.last_counted_at
        self.latest = latest
        self.moves = moves
        self.history: list[CountFact] | None = None  # stored counts, read when a late count needs a refold
        self.stored: dict[str, str] = {}  # their outcomes as stored
        self.added: list[CountFact] = []
        self.outcomes: dict[str, str] = {}

    def add(self, session, fact: CountFact) -> tuple[list[RuleBroken], bool]:
        """Fold one more count; return its flags and whether it settles a dispute."""
        if self.latest is None or self.latest.order < fact.order:
            involved = [fact] + ([self.latest] if self.latest else [])
            state = fold_counts([fact], self.moves, after=self.latest, disputed=self.disputed)
            self.latest = fact
        else:
            if self.history is None:
                rows = session.execute(select(*_COUNT_COLUMNS).where(_COUNTS.c.bin_id == self.bin_id)).all()
                self.history = [_fact(r) for r in rows]
                self.stored = {r.event_id: r.outcome for r in rows}
            involved = self.history + self.added + [fact]
            state = fold_counts(involved, self.moves)
        self.added.append(fact)
        self.outcomes.update(state.outcomes)
        quantities = {f.event_id: f.quantity for f in involved}
        flags = [
            RuleBroken("count_discrepancy", {
                "bin_code": self.code, "quantity": quantities[later], "previous_quantity": quantities[earlier],
                "previous_event_id": earlier, "later_event_id": later})
            for later, earlier in state.discrepancies if fact.event_id in (later, earlier)
        ]
        settles = self.disputed and not state.disputed
        self.disputed = state.disputed
        if state.quantity is not None:
            self.quantity, self.last_counted_at = state.quantity, state.last_counted_at
        return flags, settles


def refold_bin_counts(session, bin_id: int, moved_at: datetime | None = None) -> bool:
    """Fold all a bin's counts again over its transfers; write the outcomes that change and the bin's count state.

    `moved_at` is the time of a transfer about to be written (a move arriving after later
    counts ends their window). Return whether this settled a dispute (the bin was disputed
    and is no longer).
    """
    c = _COUNTS.c
    rows = session.execute(select(*_COUNT_COLUMNS).where(c.bin_id == bin_id)).all()
    if not rows:
        return False
    facts = [_fact(r) for r in rows]
    t = Transfer.__table__.c
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
    disputed = session.execute(select(b.disputed).where(b.id == bin_id)).scalar_one()
    values: dict[str, Any] = {"disputed": state.disputed}
    if state.quantity is not None:
        values.update(quantity=state.quantity, last_counted_at=state.last_counted_at)
    session.execute(update(_BINS).where(b.id == bin_id).values(**values))
    return disputed and not state.disputed


COUNTED = EventType(
    name=EVENT_TYPE, version=2, spec=COUNT, past_specs={1: COUNT_V1}, upgrades={1: upgrade_v1},
    handler=handle_count, batch=handle_counts, roles=CAPABILITIES[Can.COUNT_BIN], subject=subject,
    # A second person confirms the count at a handover (badge + PIN on the counting device).
    signer_roles=FLOOR_ROLES | {Role.DIRECTOR, Role.ADMIN},
)

AREA = Area(
    name="counting",
    kinds=(Kind(COUNTED, _l("Count"), "counting/record.html",
                form_errors={("quantity", "*"): _l("Enter the number of pieces, from 0 to %(maximum)s."),
                             ("note", "*"): _l("The note is too long.")}),),
    flags=(Flag("count_discrepancy", _l("Count differs from a recent count"), "counting/flags/count_discrepancy.html"),
           Flag("unknown_bin", _l("Unknown bin"))),
)
