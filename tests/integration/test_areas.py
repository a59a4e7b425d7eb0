"""One pattern for every event type: each area's types reach validation, forms, templates, OpenAPI and the log."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from sync import schema
from webapp.areas import AREAS, FLAGS, KINDS, registry
from webapp.domain.counting import MAX_QUANTITY
from webapp.extensions import db


def test_every_registered_type_has_a_spec_a_partial_and_a_name(app):
    assert set(registry.names()) == set(KINDS) and KINDS
    loader = app.jinja_env
    for name, kind in KINDS.items():
        assert kind.type.spec is not None, name
        loader.get_template(kind.template)  # exists
        with app.test_request_context():
            assert str(kind.label) and str(kind.label) != name
    for flag in FLAGS.values():
        if flag.template:
            loader.get_template(flag.template)
    assert len(AREAS) >= 4


def test_the_openapi_document_has_each_types_payload_as_its_spec_says(client):
    doc = client.get("/api/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    for name in registry.names():
        event_type = registry.get(name)
        for v, spec in event_type.specs().items():
            expected = spec.json_schema()
            if "signer" in expected["properties"]:
                expected["properties"]["signer"] = {"$ref": "#/components/schemas/Signer"}
            assert schemas[f"Payload.{name}.v{v}"] == expected
            assert {"$ref": f"#/components/schemas/Event.{name}.v{v}"} in (
                doc["paths"]["/api/v1/sync/push"]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["properties"]["events"]["items"]["anyOf"])
    assert schemas["Payload.bin.counted.v2"]["properties"]["quantity"]["maximum"] == MAX_QUANTITY


def _stored(app) -> int:
    with app.app_context():
        n = db.session.execute(select(func.count()).select_from(schema.events)).scalar()
        db.session.remove()
    return n


def test_a_count_over_the_limit_is_a_clear_error_and_the_page_keeps_both_forms(app, client, auth, make_user, plant):
    auth.login(make_user("clerk").username)
    code = plant["codes"][0]
    page = client.get(f"/b/{code}").text
    assert re.search(r'name="quantity"[^>]*max="1000000"', page)  # the limit on the input is the spec's
    reply = client.post(f"/b/{code}/count", data={"quantity": str(MAX_QUANTITY + 1), "note": "stacked high",
                                                   "csrf_token": auth.csrf(f"/b/{code}")})
    assert reply.status_code == 422
    assert "Enter the number of pieces, from 0 to 1,000,000." in reply.text
    assert 'data-error-for="quantity"' in reply.text and 'value="1000001"' in reply.text  # what was typed
    assert "stacked high" in reply.text
    assert 'id="move-form"' in reply.text  # the other form of the page is still there
    assert _stored(app) == 0  # nothing kept for review: it was never a record


def test_a_move_without_a_destination_says_so_and_keeps_the_count_form(app, client, auth, make_user, plant):
    auth.login(make_user("clerk").username)
    code = plant["codes"][0]
    reply = client.post(f"/b/{code}/move", data={"to_location": "", "seen_version": "0", "quantity": "-3",
                                                  "csrf_token": auth.csrf(f"/b/{code}")})
    assert reply.status_code == 422
    assert "Choose where the bin goes." in reply.text and "from 0 to 1,000,000" in reply.text
    assert 'id="count-form"' in reply.text
    unknown = client.post(f"/b/{code}/move", data={"to_location": "NOWHERE", "seen_version": "0",
                                                    "csrf_token": auth.csrf(f"/b/{code}")})
    assert unknown.status_code == 422 and "Choose where the bin goes." in unknown.text
    assert _stored(app) == 0


def test_the_form_errors_speak_chinese(client, auth, make_user, plant):
    auth.login(make_user("clerk").username)
    client.post("/language", data={"locale": "zh_CN", "csrf_token": auth.csrf("/scan")})
    code = plant["codes"][0]
    reply = client.post(f"/b/{code}/move", data={"to_location": "", "seen_version": "0",
                                                  "csrf_token": auth.csrf(f"/b/{code}")})
    assert reply.status_code == 422 and "Choose where the bin goes." not in reply.text


def test_records_and_flags_show_through_their_partials(client, auth, make_user, plant, signed_in_device):
    device = signed_in_device("clerk")
    code = plant["codes"][0]
    device.push([device.event("bin.counted", {"bin_code": code, "quantity": 30, "unit": "pcs", "note": "first"}, v=2),
                 device.event("bin.counted", {"bin_code": code, "quantity": 31, "unit": "pcs"}, v=2)])
    page = client.get(f"/b/{code}").text
    assert "<strong>30</strong> · first" in page and "<strong>31</strong>" in page
    assert 'data-flag="count_discrepancy"' in page and "Count differs from a recent count" in page
    auth.login(make_user("office").username)
    review = client.get("/office/review").text
    assert "Earlier count" in review and "<strong>30</strong>" in review and "This count" in review
    assert "Count differs from a recent count" in client.get("/office/events").text


def test_hostile_form_values_get_a_clear_422_and_record_nothing(app, client, auth, make_user, plant):
    auth.login(make_user("clerk").username)
    code = plant["codes"][0]
    for form, field in (({"quantity": "5", "note": "bad\x00note"}, "note"),
                        ({"quantity": "9" * 5000}, "quantity"),
                        ({"quantity": "1e3"}, "quantity"),
                        ({"quantity": "5", "unit": "tonnes"}, "unit")):
        reply = client.post(f"/b/{code}/count", data={**form, "csrf_token": auth.csrf(f"/b/{code}")})
        assert reply.status_code == 422 and f'data-error-for="{field}"' in reply.text, form
    moved = client.post(f"/b/{code}/move", data={"to_location": "L-OP20\x00", "seen_version": "x" * 50,
                                                  "csrf_token": auth.csrf(f"/b/{code}")})
    assert moved.status_code == 422 and 'data-error-for="seen_version"' in moved.text
    auth.logout()
    auth.login(make_user("office").username)
    closed = client.post("/office/review/1/resolve", data={"note": "ok\x00", "csrf_token": auth.csrf("/office/review")})
    assert closed.status_code == 422
    assert _stored(app) == 0
