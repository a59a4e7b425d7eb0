"""Property-based fuzz of the push endpoint and of the office import (issue 13, hole 3).

Bodies mix well-formed events made by the `Device` helper with arbitrary JSON, huge and odd
numbers, text with lone surrogates and U+0000, tokens Python's parser turns into infinity, and
nesting thousands of levels deep (written as text, never built by recursion). Whatever arrives,
the server never answers 5xx: every event of a request is answered `stored`, `duplicate` or
`quarantined`, or the request is refused as a whole with a 4xx.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.bounded import memory_headroom
from tests.integration.test_import import upload

ANSWERS = {"stored", "duplicate", "quarantined"}
QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
         HealthCheck.large_base_example]
# No shrinking: a failing body is reported as found (and replayed first next time, from .hypothesis/); shrinking
# one through requests that each run the app took over five minutes when this fuzz found the holes it guards.
FOUND = [Phase.explicit, Phase.reuse, Phase.generate]

# JSON text no Python value serialises to: written into the body in place of a marker string. The first
# three are not JSON a server must take (the whole push is refused); the rest are, and end in events.
RAW = ["NaN", "Infinity", "1" * 5000, "1e400", "-1e400", "-0", "1E+2", "0.1e-400", '"\\ud800"',
       '"\\udfff\\u0000"', '"\\ud83d\\ude00"', "[]", "{}"]
MARKER = re.compile(r'"@@(raw|deep|deepobj):(\d+)@@"')


def raw(index: int) -> str:
    return f"@@raw:{index}@@"


def deep(levels: int, kind: str = "deep") -> str:
    return f"@@{kind}:{levels}@@"


def as_text(value) -> bytes:
    """Serialise a drawn value as the device would (ASCII JSON), then put the raw snippets in."""
    def snippet(match: re.Match) -> str:
        kind, n = match.group(1), int(match.group(2))
        if kind == "raw":
            return RAW[n]
        if kind == "deep":
            return "[" * n + "]" * n
        return '{"a":' * n + "null" + "}" * n
    return MARKER.sub(snippet, json.dumps(value, ensure_ascii=True)).encode()


ODD_INTS = st.one_of(
    st.integers(min_value=-5, max_value=60),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64 + 1, -(2**63) - 1, 10**30,
                     1_000_001, 3_000_000]),
    st.integers(min_value=-(2**80), max_value=2**80),
)
ODD_TEXT = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Co", "Lo"]), max_size=8),  # surrogates, controls
    st.sampled_from(["\ud800", "\udfff", "a\ud83d", "\x00", "", " ", "bin.counted", "bin.moved", "B00001Z",
                     "x" * 300, "Bin.Counted", "bin.counted\ud800", str(uuid.UUID(int=0))]),
)
HOSTILE = st.one_of(
    st.integers(min_value=3, max_value=len(RAW) - 1).map(raw),  # quarantined if anything
    st.integers(min_value=20, max_value=60).map(deep),  # an event nested too deep: quarantined
    st.integers(min_value=20, max_value=60).map(lambda n: deep(n, "deepobj")),
)
REFUSED = st.one_of(  # anywhere in a body, these refuse the whole push
    st.integers(min_value=0, max_value=2).map(raw),
    st.integers(min_value=65, max_value=5000).map(deep),
    st.integers(min_value=65, max_value=5000).map(lambda n: deep(n, "deepobj")),
)
SCALARS = st.one_of(st.none(), st.booleans(), ODD_INTS, ODD_TEXT, st.floats(allow_nan=False, allow_infinity=False),
                    HOSTILE)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
                    max_leaves=10)
FIELDS = ["id", "device_id", "seq", "type", "v", "occurred_at", "actor_id", "payload", "attachments"]
ODD_FIELD = st.one_of(ODD_INTS, ODD_TEXT, JSON)


def payloads(codes: list[str]):
    """Payloads of the floor's event types, good and nearly good."""
    count = st.fixed_dictionaries(
        {"bin_code": st.sampled_from(codes), "quantity": st.integers(min_value=0, max_value=2000),
         "unit": st.sampled_from(["pcs", "kg"])},
        optional={"note": ODD_TEXT, "photos": st.lists(st.sampled_from(["a" * 64, "0" * 64]), max_size=2)})
    move = st.fixed_dictionaries(
        {"bin_code": st.sampled_from(codes), "to_location": st.sampled_from(["L-OP10", "L-OP20", "L-NOWHERE"]),
         "seen_location": st.sampled_from(["L-OP10", "L-OP20", None]), "seen_version": st.integers(0, 5)},
        optional={"quantity": ODD_INTS, "note": ODD_TEXT})
    return st.one_of(st.tuples(st.just("bin.counted"), st.sampled_from([1, 2]), count),
                     st.tuples(st.just("bin.moved"), st.just(1), move),
                     st.tuples(st.sampled_from(["exception.resolved", "bin.teleported"]), st.just(1),
                               st.dictionaries(ODD_TEXT, JSON, max_size=3)))


