"""The event envelope a device sends: parsing, validation and the payload hash."""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from functools import cached_property
from dataclasses import dataclass, field
from typing import Any

MAX_EVENTS_PER_PUSH = 200
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# What the database and the device's JavaScript can hold: seqs and times are BIGINT columns and JS
# numbers (exact only up to Number.MAX_SAFE_INTEGER); versions and people are INTEGER columns.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_INT32 = 2**31 - 1
# How deep an event may nest (the event object is level 1, its payload level 2); the app's own
# events are 4 deep at most. Deeper ones are quarantined, never walked by recursion.
MAX_EVENT_DEPTH = 32
MAX_ID_LENGTH = 64  # the quarantine's event_id column
# Text no column can keep: U+0000 (PostgreSQL refuses it) and lone surrogates (legal in JSON as
# "\ud800", but no UTF-8 encoder writes them).
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


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


def _int(raw: dict, name: str, minimum: int, maximum: int) -> int:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EnvelopeError(name, "must be an integer")
    if value < minimum:
        raise EnvelopeError(name, f"must be at least {minimum}")
    if value > maximum:
        raise EnvelopeError(name, f"must be at most {maximum}")
    return value


def storable_text(value: str) -> bool:
    """Say whether every database and UTF-8 encoder can keep this text (no U+0000, no lone surrogate)."""
    return _UNSTORABLE_TEXT.search(value) is None


_LONG_DIGITS = re.compile(r"[0-9]{16}")  # MAX_SAFE_INTEGER has 16 digits: 15 or fewer are always within it


def _plainly_storable(raw: Any) -> bool:
    """Say whether an event is storable on evidence from its JSON text alone; False means "look closer".

    Conservative: text that merely looks suspicious (16 digits in a note, brackets in text, an
    escaped "\\u0000") sends the event to the exact walk, which decides.
    """
    try:
        text = json.dumps(raw, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")  # a lone surrogate cannot be encoded
    except (TypeError, ValueError, RecursionError):
        return False
    return (text.count("{") + text.count("[") <= MAX_EVENT_DEPTH and "\\u0000" not in text
            and _LONG_DIGITS.search(text) is None)


def check_storable(raw: dict) -> None:
    """Refuse an event the database or the device could not hold as it is, walking it without recursion.

    Refused: nesting deeper than MAX_EVENT_DEPTH, text (values or keys) with U+0000 or a lone
    surrogate, integers beyond JavaScript's exact range, and floats that are not finite (1e400
    parses as infinity, which is not JSON). The error names the top-level field it was found in.
    """
    if _plainly_storable(raw):
        return  # the usual event, proved in one pass of the C encoder (the hot path of every push)
    stack: list[tuple[Any, int, str]] = [(raw, 1, "event")]
    while stack:
        value, depth, field_name = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_EVENT_DEPTH:
                raise EnvelopeError(field_name, f"nests deeper than {MAX_EVENT_DEPTH} levels")
            for key, item in value.items():
                if not isinstance(key, str) or not storable_text(key):
                    raise EnvelopeError(field_name, "has a key with U+0000 or a lone surrogate")
                stack.append((item, depth + 1, key[:40] if depth == 1 else field_name))
        elif isinstance(value, list):
            if depth > MAX_EVENT_DEPTH:
                raise EnvelopeError(field_name, f"nests deeper than {MAX_EVENT_DEPTH} levels")
            stack.extend((item, depth + 1, field_name) for item in value)
        elif isinstance(value, str):
            if not storable_text(value):
                raise EnvelopeError(field_name, "has U+0000 or a lone surrogate in its text")
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                raise EnvelopeError(field_name, f"has an integer beyond ±{MAX_SAFE_INTEGER}")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise EnvelopeError(field_name, "has a number that is not finite")
        else:
            raise EnvelopeError(field_name, f"has a value that is not JSON ({type(value).__name__})")


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
    check_storable(raw)
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
        seq=_int(raw, "seq", 1, MAX_SAFE_INTEGER),
        type=event_type,
        v=_int(raw, "v", 1, MAX_INT32),
        occurred_at=_int(raw, "occurred_at", 0, MAX_SAFE_INTEGER),
        actor_id=None if raw.get("actor_id") is None else _int(raw, "actor_id", 1, MAX_INT32),
        payload=payload,
        attachments=tuple(attachments),
    )


def salvage_seq(raw: Any) -> int | None:
    """Return the seq of an unparsable event when it has a usable one (one a seq column and the device hold)."""
    if isinstance(raw, dict):
        seq = raw.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= MAX_SAFE_INTEGER:
            return seq
    return None


def salvage_id(raw: Any) -> str | None:
    """Return the id of an unparsable event when it has one the database can keep, for its result row."""
    if isinstance(raw, dict):
        event_id = raw.get("id")
        if isinstance(event_id, str) and len(event_id) <= MAX_ID_LENGTH and storable_text(event_id):
            return event_id
    return None
