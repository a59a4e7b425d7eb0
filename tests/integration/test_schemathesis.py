"""Schemathesis against the API as its OpenAPI document describes it (/api/v1/openapi.json): signed in, with a
registered device, every operation answers anything but a server error, for valid and invalid requests alike."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.bounded import memory_headroom

# A resumable upload's chunk is plain bytes under the tus media type.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

EXAMPLES = 25  # per operation and generation mode: 11 operations x 2 modes x 25 = 550 requests
QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much,
         HealthCheck.data_too_large]


@pytest.fixture
def api(app, auth, signed_in_device, plant):
    """The loaded schema, the device, and how to authenticate: its bearer token, or the session (registration)."""
    device = signed_in_device("office")  # may sync and read the event log: every operation gets past 403
    session = {"cookies": {"session": device.client.get_cookie("session").value},
               "headers": {"X-CSRFToken": auth.csrf("/scan")}}
    bearer = {"cookies": {}, "headers": device.headers}
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), device, {"session": session,
                                                                                  "bearer": bearer}


def as_this_device(case, device_id: str) -> None:
    """Name the registered device in a push (another id is refused with 403 before any event is read)."""
    if isinstance(case.body, dict) and "device_id" in case.body:
        case.body["device_id"] = device_id
        for event in case.body.get("events") if isinstance(case.body.get("events"), list) else []:
            if isinstance(event, dict) and "device_id" in event:
                event["device_id"] = device_id


def run(operation, mode: GenerationMode, how: dict, device_id: str, ran: Counter) -> None:
    """Call one operation with EXAMPLES generated cases; fail on any 5xx (or exception the app raises)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=QUIET)
    def call(case):
        if operation.label == "POST /api/v1/sync/push":
            as_this_device(case, device_id)
        with memory_headroom(512):
            response = case.call(headers=how["headers"], cookies=how["cookies"])
        case.validate_response(response, checks=[not_a_server_error])
        ran[operation.label, mode.value, response.status_code] += 1

    call()


def test_no_operation_answers_a_server_error(api):
    schema, device, credentials = api
    ran: Counter[tuple[str, str, int]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11
    for operation in operations:
        # A device registers from a signed-in session; everything else is called with its token.
        how = credentials["session" if operation.label == "POST /api/v1/devices" else "bearer"]
        for mode in GenerationMode:
            run(operation, mode, how, device.id, ran)
    print(f"\nschemathesis: {sum(ran.values())} cases, 0 server errors")
    for (label, mode, status), n in sorted(ran.items()):
        print(f"  {label} {mode} -> {status}: {n}")
    # Every operation was reached past authentication at least once (neither 401 nor 403).
    for op in operations:
        assert any(n for (label, _, status), n in ran.items() if label == op.label and status not in (401, 403)), op
