"""The event envelope a device sends: parsing, validation and the payload hash."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from functools import cached_property
from dataclasses import dataclass, field
from typing import Any

MAX_EVENTS_PER_PUSH = 200
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class EnvelopeError(ValueError):
    """A field of an event that cannot be understood (named, with why); the event goes to quarantine."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Envelope:
    """One event as the device made it."""

    id: str
    device_id: str
    seq: int
    type: str
    v: int
    occurred_at: int
    actor_id: int | None  # None: the person the device token belongs to
    payload: dict[str, Any]
    attachments: tuple[str, ...] = field(default_factory=tuple)

    @cached_property
    def hash(self) -> str:
        """Return the hash that decides `duplicate` versus `id_collision` (computed once)."""
        return payload_hash(self)


def canonical_json(value: Any) -> str:
    """Serialise JSON the same way every time (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_hash(env: Envelope) -> str:
    """Hash what makes an event the same event: everything the device decided."""
    body = {
        "device_id": env.device_id,
        "seq": env.seq,
        "type": env.type,
        "v": env.v,
        "occurred_at": env.occurred_at,
        "actor_id": env.actor_id,
        "payload": env.payload,
        "attachments": list(env.attachments),
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def _int(raw: dict, name: str, minimum: int) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EnvelopeError(name, "must be an integer")
    if value < minimum:
        raise EnvelopeError(name, f"must be at least {minimum}")
    return value


def _uuid(raw: dict, name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str):
        raise EnvelopeError(name, "must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise EnvelopeError(name, "must be a UUID string") from None


def parse_envelope(raw: Any) -> Envelope:
    """Validate one raw event from a push and return its envelope."""
    if not isinstance(raw, dict):
        raise EnvelopeError("event", "must be an object")
    event_type = raw.get("type")
    if not isinstance(event_type, str) or not TYPE_RE.match(event_type):
        raise EnvelopeError("type", "must look like 'area.verb'")
    payload = raw.get("payload")
    if not isinstance(payload, dict):
        raise EnvelopeError("payload", "must be an object")
    attachments = raw.get("attachments", [])
    if not isinstance(attachments, list) or not all(
        isinstance(a, str) and SHA256_RE.match(a) for a in attachments
    ):
        raise EnvelopeError("attachments", "must be a list of lowercase SHA-256 hex digests")
    return Envelope(
        id=_uuid(raw, "id"),
        device_id=_uuid(raw, "device_id"),
        seq=_int(raw, "seq", 1),
        type=event_type,
        v=_int(raw, "v", 1),
        occurred_at=_int(raw, "occurred_at", 0),
        actor_id=None if raw.get("actor_id") is None else _int(raw, "actor_id", 1),
        payload=payload,
        attachments=tuple(attachments),
    )


def salvage_seq(raw: Any) -> int | None:
    """Return the seq of an unparsable event when it has a usable one."""
    if isinstance(raw, dict):
        seq = raw.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1:
            return seq
    return None


def salvage_id(raw: Any) -> str | None:
    """Return the id of an unparsable event when it has one, for its result row."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return raw["id"][:64]
    return None
