"""Push: store each event exactly once, keyed by the id the device made.

The caller owns the transaction (and commits it); `ingest_push` takes the device's
row lock first so pushes from one device are serialised across processes and hosts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, union, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sync import schema
from sync.envelope import Envelope, EnvelopeError, parse_envelope, salvage_id, salvage_seq
from sync.registry import EventRegistry, HandlerContext, PayloadInvalid, RuleBroken
from sync.seq import advance_ack, missing_seqs

CLOCK_SLACK_MS = 2 * 60 * 1000


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
                 missing_attachments):
        self.session: Session = session
        self.registry: EventRegistry = registry
        self.device = device
        self.now = now_ms
        self.build = build
        self.offset = offset_ms
        self.actor_role: Callable[[int], str | None] = actor_role
        self.default_actor: int | None = default_actor
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
            if isinstance(raw, dict):
                if isinstance(raw.get("id"), str):
                    try:
                        ids.add(str(uuid.UUID(raw["id"])))
                    except ValueError:
                        pass
                if isinstance(raw.get("seq"), int):
                    seqs.add(raw["seq"])
        ev, q = schema.events.c, schema.quarantine.c
        if ids:
            for row in self.session.execute(select(ev.id, ev.payload_hash, ev.exceptions).where(ev.id.in_(ids))):
                self.known[row.id] = (row.payload_hash, row.exceptions)
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
        row = self.session.execute(select(ev.payload_hash, ev.exceptions).where(ev.id == env.id)).first()
        if row is not None:
            self.known[env.id] = (row.payload_hash, row.exceptions)

    def quarantine(
        self, raw: Any, reason: str, detail: str, *, env: Envelope | None = None, seq: int | None = None
    ) -> dict[str, Any]:
        event_id = env.id if env else salvage_id(raw)
        try:
            raw_text = json.dumps(raw, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError):
            raw_text = repr(raw)
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
            )
        ).inserted_primary_key[0]
        self.session.execute(
            insert(schema.exceptions).values(
                code=reason,
                event_id=None,
                quarantine_id=qid,
                subject=None,
                detail={"message": detail, "event_id": event_id},
                created_at=self.now,
            )
        )
        if env is not None:
            self.held.setdefault((env.id, env.hash), (reason, detail))
        flag = {"code": reason, "message": detail}
        return {"id": event_id, "status": "quarantined", "exceptions": [flag], "missing_attachments": []}

    def one(self, raw: Any, retried: bool = False) -> dict[str, Any]:
        try:
            env = parse_envelope(raw)
        except EnvelopeError as exc:
            seq = salvage_seq(raw) if isinstance(raw, dict) and raw.get("device_id") == self.device["id"] else None
            return self.quarantine(raw, "unparsable", str(exc), seq=seq)
        if env.device_id != self.device["id"]:
            return self.quarantine(raw, "wrong_device", "event belongs to another device", env=env)

        ev = schema.events.c
        existing = self.known.get(env.id)
        if existing is not None:
            stored_hash, stored_exceptions = existing
            if stored_hash == env.hash:
                return {"id": env.id, "status": "duplicate", "exceptions": stored_exceptions,
                        "missing_attachments": self.missing_attachments(list(env.attachments))}
            return self.quarantine(raw, "id_collision", "another event already has this id", env=env,
                                   seq=env.seq)
        held = self.held.get((env.id, env.hash))
        if held is not None:  # the same quarantined event again: same answer, no new row
            return {"id": env.id, "status": "quarantined",
                    "exceptions": [{"code": held[0], "message": held[1]}], "missing_attachments": []}
        taken = self.seq_owner.get(env.seq)
        if taken is not None:
            return self.quarantine(raw, "seq_collision", f"seq {env.seq} is held by event {taken}",
                                   env=env)

        event_type = self.registry.get(env.type)
        if event_type is None:
            return self.quarantine(raw, "unknown_type", f"unknown event type {env.type}", env=env,
                                   seq=env.seq)
        actor_id = env.actor_id if env.actor_id is not None else self.default_actor
        role = self.actor_role(actor_id) if actor_id is not None else None
        if role is None:
            return self.quarantine(raw, "unknown_actor", f"user {actor_id} has not signed on this device",
                                   env=env, seq=env.seq)
        if role not in event_type.roles:
            return self.quarantine(raw, "forbidden", f"role {role} may not record {env.type}", env=env,
                                   seq=env.seq)
        try:
            payload = event_type.validate(event_type.upgrade(env.v, env.payload))
        except PayloadInvalid as exc:
            return self.quarantine(raw, "invalid_payload", str(exc), env=env, seq=env.seq)

        effective_at = env.occurred_at + self.offset
        flags: list[RuleBroken] = []
        lower = self.device["registered_at"] - CLOCK_SLACK_MS
        if not lower <= effective_at <= self.now + CLOCK_SLACK_MS:
            flags.append(RuleBroken("clock_suspect", {"effective_at": effective_at, "received_at": self.now}))

        savepoint = self.session.begin_nested()
        try:
            self.session.execute(
                insert(schema.events).values(
                    id=env.id, device_id=env.device_id, seq=env.seq, type=env.type, v=env.v,
                    occurred_at=env.occurred_at, received_at=self.now, effective_at=effective_at,
                    actor_id=actor_id, payload=env.payload, payload_hash=env.hash,
                    attachments=list(env.attachments), subject=event_type.subject(payload),
                    exceptions=[], build=self.build,
                )
            )
        except IntegrityError:
            # The same id stored a moment ago by a push from another device: decide again, once.
            savepoint.rollback()
            self.refresh(env)
            if retried:
                return self.quarantine(raw, "id_collision", "the id is taken", env=env, seq=env.seq)
            return self.one(raw, retried=True)
        try:
            ctx = HandlerContext(self.session, env, payload, effective_at, self.now, role, actor_id)
            flags.extend(event_type.handler(ctx))
            flag_dicts = [f.as_dict() for f in flags]
            if flag_dicts:
                self.session.execute(update(schema.events).where(ev.id == env.id).values(exceptions=flag_dicts))
                subject = event_type.subject(payload)
                self.session.execute(
                    insert(schema.exceptions),
                    [
                        {"code": f.code, "event_id": env.id, "quarantine_id": None, "subject": subject,
                         "detail": f.detail, "created_at": self.now}
                        for f in flags
                    ],
                )
            savepoint.commit()
        except Exception as exc:  # a handler bug must not lose the event or block the queue
            savepoint.rollback()
            return self.quarantine(raw, "handler_error", f"{type(exc).__name__}: {exc}", env=env, seq=env.seq)
        self.known[env.id] = (env.hash, flag_dicts)
        self.seq_owner[env.seq] = env.id
        return {"id": env.id, "status": "stored", "exceptions": flag_dicts,
                "missing_attachments": self.missing_attachments(list(env.attachments))}


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
) -> PushOutcome:
    """Store a batch from one device and answer per event; the caller commits."""
    device = lock_device(session, device_id)
    offset = now_ms - sent_at if isinstance(sent_at, int) and not isinstance(sent_at, bool) else 0
    push = _Push(session, registry, device, now_ms, build, offset, actor_role, default_actor, missing_attachments)
    push.prefetch(raw_events)
    results = [push.one(raw) for raw in raw_events]

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
