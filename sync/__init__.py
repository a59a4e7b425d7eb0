"""The offline sync engine: event envelope, idempotent ingest, cursors, conflict flags.

It knows nothing about bins or inspections and never imports Flask: the web app
registers a handler per event type (`EventRegistry`) and entities for pull
(`PullSource`). See shared/sync-protocol.md for the contract this implements.
"""

from sync.envelope import Envelope, EnvelopeError, parse_envelope, payload_hash
from sync.registry import EventRegistry, EventType, HandlerContext, RuleBroken
from sync.schema import metadata
from sync.spec import PayloadInvalid, PayloadSpec

__all__ = [
    "Envelope",
    "EnvelopeError",
    "EventRegistry",
    "EventType",
    "HandlerContext",
    "PayloadInvalid",
    "PayloadSpec",
    "RuleBroken",
    "metadata",
    "parse_envelope",
    "payload_hash",
]
