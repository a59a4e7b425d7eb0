"""Payload specs: an event type's fields, their types and limits, declared once.

One `PayloadSpec` per event type and version gives everything that used to be written by hand
in several places: the server's validation (`validate`), the parsing of a form posted without
JavaScript (`from_form`, whose errors name the field and the broken rule so the web app can say
it in the person's language), the limits a template puts on its inputs (`attrs`), and the JSON
Schema of the payload in the OpenAPI document (`json_schema`).

Errors are `PayloadInvalid(field, message)` with `rule` and `params` set, so that a caller that
translates (the web app) never parses the English message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.envelope import MAX_INT32, MAX_SAFE_INTEGER, EnvelopeError, storable_text

SHA256_PATTERN = "^[0-9a-f]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)


class PayloadInvalid(EnvelopeError):
    """A payload that breaks its type's spec; the event goes to quarantine, kept.

    `rule` names what was broken (required, text, max_length, integer, range, choice, list,
    digest, pattern, shape, unknown) and `params` its limits, for a translated message.
    """

    def __init__(self, field: str, message: str, rule: str = "invalid", **params: Any):
        super().__init__(field, message)
        self.rule = rule
        self.params = params


@dataclass(frozen=True)
class Field:
    """One payload field. Subclasses say what a value must be."""

    name: str
    required: bool = False
    description: str = ""
    form_default: Any = None  # what a form that leaves the field out means (devices must send it)

    def check(self, value: Any) -> Any:
        """Return the value as stored (cleaned), or raise PayloadInvalid."""
        raise NotImplementedError

    def parse_form(self, text: str) -> Any:
        """Turn a form's text into the value a device would have sent (before `check`)."""
        return text

    def schema(self) -> dict[str, Any]:
        """Return this field's JSON Schema."""
        raise NotImplementedError

    def attrs(self) -> dict[str, Any]:
        """Return the HTML input attributes that state this field's limits."""
        return {"required": True} if self.required else {}

    def empty(self, value: Any) -> bool:
        """Say whether a value counts as absent (an optional field may be left out)."""
        return value is None

    def _invalid(self, message: str, rule: str, **params: Any) -> PayloadInvalid:
        return PayloadInvalid(self.name, message, rule, **params)


@dataclass(frozen=True)
class Text(Field):
    """Text of at most `max_length` characters, stripped; `upper` stores it in capitals."""

    max_length: int = 200
    upper: bool = False
    pattern: str | None = None

    def empty(self, value: Any) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    def check(self, value: Any) -> Any:
        if not isinstance(value, str) or not storable_text(value):  # U+0000 or a lone surrogate: no database keeps it
            raise self._invalid("must be text", "text")
        if len(value) > self.max_length:
            raise self._invalid(f"must be at most {self.max_length} characters", "max_length",
                                max_length=self.max_length)
        value = value.strip()
        if self.upper:
            value = value.upper()
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise self._invalid("is not in the expected form", "pattern")
        return value

    def parse_form(self, text: str) -> Any:
        return text.strip() or None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.pattern:
            out["pattern"] = self.pattern
        return out

    def attrs(self) -> dict[str, Any]:
        return {**super().attrs(), "maxlength": self.max_length}


@dataclass(frozen=True)
class Integer(Field):
    """A whole number from `minimum` to `maximum`."""

    minimum: int = 0
    maximum: int = MAX_INT32

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._invalid("must be a whole number", "integer", minimum=self.minimum, maximum=self.maximum)
        if not self.minimum <= value <= self.maximum:
            raise self._invalid(f"must be between {self.minimum} and {self.maximum}", "range",
                                minimum=self.minimum, maximum=self.maximum)
        return value

    def parse_form(self, text: str) -> Any:
        text = text.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise self._invalid("must be a whole number", "integer", minimum=self.minimum,
                                maximum=self.maximum) from None

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}

    def attrs(self) -> dict[str, Any]:
        return {**super().attrs(), "min": self.minimum, "max": self.maximum, "step": 1}


@dataclass(frozen=True)
class Choice(Field):
    """One of a few fixed words."""

    choices: tuple[str, ...] = ()

    def check(self, value: Any) -> Any:
        if value not in self.choices:
            raise self._invalid(f"must be one of {', '.join(self.choices)}", "choice", choices=self.choices)
        return value

    def parse_form(self, text: str) -> Any:
        return text.strip() or None

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True)
class Digests(Field):
    """A list of at most `max_items` SHA-256 digests (photos, signatures)."""

    max_items: int = 10

    def empty(self, value: Any) -> bool:
        return value is None or value == []

    def check(self, value: Any) -> Any:
        if not isinstance(value, list) or len(value) > self.max_items or not all(
                isinstance(v, str) and _SHA256.match(v) for v in value):
            raise self._invalid(f"must be a list of at most {self.max_items} SHA-256 digests", "digest",
                                max_items=self.max_items)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "maxItems": self.max_items, "items": {"type": "string", "pattern": SHA256_PATTERN}}


