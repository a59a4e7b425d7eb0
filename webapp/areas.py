"""The areas of the floor, collected: the one place the event registry, record and flag names are built.

To add an event type, see the README ("Where a new event type goes"): its area's service module
declares it in the area's `AREA`, and the area is listed here once.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from sync.registry import EventRegistry
from webapp.events import Area, Flag, Kind
from webapp.services import counting, inspections, moving, review, stocktaking, transfers, warehouse

# Flags the sync engine and the signature check raise for any event type.
SYNC = Area(name="sync", flags=(
    Flag("clock_suspect", _l("Device clock suspect")),
    Flag("unparsable", _l("Unreadable record")),
    Flag("unknown_type", _l("Unknown kind of record")),
    Flag("invalid_payload", _l("Record with invalid data")),
    Flag("forbidden", _l("Role may not record this")),
    Flag("unknown_actor", _l("Person not signed on this device")),
    Flag("id_collision", _l("Two records with one id")),
    Flag("seq_collision", _l("Two records with one sequence number")),
    Flag("seq_out_of_range", _l("Sequence number far beyond the device's records")),
    Flag("handler_error", _l("Server error while applying")),
    Flag("wrong_device", _l("Record from another device")),
    Flag("signature_unverified", _l("Signature not verified"), "review/flags/signature.html"),
    Flag("signer_not_allowed", _l("Signer's role may not sign this"), "review/flags/signature.html"),
))

AREAS: tuple[Area, ...] = (counting.AREA, moving.AREA, transfers.AREA, stocktaking.AREA, warehouse.AREA,
                           inspections.AREA, review.AREA, SYNC)

KINDS: dict[str, Kind] = {kind.type.name: kind for area in AREAS for kind in area.kinds}
FLAGS: dict[str, Flag] = {}
for _area in AREAS:
    for _flag in _area.flags:
        if _flag.code in FLAGS:
            raise ValueError(f"flag {_flag.code} is declared by two areas")
        FLAGS[_flag.code] = _flag


def build_registry() -> EventRegistry:
    """Return the registry of every event type the areas record."""
    registry = EventRegistry()
    for kind in KINDS.values():
        registry.register(kind.type)
    return registry


registry = build_registry()


def event_label(event_type: str) -> str:
    """Return the translated name of an event type ("bin.counted" → "Count"), or the type itself."""
    kind = KINDS.get(event_type)
    return str(kind.label) if kind else event_type


def event_template(event_type: str) -> list[str]:
    """Return the partial that shows one record of a type, with the fallback for a type no area has."""
    kind = KINDS.get(event_type)
    return [kind.template, "records/_other.html"] if kind else ["records/_other.html"]


def flag_name(code: str) -> str:
    """Return the translated name of a flag code, or the code itself."""
    flag = FLAGS.get(code)
    return str(flag.label) if flag else code


def flag_template(code: str) -> str:
    """Return the partial that explains one raised flag in the review queue."""
    flag = FLAGS.get(code)
    return flag.template if flag and flag.template else "records/_flag_detail.html"
