"""Payload specs (sync/spec.py): one declaration gives validation, form parsing, limits and JSON Schema."""

import pytest

from sync.spec import Choice, Digests, FormInvalid, Integer, PayloadInvalid, PayloadSpec, Text, TextList

SPEC = PayloadSpec((
    Text("code", required=True, max_length=8, upper=True),
    Integer("pieces", required=True, maximum=1000),
    Choice("unit", required=True, choices=("pcs", "kg"), form_default="pcs"),
    Text("note", max_length=5),
    Digests("photos", max_items=2),
), stored_only=("signer",))


def test_a_valid_payload_is_cleaned_and_optional_empties_left_out():
    clean = SPEC.validate({"code": " b1 ", "pieces": 3, "unit": "kg", "note": " ", "photos": [], "junk": 1})
    assert clean == {"code": "B1", "pieces": 3, "unit": "kg"}


@pytest.mark.parametrize(("payload", "field", "rule"), [
    ({"pieces": 1, "unit": "pcs"}, "code", "required"),
    ({"code": 5, "pieces": 1, "unit": "pcs"}, "code", "text"),
    ({"code": "x" * 9, "pieces": 1, "unit": "pcs"}, "code", "max_length"),
    ({"code": "A", "pieces": 1001, "unit": "pcs"}, "pieces", "range"),
    ({"code": "A", "pieces": -1, "unit": "pcs"}, "pieces", "range"),
    ({"code": "A", "pieces": True, "unit": "pcs"}, "pieces", "integer"),
    ({"code": "A", "pieces": 1.5, "unit": "pcs"}, "pieces", "integer"),
    ({"code": "A", "pieces": 1, "unit": "box"}, "unit", "choice"),
    ({"code": "A", "pieces": 1, "unit": "pcs", "photos": ["nope"]}, "photos", "digest"),
    ({"code": "A", "pieces": 1, "unit": "pcs", "photos": ["a" * 64] * 3}, "photos", "digest"),
])
def test_each_broken_rule_names_its_field_and_rule(payload, field, rule):
    with pytest.raises(PayloadInvalid) as caught:
        SPEC.validate(payload)
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_a_form_reports_every_wrong_field_at_once_and_cannot_override_fixed_values():
    with pytest.raises(FormInvalid) as caught:
        SPEC.from_form({"code": "EVIL", "pieces": "lots", "note": "too long"}, fixed={"code": "B1"})
    assert set(caught.value.errors) == {"pieces", "note"}
    assert caught.value.errors["pieces"].rule == "integer"
    clean = SPEC.from_form({"code": "EVIL", "pieces": " 12 ", "note": ""}, fixed={"code": "b1"})
    assert clean == {"code": "B1", "pieces": 12, "unit": "pcs"}  # the form's unit default, the route's code


def test_limits_for_templates_and_json_schema_come_from_the_same_fields():
    assert SPEC.attrs("pieces") == {"required": True, "min": 0, "max": 1000, "step": 1}
    assert SPEC.attrs("note") == {"maxlength": 5}
    schema = SPEC.json_schema()
    assert schema["required"] == ["code", "pieces", "unit"]
    assert schema["properties"]["pieces"] == {"type": "integer", "minimum": 0, "maximum": 1000}
    assert schema["properties"]["unit"]["enum"] == ["pcs", "kg"]
    assert "signer" in schema["properties"] and SPEC.names >= {"signer", "code"}


def test_a_text_list_refuses_repeats_and_a_field_cannot_be_declared_twice():
    spec = PayloadSpec((TextList("bins", required=True, max_items=3, upper=True),))
    assert spec.validate({"bins": ["b1", "b2"]}) == {"bins": ["B1", "B2"]}
    for bad in (["b1", "B1"], [], ["a"] * 4, [""]):
        with pytest.raises(PayloadInvalid):
            spec.validate({"bins": bad})
    with pytest.raises(ValueError):
        PayloadSpec((Text("a"), Integer("a")))