def recipes(codes: list[str]):
    """How to make one event: well formed, well formed with one field odd or missing, again, or any JSON."""
    good = payloads(codes).map(lambda p: ("good", *p))
    mutated = st.tuples(st.just("mutate"), payloads(codes), st.sampled_from(FIELDS),
                        st.one_of(st.just("<missing>"), ODD_FIELD))
    again = st.tuples(st.just("again"), st.integers(min_value=0, max_value=50), st.booleans())
    return st.one_of(good, mutated, again, JSON.map(lambda v: ("json", v)))


def make_event(recipe, device, sent: list[dict]):
    """Turn a recipe into an event with the `Device` helper (which numbers it with the device's next seq)."""
    kind = recipe[0]
    if kind == "good":
        _, type_, v, payload = recipe
        event = device.event(type_, dict(payload), v=v)
    elif kind == "mutate":
        _, (type_, v, payload), field, value = recipe
        event = device.event(type_, dict(payload), v=v)
        if value == "<missing>":
            event.pop(field)
        else:
            event[field] = value
    elif kind == "again" and sent:
        # The same event again (duplicate), or its id with other content (id_collision).
        _, index, changed = recipe
        event = dict(sent[index % len(sent)])
        if changed:
            event["payload"] = {"bin_code": "B00001Z", "quantity": index, "unit": "pcs"}
    elif kind == "again":
        event = device.event()
    else:
        return recipe[1]
    sent.append(event)
    return event


def weighted(**choices):
    """Pick a strategy by weight (name=(weight, strategy)); hypothesis's one_of weighs its branches evenly at best."""
    names = [name for name, (weight, _) in choices.items() for _ in range(weight)]
    return st.sampled_from(names).flatmap(lambda name: choices[name][1])


def body_recipes(codes: list[str]):
    """A push body: the contract's shape with odd parts (mostly), or anything at all."""
    extras = st.fixed_dictionaries({}, optional={
        "build": st.one_of(ODD_TEXT, JSON), "sent_at": st.one_of(ODD_INTS, JSON), "pending": st.one_of(ODD_INTS, JSON)})
    return weighted(
        shaped=(12, st.tuples(st.just("shaped"), st.lists(recipes(codes), max_size=6), extras)),
        other_device=(1, st.tuples(st.just("other_device"), st.lists(recipes(codes), max_size=2),
                                   st.one_of(ODD_TEXT, JSON))),
        refused=(2, st.tuples(st.just("refused"), st.lists(recipes(codes), max_size=2), REFUSED)),
        json=(2, st.tuples(st.just("json"), JSON)),
        bytes=(1, st.tuples(st.just("bytes"), st.binary(max_size=64))),
        too_many=(1, st.tuples(st.just("too_many"), st.integers(min_value=201, max_value=210))),
    )


def check_answer(reply, events: list | None, answers: Counter) -> None:
    assert reply.status_code < 500, reply.text
    if reply.status_code == 200:
        assert events is not None, reply.text
        results = reply.json["results"]
        assert len(results) == len(events)
        assert {r["status"] for r in results} <= ANSWERS, results
        answers.update(r["status"] for r in results)
    else:
        assert 400 <= reply.status_code < 500, reply.text
        assert reply.is_json and reply.json["error"], reply.text


@pytest.fixture
def device(signed_in_device, plant):
    return signed_in_device("clerk")


