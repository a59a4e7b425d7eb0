"""JSON a client sends, parsed so that no body can make the server fail.

`request.get_json()` answers 500 for JSON nested about 1,000 deep (a RecursionError is not the
ValueError it expects), and accepts `NaN` and `Infinity`, which are not JSON and which no JSON
column keeps. Here both are a refusal of the whole request (400), as is nesting deeper than any
body of the sync API needs. What a body holds inside an event (odd text, huge numbers) is the
envelope's business: such an event is quarantined, never refused (sync/envelope.py).
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from flask_babel import gettext as _

from webapp.auth import json_error

# The deepest body of the API is a push: body > events > event > payload > a signer's proof, about
# 6 levels; an event may nest 32 (sync.envelope.MAX_EVENT_DEPTH) and is quarantined beyond.
MAX_BODY_DEPTH = 64


class BadJSON(ValueError):
    """A body that is not JSON, or that nests deeper than MAX_BODY_DEPTH."""


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def depth(value: Any) -> int:
    """Return how deep a parsed JSON value nests (a scalar is 0, [] is 1), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
    return deepest


def loads(data: bytes | str, max_depth: int = MAX_BODY_DEPTH) -> Any:
    """Parse JSON text, or raise BadJSON: never RecursionError, never NaN or Infinity."""
    try:
        value = json.loads(data, parse_constant=_not_json)
    except RecursionError as exc:  # the parser recurses once per level: ~1,000 levels exhaust the stack
        raise BadJSON("nested too deep") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN, a number of more than 4,300 digits
        raise BadJSON(str(exc)) from exc
    if depth(value) > max_depth:
        raise BadJSON(f"nested deeper than {max_depth} levels")
    return value


def request_json() -> Any:
    """Return the request's JSON body, None when it sends no JSON (another content type); raise BadJSON."""
    if not request.is_json:
        return None
    return loads(request.get_data(cache=True))


def body_or_error() -> tuple[Any, Any]:
    """Return (the request's JSON body or None, None), or (None, a 400 answer) for a body that is not JSON."""
    try:
        return request_json(), None
    except BadJSON:
        return None, json_error(400, "bad_json", _("The request body must be JSON."))
