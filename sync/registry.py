"""Event types the app knows: versions, upgrades, validation, authorisation, handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from sync.envelope import Envelope, EnvelopeError


class PayloadInvalid(EnvelopeError):
    """A payload that breaks its type's schema; the event goes to quarantine, kept."""


def text_field(payload: dict[str, Any], name: str, *, required: bool, limit: int) -> str | None:
    """Return a payload's text field, stripped (None when optional and absent or empty), or refuse it."""
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


def count_field(payload: dict[str, Any], name: str, *, required: bool, limit: int) -> int | None:
    """Return a payload's whole number from 0 to `limit` (None when optional and absent), or refuse it."""
    value = payload.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadInvalid(name, "must be a whole number")
    if not 0 <= value <= limit:
        raise PayloadInvalid(name, f"must be between 0 and {limit}")
    return value


@dataclass(frozen=True)
class RuleBroken:
    """A domain rule an event broke: the event is stored and the office reviews it."""

    code: str
    detail: dict[str, Any] = field(default_factory=dict)
    # Set by a batch handler when a later event of the same batch already settles this flag,
    # so its exception is written closed: (event id, actor id, effective time, note).
    settled_by: tuple[str, int, int, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the flag as the push result and the review queue show it."""
        return {"code": self.code, **self.detail}


@dataclass
class HandlerContext:
    """What a domain handler gets: the stored event, its upgraded payload, the session."""

    session: Session
    envelope: Envelope
    payload: dict[str, Any]
    effective_at: int
    received_at: int
    actor_role: str
    actor_id: int  # the envelope's, or the pushing person's when the device left it out


Handler = Callable[[HandlerContext], list[RuleBroken]]
BatchHandler = Callable[[Session, list[HandlerContext]], list[list[RuleBroken]]]
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
Validator = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class EventType:
    """One event type: its current version, how older versions upgrade, who may send it."""

    name: str
    version: int
    handler: Handler
    validate: Validator
    roles: frozenset[str]
    subject: Callable[[dict[str, Any]], str | None] = lambda payload: None
    upgrades: dict[int, Upgrade] = field(default_factory=dict)
    # Optional: handle a run of consecutive events of this type at once, with the same outcome
    # (state and flags per event) as calling `handler` on each in turn. Raising makes ingest
    # roll the batch back and call `handler` event by event.
    batch: BatchHandler | None = None
    # Every payload field of every version: what is stored is the payload as sent with only these
    # (a field no version knows is not kept). None: stored as sent.
    fields: frozenset[str] | None = None
    # Roles that may sign this type's records for someone else (a `signer` in the payload); None: any.
    signer_roles: frozenset[str] | None = None

    def stored_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the payload as stored: the fields this type knows, as the device sent them."""
        if self.fields is None:
            return payload
        return {k: v for k, v in payload.items() if k in self.fields}

    def upgrade(self, v: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Bring a payload of version `v` up to the current version, one step at a time."""
        if v > self.version:
            raise PayloadInvalid("v", f"version {v} is newer than this server knows ({self.version})")
        while v < self.version:
            step = self.upgrades.get(v)
            if step is None:
                raise PayloadInvalid("v", f"no upgrade from version {v}")
            payload = step(dict(payload))
            v += 1
        return payload


class EventRegistry:
    """The event types a server accepts; the web app registers one per floor action."""

    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}

    def register(self, event_type: EventType) -> EventType:
        """Add an event type; a name is registered once."""
        if event_type.name in self._types:
            raise ValueError(f"event type {event_type.name} registered twice")
        self._types[event_type.name] = event_type
        return event_type

    def get(self, name: str) -> EventType | None:
        """Return the type called `name`, or None when the server does not know it."""
        return self._types.get(name)

    def names(self) -> list[str]:
        """List the registered type names."""
        return sorted(self._types)
