"""How the web app shows and groups its event types: areas, their records and their flags.

Each area of the floor (counting, moving, review, …) is a module with the same parts:
its pure rules in `webapp/domain/<area>.py`; its event types (an `EventType` from the sync
engine: payload spec, upgrades, validator, handler, batch handler, subject) and operations in
`webapp/services/<area>.py`, which ends with an `AREA`; its pages in `webapp/routes/<area>.py`
and `webapp/templates/<area>/`. `webapp/areas.py` collects the areas: the one place the event
registry, the flag names and the templates are built from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.registry import EventType


@dataclass(frozen=True)
class Kind:
    """An event type as people see it: its name, and the partial that shows one record of it.

    `template` renders one stored record (`e`: the event with payload, actor and flags) in a
    line: the bin page, the office's record lists and the review queue all include it.
    `form_errors` says in the person's language what is wrong with a field of its form, by
    (field, rule) or by field alone (rule "*"), where the generic message would not do.
    """

    type: EventType
    label: Any  # a lazy translated string
    template: str
    form_errors: Mapping[tuple[str, str], Any] = field(default_factory=dict)
    # Recorded on devices (an offline form or script saves it): the device shows its name. False
    # for what only the server's pages record (an office decision, an explanation typed online).
    on_device: bool = True


@dataclass(frozen=True)
class Flag:
    """A rule an event can break: its name, and the partial that explains one raised flag.

    `template` (optional) renders the flag's detail in the review queue (`flag`: the detail
    dict, `item`: the queue entry); without one, its name and message are shown.
    """

    code: str
    label: Any  # a lazy translated string
    template: str | None = None


@dataclass(frozen=True)
class Area:
    """One area of the floor: the event types it records and the flags its rules raise."""

    name: str
    kinds: tuple[Kind, ...] = ()
    flags: tuple[Flag, ...] = ()
