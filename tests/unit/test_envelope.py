"""The event envelope: what a device must send, and what makes two events the same."""

import uuid

import pytest

from sync.envelope import EnvelopeError, parse_envelope, payload_hash, salvage_seq


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


@pytest.mark.parametrize("value,expected", [({"seq": 4}, 4), ({"seq": "4"}, None), ({"seq": 0}, None), ("x", None)])
def test_seq_is_salvaged_from_a_broken_event_only_when_usable(value, expected):
    assert salvage_seq(value) == expected
