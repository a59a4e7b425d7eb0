"""Event types of the floor and their handlers: the webapp's side of the sync engine."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from sync.envelope import SHA256_RE
from sync.pull import record_changes
from sync.registry import (
    EventRegistry, EventType, HandlerContext, PayloadInvalid, RuleBroken, count_field, text_field,
)
from webapp.domain.counting import MAX_NOTE, MAX_QUANTITY, CountFact, fold_counts
from webapp.domain.roles import CAPABILITIES, FLOOR_ROLES, Can, Role
from webapp.models import Bin, BinLabel, Count, Transfer
from webapp.services import moves, review
from webapp.models.types import from_ms


UNITS = ("pcs", "kg")


def validate_count(payload: dict[str, Any]) -> dict[str, Any]:
    """Check a `bin.counted` v2 payload: {bin_code, quantity, unit, note?, photos?}."""
    code = text_field(payload, "bin_code", required=True, limit=40)
    quantity = count_field(payload, "quantity", required=True, limit=MAX_QUANTITY)
    clean: dict[str, Any] = {"bin_code": code.upper(), "quantity": quantity}
    note = text_field(payload, "note", required=False, limit=MAX_NOTE)
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


def _bin_rows(session, codes: set[str]) -> dict[str, Any]:
    """Return the bins (their count state) that codes name, by their current or a replaced label."""
    b = _BINS.c
    columns = (b.id, b.code, b.quantity, b.disputed, b.last_counted_at, b.version)
    found = {row.code: row for row in session.execute(select(*columns).where(b.code.in_(codes)))}
    rest = codes - found.keys()
    if rest:
        label = BinLabel.__table__.c
        for row in session.execute(select(label.code.label("label_code"), *columns)
                                   .join(_BINS, label.bin_id == b.id).where(label.code.in_(rest))):
            found[row.label_code] = row
    return found


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
    return CountFact((int(row.counted_at.timestamp() * 1000), row.device_id, row.seq), row.event_id, row.quantity,
                     row.counted_at)


def handle_count(ctx: HandlerContext) -> list[RuleBroken]:
    """Record one count (see `handle_counts`)."""
    return handle_counts(ctx.session, [ctx])[0]


def handle_counts(session, ctxs: list[HandlerContext]) -> list[list[RuleBroken]]:
    """Record a run of counts; flag unknown bins and counts that disagree; each bin follows its counts in log order.

    The same as recording each count in turn: a count that comes after the bin's latest in
    log order (the usual case) extends the fold by one step; one that arrives late (an
    offline device) refolds the bin's counts. Written as a few set-based SQL statements per
    run, since this is the hot path of every sync.
    """
    facts = [CountFact((ctx.effective_at, ctx.envelope.device_id, ctx.envelope.seq), ctx.envelope.id,
                       ctx.payload["quantity"], from_ms(ctx.effective_at)) for ctx in ctxs]
    bins = _bin_rows(session, {ctx.payload["bin_code"] for ctx in ctxs})
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
        "outcome": outcomes.get(ctx.envelope.id, "recorded"), "stocktake_id": None,
    } for ctx, fact in zip(ctxs, facts, strict=True)])
    c, b = _COUNTS.c, _BINS.c
    if changed:
        session.execute(update(_COUNTS).where(c.event_id == bindparam("_event"))
                        .values(outcome=bindparam("_outcome")), changed)
    if bin_rows:
        session.execute(update(_BINS).where(b.id == bindparam("_bin")).values(
            disputed=bindparam("_disputed"), quantity=bindparam("_quantity"), last_counted_at=bindparam("_at"),
            version=bindparam("_version")), bin_rows)
        codes = sorted(found.code for found in bins.values() if found.id in runs)
        record_changes(session, [("bin", code, False) for code in dict.fromkeys(codes)], int(time.time() * 1000))
    if closes:
        review.close_for_subjects(session, "count_discrepancy", [
            (f"bin:{code}", fact.event_id, actor_id, fact.order[0], "recount") for code, fact, actor_id in closes])
    return flags


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


def upgrade_count_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """bin.counted v1 had no unit: every v1 count was in pieces."""
    payload.setdefault("unit", "pcs")
    return payload


def build_registry() -> EventRegistry:
    """Return the registry of every event type the floor records."""
    registry = EventRegistry()
    registry.register(EventType(
        name="bin.counted", version=2, handler=handle_count, batch=handle_counts, validate=validate_count,
        roles=CAPABILITIES[Can.COUNT_BIN], upgrades={1: upgrade_count_v1},
        subject=lambda p: f"bin:{p['bin_code']}",
        fields=frozenset({"bin_code", "quantity", "unit", "note", "photos", "signer"}),
        # A second person confirms the count at a handover (badge + PIN on the counting device).
        signer_roles=FLOOR_ROLES | {Role.DIRECTOR, Role.ADMIN},
    ))
    registry.register(EventType(
        name=moves.EVENT_TYPE, version=1, handler=moves.handle_move, batch=moves.handle_moves,
        validate=moves.validate_move, roles=CAPABILITIES[Can.MOVE_BIN], subject=moves.subject,
        fields=frozenset({"bin_code", "to_location", "seen_location", "seen_version", "quantity", "note"}),
    ))
    registry.register(EventType(
        name="exception.resolved", version=1, handler=review.handle_resolution,
        validate=review.validate_resolution, roles=CAPABILITIES[Can.REVIEW],
        subject=lambda p: f"exception:{p['exception_id']}",
        fields=frozenset({"exception_id", "note"}),
    ))
    return registry


registry = build_registry()
