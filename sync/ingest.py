"""Push: store each event exactly once, keyed by the id the device made.

The caller owns the transaction (and commits it); `ingest_push` takes the device's
row lock first so pushes from one device are serialised across processes and hosts.
"""

from __future__ import annotations

import json
import uuid
from itertools import groupby
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, union, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sync import schema
from sync.flags import flags_of, raise_flags
from sync.envelope import (
    MAX_SAFE_INTEGER, Envelope, EnvelopeError, parse_envelope, salvage_id, salvage_seq,
)
from sync.registry import EventRegistry, EventType, HandlerContext, PayloadInvalid, RuleBroken
from sync.seq import advance_ack, missing_seqs

CLOCK_SLACK_MS = 2 * 60 * 1000
# How far above the device's acknowledged run a seq may be. A device numbers its events without
# gaps and pushes them in order, so a real one is at most its outbox (and a few re-registrations)
# ahead; a seq further up is a bug or an attack. Stored, it would stay the highest seq held for
# good: every later push of the device would report a gap below it. It is quarantined instead,
# with no seq, so it never counts as held.
MAX_SEQ_AHEAD = 1_000_000
# Checks the proof of a person who signed on this device without signing in on it (the webapp
# knows the scheme); returns the flag to raise, or None when the proof holds.
VerifySigner = Callable[[EventType, Envelope, dict[str, Any], int], RuleBroken | None]


class DeviceBusy(Exception):
    """Another push from this device holds its lock: the device retries (409)."""


@dataclass
class PushOutcome:
    """What the push endpoint answers."""

    server_now: int
    acked_through_seq: int
    missing_seqs: list[int]
    results: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, min_build: str) -> dict[str, Any]:
        """Return the response body of the contract."""
        return {
            "server_now": self.server_now,
            "acked_through_seq": self.acked_through_seq,
            "missing_seqs": self.missing_seqs,
            "min_build": min_build,
            "results": self.results,
        }


