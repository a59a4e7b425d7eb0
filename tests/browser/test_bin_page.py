"""What a scan opens, offline, from the data pulled onto the device: the bin, its open work, the role's actions."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.phone import Phone
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser

# The demo plant has slip ZX-09001 open on bin 1 and a final inspection open on bin 3.
SLIP_BIN, INSPECTED_BIN, QUIET_BIN = mint(1), mint(3), mint(12)


def pulled_onto_a_phone(phone, username: str) -> Phone:
    """`username` signs in on a new page of `phone`, ready offline, and pulls the plant onto the device."""
    person = Phone(phone.new_page())
    person.ready_offline(username=username)
    person.pull("bins", "locations", "transfers", "inspections")
    return person


def test_offline_a_bin_page_lists_open_slips_and_inspections_from_pulled_data(phone, server):
    page = pulled_onto_a_phone(phone, "clerk").page
    server.stop()

    page.goto(f"/b/{SLIP_BIN}")  # never opened online: the worker's shell, filled from the device
    expect(page.locator("[data-offline-bin] h1")).to_contain_text(SLIP_BIN)
    slips = page.locator("[data-open-transfers] li")
    expect(slips).to_have_count(1)
    expect(slips).to_contain_text("Slip ZX-09001")
    expect(slips).to_contain_text("To the next operation")
    expect(slips).to_contain_text("station →")  # from one station to the next, by name
    expect(slips).to_contain_text(re.compile(r"station, \d+ pcs$"))  # how many pieces the slip carries
    expect(page.locator("[data-open-none]")).to_be_hidden()
    # A clerk counts and moves: both actions are offered as large buttons.
    for action in ("count", "move", "scan"):
        button = page.locator(f".bin-actions [data-action={action}]")
        expect(button).to_be_visible()
        assert button.bounding_box()["height"] >= 48

    page.goto(f"/b/{INSPECTED_BIN}")
    inspections = page.locator("[data-open-inspections] li")
    expect(inspections).to_have_count(1)
    expect(inspections).to_contain_text("Final inspection (AQL sampling)")
    expect(inspections).to_contain_text("sample 20 of 120, AQL 2.5")

    page.goto(f"/b/{QUIET_BIN}")
    expect(page.locator("[data-offline-bin] h1")).to_contain_text(QUIET_BIN)
    expect(page.locator("[data-open-none]")).to_be_visible()
    expect(page.locator("[data-open-transfers] li")).to_have_count(0)


def test_offline_a_receiver_is_offered_neither_count_nor_move(phone, server):
    page = pulled_onto_a_phone(phone, "receiver").page
    server.stop()
    page.goto(f"/b/{SLIP_BIN}")
    expect(page.locator("[data-open-transfers] li")).to_have_count(1)
    expect(page.locator(".bin-actions [data-action=scan]")).to_be_visible()
    # Receivers neither count nor move bins: the shell offers neither, as the server's page does not.
    expect(page.locator(".bin-actions [data-action=move]")).to_be_hidden()
    expect(page.locator(".bin-actions [data-action=count]")).to_be_hidden()
    expect(page.locator("[data-move-section]")).to_be_hidden()
    expect(page.locator("[data-count-section]")).to_be_hidden()
