"""Event types the app knows: versions, upgrades, validation, authorisation, handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from sync.envelope import Envelope
from sync.spec import PayloadInvalid, PayloadSpec


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


@dataclass(kw_only=True)
class EventType:
    """One event type: its payload spec per version, how older versions upgrade, who may send it.

    `spec` is the current version's payload; `past_specs` the older versions' (documentation,
    and the fields a stored payload of any version keeps). `check` adds what a spec cannot say
    (a lookup: "a known location"); `validate` is the spec's validation followed by `check`.
    """

    name: str
    version: int
    handler: Handler
    roles: frozenset[str]
    spec: PayloadSpec | None = None
    past_specs: dict[int, PayloadSpec] = field(default_factory=dict)
    check: Validator | None = None
    validate: Validator | None = None  # built from spec and check when not given
    subject: Callable[[dict[str, Any]], str | None] = lambda payload: None
    upgrades: dict[int, Upgrade] = field(default_factory=dict)
    # Optional: handle a run of consecutive events of this type at once, with the same outcome
    # (state and flags per event) as calling `handler` on each in turn. Raising makes ingest
    # roll the batch back and call `handler` event by event. Types that share one batch handler
    # (an area's, e.g. a slip's events) form one run when they follow each other.
    batch: BatchHandler | None = None
    # Every payload field of every version: what is stored is the payload as sent with only these
    # (a field no version knows is not kept). None: from the specs, or stored as sent without one.
    fields: frozenset[str] | None = None
    # Roles that may sign this type's records for someone else (a `signer` in the payload); None: any.
    signer_roles: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.validate is None:
            if self.spec is None:
                raise ValueError(f"event type {self.name} needs a spec or a validator")
            spec, check = self.spec, self.check
            self.validate = spec.validate if check is None else (lambda payload: check(spec.validate(payload)))
        if self.fields is None and self.spec is not None:
            names = set(self.spec.names)
            for past in self.past_specs.values():
                names |= past.names
            self.fields = frozenset(names)

    def specs(self) -> dict[int, PayloadSpec]:
        """Return the payload spec of every version known, oldest first."""
        found = dict(sorted(self.past_specs.items()))
        if self.spec is not None:
            found[self.version] = self.spec
        return found

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
