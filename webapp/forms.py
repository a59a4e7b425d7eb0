"""Forms posted without JavaScript, read through the event type's payload spec.

The spec (sync/spec.py) says what each field must be; this module turns a form into a payload
with it, says what is wrong in the person's language (one message per field, the whole page is
shown again with 422 and what was typed), and gives templates the limits to put on inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from sync.spec import Field, FormInvalid, PayloadInvalid
from webapp.areas import KINDS

GENERIC = {
    "required": _l("This is required."),
    "text": _l("Enter text."),
    "max_length": _l("At most %(max_length)s characters."),
    "integer": _l("Enter a whole number from %(minimum)s to %(maximum)s."),
    "range": _l("Enter a whole number from %(minimum)s to %(maximum)s."),
    "choice": _l("Choose one of the options."),
}
INVALID = _l("This value is not valid.")


def _limits(field: Field | None) -> dict[str, Any]:
    """The field's own limits, for messages that name them."""
    if field is None:
        return {}
    return {name: getattr(field, name) for name in ("max_length", "minimum", "maximum", "max_items")
            if hasattr(field, name)}


def error_text(event_type: str, exc: PayloadInvalid) -> str:
    """Say in the person's language what is wrong with one field of an event type's form."""
    kind = KINDS[event_type]
    try:
        field: Field | None = kind.type.spec.field(exc.field) if kind.type.spec else None
    except KeyError:
        field = None
    text = (kind.form_errors.get((exc.field, exc.rule)) or kind.form_errors.get((exc.field, "*"))
            or GENERIC.get(exc.rule) or INVALID)
    params = {**_limits(field), **exc.params}
    shown = {k: format_decimal(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in params.items()}
    try:
        return str(text) % shown
    except (KeyError, TypeError, ValueError):
        return str(INVALID)


def read_form(event_type: str, form: Mapping[str, str], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """Return the payload a form describes, checked as a device's record would be; raise FormInvalid.

    `fixed` are the values the route sets (the bin from the URL); the form cannot change them.
    """
    event = KINDS[event_type].type
    payload = event.spec.from_form(form, fixed)
    if event.check is not None:
        try:
            payload = event.check(payload)
        except PayloadInvalid as exc:
            raise FormInvalid({exc.field: exc}) from None
    return payload


def messages(event_type: str, exc: FormInvalid) -> dict[str, str]:
    """Return every wrong field of a form with what is wrong with it, in the person's language."""
    return {name: error_text(event_type, error) for name, error in exc.errors.items()}


@lru_cache(maxsize=256)
def limits(event_type: str, field: str, *only: str) -> Markup:
    """Return the HTML attributes that put a field's limits on its input (required, min, max, maxlength).

    `only` keeps some of them (a select takes `required` but no `maxlength`).
    """
    attrs = KINDS[event_type].type.spec.attrs(field)
    parts = [name if value is True else f'{name}="{escape(value)}"' for name, value in attrs.items()
             if value is not False and value is not None and (not only or name in only)]
    return Markup(" ".join(parts))


def field_message(event_type: str, field: str, rule: str = "range") -> str:
    """Return what the form says when a field breaks a rule (the device shows the same words offline)."""
    return error_text(event_type, PayloadInvalid(field, "", rule))
