"""The event envelope: what a device must send, and what makes two events the same."""

import json
import uuid

import pytest

from sync.envelope import (
    MAX_EVENT_DEPTH, MAX_INT32, MAX_SAFE_INTEGER, EnvelopeError, parse_envelope, payload_hash, salvage_id, salvage_seq,
)


def raw(**over):
    event = {"id": str(uuid.uuid4()), "device_id": str(uuid.uuid4()), "seq": 1, "type": "bin.counted", "v": 1,
             "occurred_at": 1_790_000_000_000, "actor_id": 3, "payload": {"bin_code": "B00001X", "quantity": 5},
             "attachments": []}
    event.update(over)
    return event


def test_a_well_formed_event_parses():
    env = parse_envelope(raw())
    assert env.seq == 1 and env.type == "bin.counted" and env.payload["quantity"] == 5


@pytest.mark.parametrize("field,value", [
    ("id", "not-a-uuid"), ("id", None), ("device_id", 7), ("seq", 0), ("seq", "1"), ("seq", True),
    ("type", "counted"), ("type", "Bin.Counted"), ("v", 0), ("occurred_at", -1), ("actor_id", 0), ("actor_id", "3"),
    ("payload", []), ("attachments", ["abc"]), ("attachments", "x"),
])
def test_a_malformed_field_is_named(field, value):
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(raw(**{field: value}))
    assert caught.value.field == field


def test_not_an_object_is_refused():
    with pytest.raises(EnvelopeError):
        parse_envelope(["a list"])


def test_the_hash_ignores_key_order_but_not_content():
    a = raw()
    b = dict(reversed(list(a.items())))
    b["payload"] = dict(reversed(list(a["payload"].items())))
    assert payload_hash(parse_envelope(a)) == payload_hash(parse_envelope(b))
    c = dict(a, payload={"bin_code": "B00001X", "quantity": 6})
    assert payload_hash(parse_envelope(a)) != payload_hash(parse_envelope(c))


def test_uuid_case_does_not_make_a_different_event():
    a = raw()
    upper = dict(a, id=a["id"].upper())
    assert parse_envelope(upper).id == a["id"]
    assert payload_hash(parse_envelope(upper)) == payload_hash(parse_envelope(a))


@pytest.mark.parametrize("value,expected", [
    ({"seq": 4}, 4), ({"seq": "4"}, None), ({"seq": 0}, None), ("x", None), ({"seq": True}, None),
    ({"seq": MAX_SAFE_INTEGER}, MAX_SAFE_INTEGER), ({"seq": MAX_SAFE_INTEGER + 1}, None), ({"seq": 2**64}, None),
])
def test_seq_is_salvaged_from_a_broken_event_only_when_usable(value, expected):
    assert salvage_seq(value) == expected


@pytest.mark.parametrize("value,expected", [
    ({"id": "abc"}, "abc"), ({"id": "x" * 64}, "x" * 64), ({"id": "x" * 65}, None), ({"id": "a\ud800"}, None),
    ({"id": "a\x00b"}, None), ({"id": 7}, None), (["id"], None),
])
def test_an_id_is_salvaged_only_when_the_database_can_keep_it(value, expected):
    assert salvage_id(value) == expected


@pytest.mark.parametrize("field,limit", [
    ("seq", MAX_SAFE_INTEGER), ("occurred_at", MAX_SAFE_INTEGER), ("v", MAX_INT32), ("actor_id", MAX_INT32),
])
def test_integers_are_bounded_by_what_the_database_and_javascript_hold(field, limit):
    assert getattr(parse_envelope(raw(**{field: limit})), field) == limit
    for too_big in (limit + 1, 2**63 - 1, 2**63, 2**64 + 1, 10**400):
        with pytest.raises(EnvelopeError) as caught:
            parse_envelope(raw(**{field: too_big}))
        assert caught.value.field == field


@pytest.mark.parametrize("where", [
    {"type": "bin.counted\ud800"},
    {"payload": {"bin_code": "B00001X", "quantity": 5, "note": "a \udfff b"}},
    {"payload": {"bin_code": "B00001X", "quantity": 5, "\ud800": 1}},
    {"payload": {"bin_code": "B00001X", "quantity": 5, "notes": [{"text": "\ud83d"}]}},
    {"payload": {"bin_code": "B00001X", "quantity": 5, "note": "nul \x00 in text"}},
    {"device_id": "\ud800"},
    {"\ud800extra": 1},
])
def test_text_no_database_can_keep_is_refused_anywhere_in_the_event(where):
    with pytest.raises(EnvelopeError):
        parse_envelope(raw(**where))


def test_a_surrogate_pair_in_json_is_ordinary_text():
    payload = json.loads('{"note": "\\ud83d\\ude00 \\u597d"}')  # JSON's escapes for an emoji and 好
    assert parse_envelope(raw(payload=payload)).payload["note"] == "\U0001f600 好"


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**64, float("inf"), float("-inf"), float("nan")])
def test_numbers_the_device_cannot_hold_are_refused_inside_the_payload(value):
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(raw(payload={"bin_code": "B00001X", "quantity": 5, "extra": [{"deep": value}]}))
    assert caught.value.field == "payload"


def nest(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def test_nesting_is_bounded_and_walked_without_recursion():
    # The event is level 1 and its payload level 2: a payload of MAX_EVENT_DEPTH - 1 levels just fits.
    assert parse_envelope(raw(payload=nest(MAX_EVENT_DEPTH - 2)))
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(raw(payload=nest(MAX_EVENT_DEPTH - 1)))
    assert caught.value.field == "payload"
    with pytest.raises(EnvelopeError):
        parse_envelope(raw(payload=nest(100_000)))  # recursion would overflow the stack long before
