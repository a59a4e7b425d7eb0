"""Opening a transfer slip on the bin page without JavaScript, and the slip shell devices sign on offline."""

import re
import uuid

import pytest
from sqlalchemy import select

from sync import schema
from webapp.domain.label_codes import mint
from webapp.extensions import db
from webapp.models import Bin, BinLabel, Location, Product

UUID = re.compile(r"/slips/([0-9a-f-]{36})$")


@pytest.fixture
def route(app, routed_plant):
    """The plant on a route (tests/conftest.py), a housing of the half-shaft's similar-spec group in a bin at
    OP10, and a warehouse."""
    with app.app_context():
        twin = db.session.execute(select(Product).where(Product.code == "HH-01")).scalar_one()
        at_cutting = db.session.execute(select(Location).where(Location.code == "L-OP10")).scalar_one()
        housing = Bin(code=mint(9), product=twin, quantity=30, location=at_cutting)
        db.session.add_all([housing, BinLabel(code=mint(9), bin=housing),
                            Location(code="WH-1", kind="warehouse", name_zh="成品库", name_en="Store")])
        db.session.commit()
    return {**routed_plant, "housing": mint(9)}


def opened_events(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(select(schema.events.c.payload, schema.events.c.actor_id)
                                  .where(schema.events.c.type == "transfer.opened")).all()
        db.session.remove()
    return [row.payload for row in rows]


def post_open(client, auth, code, **form):
    return client.post(f"/b/{code}/transfer", data={"csrf_token": auth.csrf(f"/b/{code}"), **form})


def test_the_bin_page_offers_a_slip_to_the_next_operation_with_the_part_as_the_state_list_names_it(
        client, auth, make_user, route):
    auth.login(make_user("clerk").username)
    bin_page = client.get(f"/b/{route['codes'][0]}").text
    assert f'href="/b/{route["codes"][0]}/transfer" data-action="transfer"' in bin_page
    page = client.get(f"/b/{route['codes'][0]}/transfer").text
    form = re.search(r'<form[^>]*data-slip-opener.*?</form>', page, re.S).group(0)
    assert f'action="/b/{route["codes"][0]}/transfer"' in form
    assert re.search(r'<option value="next" data-operation="OP20"\s+selected>', form)
    assert 'value="op:OP10"' not in form  # where the bin is already
    assert 'value="warehouse"' in form and 'value="waiting"' in form  # the places the plant has
    assert 'name="part"' in form and 'value="状态1"' in form
    # Leaving the route's first operation (cutting): the material's issue slip is asked for (§3.1).
    assert re.search(r'<input name="issue_slip"[^>]*required', form)


def test_only_roles_that_open_slips_see_the_form(client, auth, make_user, route):
    auth.login(make_user("inspector").username)
    assert 'data-action="transfer"' not in client.get(f"/b/{route['codes'][0]}").text
    assert client.get(f"/b/{route['codes'][0]}/transfer").status_code == 403


def test_a_slip_opened_without_javascript_gets_its_id_from_the_server_and_opens_to_be_signed(
        app, client, auth, make_user, route):
    auth.login(make_user("clerk").username)
    code, extra = route["codes"][0], route["codes"][1]
    reply = post_open(client, auth, code, to="next", quantity="100", part="状态1", issue_slip="CK-W1-000007",
                      extra_bins=f" {extra.lower()}, {code} ")
    assert reply.status_code == 303
    tid = UUID.search(reply.headers["Location"]).group(1)
    assert uuid.UUID(tid)
    [payload] = opened_events(app)
    assert payload == {"transfer_id": tid, "bin_codes": [code, extra], "to": {"next": True}, "quantity": 100,
                       "part": "状态1", "issue_slip": "CK-W1-000007"}
    page = client.get(f"/slips/{tid}")
    assert page.status_code == 200 and "Slip opened: now sign it." in page.text
    assert 'data-slip-sign' in page.text and 'data-event-type="transfer.signed"' in page.text


@pytest.mark.parametrize(("to", "meant"), [("op:OP20", {"operation": "OP20"}), ("warehouse", {"area": "warehouse"})])
def test_the_destination_select_says_where_the_slip_goes(app, client, auth, make_user, route, to, meant):
    auth.login(make_user("keeper").username)
    assert post_open(client, auth, route["codes"][0], to=to, quantity="5", issue_slip="CK-1").status_code == 303
    [payload] = opened_events(app)
    assert payload["to"] == meant


def test_a_wrong_form_comes_back_on_the_bin_page_with_what_was_typed_and_nothing_is_recorded(
        app, client, auth, make_user, route):
    auth.login(make_user("clerk").username)
    reply = post_open(client, auth, route["codes"][0], to="", quantity="0", part="状态1", extra_bins="B99")
    assert reply.status_code == 422
    assert 'data-error-for="to"' in reply.text and "Choose where the parts go." in reply.text
    assert 'data-error-for="quantity"' in reply.text and "from 1 to" in reply.text
    assert 'value="B99"' in reply.text  # what was typed stays
    assert opened_events(app) == []


def test_similar_parts_to_one_place_are_flagged_and_the_clerk_told(app, client, auth, make_user, route):
    auth.login(make_user("clerk").username)
    post_open(client, auth, route["codes"][0], to="warehouse", quantity="5", issue_slip="CK-1")
    reply = post_open(client, auth, route["housing"], to="warehouse", quantity="5", issue_slip="CK-2")
    assert reply.status_code == 303
    page = client.get(reply.headers["Location"]).text
    assert "HH-01 and HS-01 are similar parts" in page or "HS-01 and HH-01 are similar parts" in page


def test_a_slip_the_server_has_not_got_yet_shows_the_shell_the_device_fills(client, auth, make_user):
    auth.login(make_user("clerk").username)
    reply = client.get(f"/slips/{uuid.uuid4()}")
    assert reply.status_code == 404
    assert "data-slip-shell" in reply.text and "data-not-on-server" in reply.text
    assert client.get("/slips/not-a-slip").status_code == 404


def test_the_slip_shell_works_offline_for_anyone_signed_in_on_the_device(client):
    shell = client.get("/offline/slip")
    assert shell.status_code == 200
    assert 'data-event-type="transfer.signed"' in shell.text and 'data-event-type="transfer.refused"' in shell.text
    assert "data-signature-pad" in shell.text and "data-signer" in shell.text
    assert '"/offline/slip"' in client.get("/sw.js").text
    assert "data-slip-opener" in client.get("/offline/bin").text