def lock_device(session: Session, device_id: str) -> dict[str, Any]:
    """Take the device's row lock (PostgreSQL NOWAIT; SQLite holds its single writer)."""
    stmt = select(schema.devices).where(schema.devices.c.id == device_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(nowait=True)
    try:
        row = session.execute(stmt).mappings().first()
    except OperationalError as exc:  # lock held by another push: 55P03
        raise DeviceBusy(device_id) from exc
    if row is None:
        raise LookupError(device_id)
    return dict(row)


def _held_seqs(session: Session, device_id: str, above: int) -> list[int]:
    ev = select(schema.events.c.seq).where(
        schema.events.c.device_id == device_id, schema.events.c.seq > above
    )
    q = select(schema.quarantine.c.seq).where(
        schema.quarantine.c.device_id == device_id,
        schema.quarantine.c.seq.is_not(None),
        schema.quarantine.c.seq > above,
    )
    return list(session.execute(union(ev, q)).scalars())


class _Push:
    def __init__(self, session, registry, device, now_ms, build, offset_ms, actor_role, default_actor,
                 missing_attachments, verify_signer=None, pushed_by=None):
        self.session: Session = session
        self.registry: EventRegistry = registry
        self.device = device
        self.now = now_ms
        self.build = build
        self.offset = offset_ms
        self.actor_role: Callable[[int, int], str | None] = actor_role
        self.default_actor: int | None = default_actor
        self.verify_signer: VerifySigner | None = verify_signer
        self.pushed_by: int | None = pushed_by
        self.missing_attachments: Callable[[list[str]], list[str]] = missing_attachments
        # What the database already holds for this batch's ids and seqs, read once per push
        # (then kept current as the batch is stored): id -> (hash, exceptions); (id, hash) ->
        # quarantine answer; seq -> event id.
        self.known: dict[str, tuple[str, list]] = {}
        self.held: dict[tuple[str, str], tuple[str, str]] = {}
        self.seq_owner: dict[int, str] = {}

    def prefetch(self, raw_events: list[Any]) -> None:
        """Read in three queries what the batch's ids and seqs already have on the server."""
        ids, seqs = set(), set()
        for raw in raw_events:
            if (event_id := _event_id(raw)) is not None:
                ids.add(event_id)
            if isinstance(raw, dict) and _storable_seq(raw.get("seq")):
                seqs.add(raw["seq"])
        ev, q = schema.events.c, schema.quarantine.c
        if ids:
            rows = self.session.execute(select(ev.id, ev.payload_hash).where(ev.id.in_(ids)))
            hashes = {row.id: row.payload_hash for row in rows}
            flags = flags_of(self.session, hashes) if hashes else {}
            for event_id, payload_hash in hashes.items():
                self.known[event_id] = (payload_hash, flags.get(event_id, []))
            for row in self.session.execute(
                    select(q.event_id, q.payload_hash, q.reason, q.detail).where(q.event_id.in_(ids))):
                self.held.setdefault((row.event_id, row.payload_hash), (row.reason, row.detail))
        if seqs:
            for row in self.session.execute(
                    select(ev.seq, ev.id).where(ev.device_id == self.device["id"], ev.seq.in_(seqs))):
                self.seq_owner[row.seq] = row.id

    def refresh(self, env: Envelope) -> None:
        """Read again what the database holds for one event (after a concurrent insert)."""
        ev = schema.events.c
        row = self.session.execute(select(ev.payload_hash).where(ev.id == env.id)).first()
        if row is not None:
            self.known[env.id] = (row.payload_hash, flags_of(self.session, [env.id]).get(env.id, []))

    def quarantine(
        self, raw: Any, reason: str, detail: str, *, env: Envelope | None = None, seq: int | None = None
    ) -> dict[str, Any]:
        event_id = env.id if env else salvage_id(raw)
        raw_text = _raw_text(raw)
        if seq is not None and not self.seq_in_range(seq):
            seq = None  # kept, but never held: see MAX_SEQ_AHEAD
        qid = self.session.execute(
            insert(schema.quarantine).values(
                device_id=self.device["id"],
                seq=seq,
                event_id=event_id,
                payload_hash=env.hash if env else None,
                reason=reason,
                detail=detail,
                raw=raw_text,
                received_at=self.now,
                pushed_by=self.pushed_by,
            )
        ).inserted_primary_key[0]
        raise_flags(self.session, [{"code": reason, "quarantine_id": qid, "subject": None,
                                    "detail": {"message": detail, "event_id": event_id}, "created_at": self.now}])
        if env is not None:
            self.held.setdefault((env.id, env.hash), (reason, detail))
        flag = {"code": reason, "message": detail}
        return {"id": event_id, "status": "quarantined", "exceptions": [flag], "missing_attachments": []}

    def seq_in_range(self, seq: int) -> bool:
        """Say whether a seq is near enough the device's acknowledged run to count (MAX_SEQ_AHEAD)."""
        return seq <= (self.device["acked_through_seq"] or 0) + MAX_SEQ_AHEAD

    def classify(self, raw: Any) -> Candidate | dict[str, Any] | _Hold:
        """Decide what an event is without writing: a candidate to store, an answer, or a reason to quarantine."""
        try:
            env = parse_envelope(raw)
        except EnvelopeError as exc:
            seq = salvage_seq(raw) if isinstance(raw, dict) and raw.get("device_id") == self.device["id"] else None
            return _Hold(raw, "unparsable", str(exc), None, seq)
        if env.device_id != self.device["id"]:
            return _Hold(raw, "wrong_device", "event belongs to another device", env, None)

        existing = self.known.get(env.id)
        if existing is not None:
            stored_hash, stored_exceptions = existing
            if stored_hash == env.hash:
                return {"id": env.id, "status": "duplicate", "exceptions": stored_exceptions,
                        "missing_attachments": self.missing_attachments(list(env.attachments))}
            return _Hold(raw, "id_collision", "another event already has this id", env, env.seq)
        held = self.held.get((env.id, env.hash))
        if held is not None:  # the same quarantined event again: same answer, no new row
            return {"id": env.id, "status": "quarantined",
                    "exceptions": [{"code": held[0], "message": held[1]}], "missing_attachments": []}
        if not self.seq_in_range(env.seq):
            return _Hold(raw, "seq_out_of_range", f"seq {env.seq} is more than {MAX_SEQ_AHEAD} above the "
                         f"acknowledged seq {self.device['acked_through_seq'] or 0}", env, None)
        taken = self.seq_owner.get(env.seq)
        if taken is not None:
            return _Hold(raw, "seq_collision", f"seq {env.seq} is held by event {taken}", env, None)

        event_type = self.registry.get(env.type)
        if event_type is None:
            return _Hold(raw, "unknown_type", f"unknown event type {env.type}", env, env.seq)
        effective_at = env.occurred_at + self.offset
        actor_id = env.actor_id if env.actor_id is not None else self.default_actor
        # The actor is a claim: only a person who signed in on this device, in the role they held then.
        role = self.actor_role(actor_id, effective_at) if actor_id is not None else None
        if role is None:
            return _Hold(raw, "unknown_actor", f"user {actor_id} has not signed on this device", env, env.seq)
        if role not in event_type.roles:
            return _Hold(raw, "forbidden", f"role {role} may not record {env.type}", env, env.seq)
        try:
            payload = event_type.validate(event_type.upgrade(env.v, env.payload))
        except PayloadInvalid as exc:
            return _Hold(raw, "invalid_payload", str(exc), env, env.seq)
        stored = dict(event_type.stored_payload(env.payload))

        flags: list[RuleBroken] = []
        if "signer" in stored:
            # A person who signed on this device without signing in on it: their proof is checked,
            # and a proof that fails keeps the event and tells the office.
            stored["signer"] = _signer_shape(stored["signer"])
            if stored["signer"] is None or self.verify_signer is None:
                flags.append(RuleBroken("signature_unverified", {"reason": "malformed"}))
            elif (flag := self.verify_signer(event_type, env, stored, effective_at)) is not None:
                flags.append(flag)
        lower = self.device["registered_at"] - CLOCK_SLACK_MS
        if not lower <= effective_at <= self.now + CLOCK_SLACK_MS:
            flags.append(RuleBroken("clock_suspect", {"effective_at": effective_at, "received_at": self.now}))
        ctx = HandlerContext(self.session, env, payload, effective_at, self.now, role, actor_id)
        return Candidate(raw, event_type, ctx, flags, stored)

    def decide(self, decision: Candidate | dict[str, Any] | _Hold) -> dict[str, Any]:
        """Carry out a decision for one event on its own (the path every event can take)."""
        if isinstance(decision, _Hold):
            return self.quarantine(decision.raw, decision.reason, decision.detail, env=decision.env,
                                   seq=decision.seq)
        if isinstance(decision, Candidate):
            return self.store_one(decision)
        return decision

    def one(self, raw: Any) -> dict[str, Any]:
        """Store or answer one event."""
        return self.decide(self.classify(raw))

    def row(self, c: Candidate) -> dict[str, Any]:
        env = c.ctx.envelope
        return {"id": env.id, "device_id": env.device_id, "seq": env.seq, "type": env.type, "v": env.v,
                "occurred_at": env.occurred_at, "received_at": self.now, "effective_at": c.ctx.effective_at,
                "actor_id": c.ctx.actor_id, "payload": c.stored, "payload_hash": env.hash,
                "attachments": list(env.attachments), "subject": c.event_type.subject(c.ctx.payload),
                "build": self.build, "pushed_by": self.pushed_by}

    def write_flags(self, stored: list[tuple[Candidate, list[RuleBroken]]]) -> None:
        """Raise each event's flags (sync/flags.py: the one place they are kept)."""
        rows = []
        for c, flags in stored:
            for f in flags:
                settled = dict(zip(("resolution_event_id", "resolved_by", "resolved_at", "resolution_note"),
                                   f.settled_by or (None,) * 4, strict=True))
                rows.append({"code": f.code, "event_id": c.ctx.envelope.id,
                             "subject": c.event_type.subject(c.ctx.payload), "detail": f.detail,
                             "created_at": self.now, **settled})
        raise_flags(self.session, rows)

    def stored(self, c: Candidate, flags: list[RuleBroken], missing: list[str]) -> dict[str, Any]:
        env = c.ctx.envelope
        flag_dicts = [f.as_dict() for f in flags]
        self.known[env.id] = (env.hash, flag_dicts)
        self.seq_owner[env.seq] = env.id
        return {"id": env.id, "status": "stored", "exceptions": flag_dicts, "missing_attachments": missing}

    def store_one(self, c: Candidate, retried: bool = False) -> dict[str, Any]:
        """Store one event and run its handler, in a savepoint of its own."""
        env = c.ctx.envelope
        savepoint = self.session.begin_nested()
        try:
            self.session.execute(insert(schema.events).values(**self.row(c)))
        except IntegrityError:
            # The same id stored a moment ago by a push from another device: decide again, once.
            savepoint.rollback()
            self.refresh(env)
            if retried:
                return self.quarantine(c.raw, "id_collision", "the id is taken", env=env, seq=env.seq)
            again = self.classify(c.raw)
            return self.store_one(again, retried=True) if isinstance(again, Candidate) else self.decide(again)
        try:
            flags = c.flags + c.event_type.handler(c.ctx)
            self.write_flags([(c, flags)])
            savepoint.commit()
        except Exception as exc:  # a handler bug must not lose the event or block the queue
            savepoint.rollback()
            return self.quarantine(c.raw, "handler_error", f"{type(exc).__name__}: {exc}", env=env, seq=env.seq)
        return self.stored(c, flags, self.missing_attachments(list(env.attachments)))

    def store_batch(self, candidates: list[Candidate]) -> list[dict[str, Any]]:
        """Store a batch's new events with one insert and each run of one type with its batch handler.

        Any failure (a concurrent insert of the same id, a handler error, a run the handler
        cannot decide as a set) rolls the batch back and stores the events one by one, which
        decides each the same way and isolates the one that fails.
        """
        savepoint = self.session.begin_nested()
        try:
            self.session.execute(insert(schema.events), [self.row(c) for c in candidates])
            outcome: list[tuple[Candidate, list[RuleBroken]]] = []
            for event_type, run in _runs(candidates):
                ctxs = [c.ctx for c in run]
                if event_type.batch is not None:
                    found = event_type.batch(self.session, ctxs)
                else:
                    found = [event_type.handler(ctx) for ctx in ctxs]
                done = [(c, c.flags + flags) for c, flags in zip(run, found, strict=True)]
                self.write_flags(done)  # before the next run, which may settle what this one raised
                outcome.extend(done)
            savepoint.commit()
        except Exception:
            savepoint.rollback()
            return [self.store_one(c) for c in candidates]
        shas = sorted({sha for c in candidates for sha in c.ctx.envelope.attachments})
        missing = set(self.missing_attachments(shas)) if shas else set()
        return [self.stored(c, flags, [s for s in c.ctx.envelope.attachments if s in missing])
                for c, flags in outcome]

    def run(self, raw_events: list[Any]) -> list[dict[str, Any]]:
        """Answer every event of a push, in order."""
        decisions = [self.classify(raw) for raw in raw_events]
        ids = [i for i in map(_event_id, raw_events) if i is not None]
        seqs = [d.ctx.envelope.seq for d in decisions if isinstance(d, Candidate)]
        if len(set(ids)) < len(ids) or len(set(seqs)) < len(seqs):
            # The batch repeats an id or a seq: the first decides what the later ones are.
            return [self.one(raw) for raw in raw_events]
        results: list[dict[str, Any] | None] = [None] * len(decisions)
        candidates = [(i, d) for i, d in enumerate(decisions) if isinstance(d, Candidate)]
        for i, d in enumerate(decisions):
            if not isinstance(d, Candidate):
                results[i] = self.decide(d)
        if len(candidates) == 1:
            results[candidates[0][0]] = self.store_one(candidates[0][1])
        elif candidates:
            for (i, _), result in zip(candidates, self.store_batch([d for _, d in candidates]), strict=True):
                results[i] = result
        return results  # type: ignore[return-value]


@dataclass
class Candidate:
    """An event that passed every check: stored next, with the flags found so far."""

    raw: Any
    event_type: EventType
    ctx: HandlerContext
    flags: list[RuleBroken]
    stored: dict[str, Any]  # the payload as stored: the type's known fields, as the device sent them


@dataclass
class _Hold:
    """An event to quarantine, and why."""

    raw: Any
    reason: str
    detail: str
    env: Envelope | None
    seq: int | None


SIGNER_FIELDS = {"id": int, "badge": str, "content_hash": str, "proof": str}


def _signer_shape(value: Any) -> dict[str, Any] | None:
    """Return a signer's proof with its four fields (short ones), or None when it is not one."""
    if not isinstance(value, dict):
        return None
    shaped = {k: value.get(k) for k in SIGNER_FIELDS}
    for name, kind in SIGNER_FIELDS.items():
        v = shaped[name]
        if not isinstance(v, kind) or isinstance(v, bool) or (isinstance(v, str) and len(v) > 128):
            return None
    return shaped


def _event_id(raw: Any) -> str | None:
    """Return an event's id as parsing normalises it, if it has one."""
    try:
        return str(uuid.UUID(raw["id"]))
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


def _storable_seq(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SAFE_INTEGER


def _raw_text(raw: Any) -> str:
    """Return an event as received, as text any database keeps (ASCII: lone surrogates and U+0000 escaped)."""
    try:
        return json.dumps(raw, ensure_ascii=True, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        try:
            return ascii(raw)
        except RecursionError:
            return json.dumps(f"<{type(raw).__name__} nested too deep to keep>")


def _runs(candidates: list[Candidate]):
    """Split candidates into consecutive runs of one type (or of types sharing one batch handler), in order."""
    for _, group in groupby(candidates, key=lambda c: c.event_type.batch or c.event_type.name):
        run = list(group)
        yield run[0].event_type, run


def ingest_push(
    session: Session,
    registry: EventRegistry,
    *,
    device_id: str,
    raw_events: list[Any],
    now_ms: int,
    build: str | None = None,
    sent_at: int | None = None,
    actor_role: Callable[[int], str | None],
    default_actor: int | None = None,
    missing_attachments: Callable[[list[str]], list[str]] = lambda shas: list(shas),
    pending: int | None = None,
    verify_signer: VerifySigner | None = None,
    pushed_by: int | None = None,
) -> PushOutcome:
    """Store a batch from one device and answer per event; the caller commits."""
    device = lock_device(session, device_id)
    # A device clock beyond what a BIGINT and JavaScript hold is no clock: no offset is applied.
    sendable = isinstance(sent_at, int) and not isinstance(sent_at, bool) and 0 <= sent_at <= MAX_SAFE_INTEGER
    offset = now_ms - sent_at if sendable else 0
    push = _Push(session, registry, device, now_ms, build, offset, actor_role, default_actor, missing_attachments,
                 verify_signer, pushed_by)
    push.prefetch(raw_events)
    results = push.run(raw_events)

    acked = device["acked_through_seq"] or 0
    held = _held_seqs(session, device_id, acked)
    new_acked = advance_ack(acked, held)
    session.execute(
        update(schema.devices)
        .where(schema.devices.c.id == device_id)
        .values(acked_through_seq=new_acked, last_push_at=now_ms, last_seen_at=now_ms, build=build,
                clock_offset_ms=offset, pending_count=pending)
    )
    return PushOutcome(now_ms, new_acked, missing_seqs(new_acked, held), results)
