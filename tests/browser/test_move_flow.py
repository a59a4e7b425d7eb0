"""Moving a bin in a real Chromium: online, offline across a server outage, and from the offline bin shell."""

import pytest
from playwright.sync_api import expect

from tests.browser.phone import PHONE, Phone
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser

WAITING = ("WAIT-W2", "Machining waiting area")
STORE = ("WH-FG", "Finished goods store")


def where(page):
    return page.locator(".facts dt:has-text('Where') + dd")


def destination_for(page) -> tuple[str, str]:
    """A place the bin is not at (the form does not offer where it already is), once the form records on the device."""
    page.wait_for_selector("#move-form[data-offline-form-ready]", state="attached")
    offered = page.locator("#move-form select[name=to_location] option").evaluate_all("els => els.map(e => e.value)")
    return WAITING if WAITING[0] in offered else STORE


def test_a_clerk_moves_a_bin_online(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    clerk.sign_in("clerk")
    code = mint(7)
    clerk.open_bin(code)
    to, name = destination_for(page)
    clerk.save_move(to)
    expect(clerk.move_status).to_have_attribute("data-state", "synced")
    expect(clerk.unsynced).to_have_text("0")

    page.reload()
    expect(where(page)).to_have_text(name)
    expect(page.locator("#move-form input[name=seen_location]")).to_have_value(to)
    [stored] = office.events(code=code, type="bin.moved")
    assert stored["actor"] == "clerk" and stored["exceptions"] == []
    assert stored["payload"]["to_location"] == to and stored["payload"]["seen_version"] >= 1


def test_the_move_form_has_big_targets(phone, server):
    keeper = Phone(phone.new_page())
    keeper.sign_in("keeper")
    keeper.open_bin(mint(3))
    assert keeper.scroll_width() <= PHONE["width"]
    assert keeper.small_targets("#move-form :is(select, input, button)") == 0


def test_a_move_made_offline_syncs_once_and_the_office_sees_it(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(11)
    clerk.ready_offline(code)  # signed in, the bin page cached by the worker, online
    to, name = destination_for(page)

    server.stop()
    clerk.save_move(to, quantity=20)
    expect(clerk.move_status).to_have_attribute("data-state", "saved")
    expect(clerk.unsynced).to_have_text("1")
    expect(clerk.pending(code)).to_contain_text(f"→ {to}")
    # the device now believes the bin is where it took it
    expect(page.locator("#move-form input[name=seen_location]")).to_have_value(to)

    server.start()
    clerk.sync_now()
    expect(clerk.unsynced).to_have_text("0")
    [stored] = office.events(code=code, type="bin.moved")
    assert stored["payload"]["quantity"] == 20 and stored["exceptions"] == []
    rows = office.get("/office/bins", params={"q": code}).text
    assert name in rows


def test_the_offline_bin_shell_offers_the_move_with_pulled_places(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    clerk.ready_offline()  # on the scan page
    clerk.pull("locations")  # the plant, onto the device
    expect(clerk.connection).to_have_attribute("data-state", "online")

    code = mint(12)  # never opened online: the worker serves the shell
    server.stop()
    clerk.open_bin(code)
    expect(page.locator("[data-offline-bin] h1")).to_contain_text(code)
    section = page.locator("[data-move-section]")
    expect(section).to_be_visible()
    page.wait_for_selector("#move-form[data-offline-form-ready]", state="attached")
    select = section.locator("select[name=to_location]")
    expect(select.locator("optgroup[label='Waiting area'] option")).to_have_text([WAITING[1]])
    seen = section.locator("input[name=seen_location]").input_value()
    assert seen.startswith(("L-", "WAIT-", "WH-"))  # where the pulled data has the bin
    to = STORE[0] if seen != STORE[0] else WAITING[0]
    clerk.save_move(to)
    expect(section.locator("[data-save-status]")).to_have_attribute("data-state", "saved")

    server.start()
    clerk.sync_now()
    expect(clerk.unsynced).to_have_text("0")
    [stored] = office.events(code=code, type="bin.moved")
    assert stored["payload"]["seen_location"] == seen and stored["exceptions"] == []