@dataclass(frozen=True)
class TextList(Field):
    """A list of 1 to `max_items` distinct texts of at most `max_length` characters each."""

    max_items: int = 20
    max_length: int = 40
    upper: bool = False

    def empty(self, value: Any) -> bool:
        return value is None or value == []

    def check(self, value: Any) -> Any:
        if (not isinstance(value, list) or not 1 <= len(value) <= self.max_items
                or not all(isinstance(v, str) and v.strip() and len(v) <= self.max_length and storable_text(v)
                           for v in value)):
            raise self._invalid(f"must be a list of 1 to {self.max_items} texts of at most {self.max_length} "
                                "characters", "list", max_items=self.max_items, max_length=self.max_length)
        cleaned = [v.strip().upper() if self.upper else v.strip() for v in value]
        if len(set(cleaned)) < len(cleaned):
            raise self._invalid("names an item twice", "list", max_items=self.max_items, max_length=self.max_length)
        return cleaned

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "minItems": 1, "maxItems": self.max_items, "uniqueItems": True,
                "items": {"type": "string", "minLength": 1, "maxLength": self.max_length}}


@dataclass(frozen=True)
class Shape(Field):
    """An object checked by a function of its own (e.g. one of several forms), with its schema given."""

    checker: Callable[[Any], Any] = lambda value: value
    json: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})

    def check(self, value: Any) -> Any:
        try:
            return self.checker(value)
        except (TypeError, ValueError, KeyError) as exc:
            if isinstance(exc, PayloadInvalid):
                raise
            raise self._invalid("is not in the expected form", "shape") from None

    def schema(self) -> dict[str, Any]:
        return dict(self.json)


@dataclass(frozen=True)
class PayloadSpec:
    """The fields of one event type's payload (one version).

    `stored_only` fields are kept as sent but not validated here (e.g. a signer's proof, which
    ingest checks itself). A field the spec does not name is not stored.
    """

    fields: tuple[Field, ...]
    stored_only: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) < len(names):
            raise ValueError(f"a field is declared twice in {names}")

    @property
    def names(self) -> frozenset[str]:
        """Every field a stored payload may keep."""
        return frozenset(f.name for f in self.fields) | frozenset(self.stored_only)

    def field(self, name: str) -> Field:
        """Return the field called `name`."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @staticmethod
    def _one(f: Field, value: Any) -> tuple[bool, Any]:
        """Check one field's value: (present, cleaned value); raise PayloadInvalid."""
        if f.empty(value):
            if f.required:
                raise PayloadInvalid(f.name, "is required", "required")
            return False, None
        return True, f.check(value)

    def validate(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Return the payload cleaned (known fields; optional ones absent when empty), or raise PayloadInvalid."""
        if not isinstance(payload, Mapping):
            raise PayloadInvalid("payload", "must be an object", "shape")
        clean: dict[str, Any] = {}
        for f in self.fields:
            present, value = self._one(f, payload.get(f.name))
            if present:
                clean[f.name] = value
        return clean

    def from_form(self, form: Mapping[str, str], fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the payload a form posted without JavaScript describes, validated.

        `fixed` are values the route sets itself (the bin from the URL, say); the form cannot
        override them. Raise `FormInvalid` with every field that is wrong, not only the first.
        """
        fixed = fixed or {}
        clean: dict[str, Any] = {}
        errors: dict[str, PayloadInvalid] = {}
        for f in self.fields:
            if f.name in fixed:
                value = fixed[f.name]
            elif f.name in form:
                value = form[f.name]
            else:
                value = f.form_default
            try:
                if isinstance(value, str) and f.name not in fixed:
                    value = f.parse_form(value)
                present, value = self._one(f, value)
            except PayloadInvalid as exc:
                errors[f.name] = exc
                continue
            if present:
                clean[f.name] = value
        if errors:
            raise FormInvalid(errors)
        return clean

    def json_schema(self) -> dict[str, Any]:
        """Return the payload's JSON Schema (for the OpenAPI document)."""
        out: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: {**f.schema(), **({"description": f.description} if f.description else {})}
                           for f in self.fields},
        }
        for name in self.stored_only:
            out["properties"].setdefault(name, {"type": "object"})
        required = [f.name for f in self.fields if f.required]
        if required:
            out["required"] = required
        if self.description:
            out["description"] = self.description
        return out

    def attrs(self, name: str) -> dict[str, Any]:
        """Return the HTML attributes stating field `name`'s limits (for templates)."""
        return self.field(name).attrs()


class FormInvalid(PayloadInvalid):
    """A form with one or more wrong fields: `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, PayloadInvalid]):
        first = next(iter(errors.values()))
        super().__init__(first.field, first.message, first.rule, **first.params)
        self.errors = errors


__all__ = ["Choice", "Digests", "Field", "FormInvalid", "Integer", "MAX_SAFE_INTEGER", "PayloadInvalid",
           "PayloadSpec", "Shape", "Text", "TextList"]