def test_no_push_answers_a_server_error(device, plant):
    sent: list[dict] = []
    seen: Counter[int] = Counter()
    answers: Counter[str] = Counter()

    @settings(max_examples=500, deadline=None, suppress_health_check=QUIET, phases=FOUND)
    @given(recipe=body_recipes(plant["codes"]))
    def push(recipe):
        kind = recipe[0]
        events = None
        content_type = "application/json"
        if kind == "shaped":
            _, event_recipes, extras = recipe
            events = [make_event(r, device, sent) for r in event_recipes]
            body = as_text({"device_id": device.id, "build": "fuzz", **extras, "events": events})
        elif kind in ("other_device", "refused"):  # refused whole: 403 for another device's id, 400 for bad JSON
            _, event_recipes, odd = recipe
            events = [make_event(r, device, sent) for r in event_recipes]
            body = as_text({"device_id": odd if kind == "other_device" else device.id, "events": events,
                            "odd": odd})
        elif kind == "json":
            body = as_text(recipe[1])
            if isinstance(recipe[1], dict) and isinstance(recipe[1].get("events"), list):
                events = recipe[1]["events"]
        elif kind == "bytes":
            body, content_type = recipe[1], "application/json"
        else:
            body = as_text({"device_id": device.id, "events": [None] * recipe[1]})
        with memory_headroom(512):
            reply = device.client.post("/api/v1/sync/push", data=body, content_type=content_type,
                                       headers=device.headers)
        # A body the server cannot take as JSON is refused whole; a shaped one is answered event by event.
        check_answer(reply, events, answers)
        seen[reply.status_code] += 1

    started = time.monotonic()
    push()
    print(f"\npush fuzz: {seen.total()} requests in {time.monotonic() - started:.1f}s, statuses {dict(seen)}, "
          f"events {dict(answers)}")
    assert seen[200] and seen[400] and answers["stored"] and answers["quarantined"] and answers["duplicate"]


def export(device_id, events, attachments, **extra) -> dict:
    return {"format": "shopfloor-outbox", "version": 1, "exported_at": 1, "device_id": device_id, "build": "fuzz",
            "events": events, "attachments": attachments, **extra}


ATTACHMENTS = st.lists(st.one_of(
    st.fixed_dictionaries({"sha256": st.one_of(st.just("a" * 64), ODD_TEXT),
                           "data_base64": st.one_of(st.just("aGk="), ODD_TEXT, ODD_INTS, JSON)},
                          optional={"mime": ODD_TEXT}),
    JSON), max_size=3)


def import_recipes(codes: list[str]):
    """An exported outbox with odd parts (mostly), or a file that is not one."""
    whose = weighted(device=(6, st.just("device")), unseen=(2, st.just("unseen")), odd=(1, st.one_of(ODD_TEXT, JSON)))
    extra = weighted(none=(6, st.just({})), odd=(1, st.dictionaries(
        st.sampled_from(["user", "exported_at", "build", "format", "version"]), JSON, max_size=2)))
    return weighted(
        shaped=(8, st.tuples(st.just("shaped"), st.lists(recipes(codes), max_size=5), ATTACHMENTS, whose, extra)),
        refused=(1, REFUSED.map(lambda odd: ("refused", odd))),
        json=(1, st.tuples(st.just("json"), JSON)),
        bytes=(1, st.tuples(st.just("bytes"), st.binary(max_size=64))),
    )


def test_no_import_answers_a_server_error(client, auth, make_user, device, plant):
    auth.logout()
    auth.login(make_user("office").username)
    sent: list[dict] = []
    seen: Counter[int] = Counter()

    @settings(max_examples=150, deadline=None, suppress_health_check=QUIET, phases=FOUND)
    @given(recipe=import_recipes(plant["codes"]))
    def import_file(recipe):
        kind = recipe[0]
        events = None
        if kind == "shaped":
            _, event_recipes, attachments, whose, extra = recipe
            events = [make_event(r, device, sent) for r in event_recipes]
            device_id = {"device": device.id, "unseen": str(uuid.uuid4())}.get(whose, whose) \
                if isinstance(whose, str) else whose
            raw_file = as_text(export(device_id, events, attachments, **extra))
        elif kind == "refused":
            raw_file = as_text(export(device.id, [recipe[1]], []))
        elif kind == "json":
            raw_file = as_text(recipe[1])
        else:
            raw_file = recipe[1]
        with memory_headroom(512):
            page = upload(client, auth, raw_file)
        assert page.status_code in (200, 422), page.text
        seen[page.status_code] += 1
        if page.status_code == 200 and events is not None:
            counts = [int(n) for n in re.findall(r"data-(?:stored|duplicate|quarantined)>(\d+)<", page.text)]
            assert sum(counts) == len(events), page.text
        elif page.status_code == 422:
            assert "Nothing was imported" in page.text

    started = time.monotonic()
    import_file()
    print(f"\nimport fuzz: {seen.total()} files in {time.monotonic() - started:.1f}s, statuses {dict(seen)}")
    assert seen[200] and seen[422]
