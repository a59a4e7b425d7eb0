"""Moving a bin in a real Chromium: online, offline across a server outage, and from the offline bin shell."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, wait_for_service_worker
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


def moves_of(server, code):
    return [e for e in server.events_for(code) if e["type"] == "bin.moved"]


def test_a_clerk_moves_a_bin_online(phone, server):
    page = phone.new_page()
    sign_in(page, "clerk")
    code = mint(7)
    page.goto(f"/b/{code}")
    to, name = destination_for(page)
    page.select_option("#move-form select[name=to_location]", to)
    page.click("#move-form button[type=submit]")
    expect(page.locator("#move-form [data-save-status]")).to_have_attribute("data-state", "synced")
    expect(page.locator(".topbar [data-unsynced-count]")).to_have_text("0")

    page.reload()
    expect(where(page)).to_have_text(name)
    expect(page.locator("#move-form input[name=seen_location]")).to_have_value(to)
    [stored] = moves_of(server, code)
    assert stored["actor"] == "clerk" and stored["exceptions"] == []
    assert stored["payload"]["to_location"] == to and stored["payload"]["seen_version"] >= 1


def test_the_move_form_has_big_targets(phone, server):
    page = phone.new_page()
    sign_in(page, "keeper")
    page.goto(f"/b/{mint(3)}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    small = page.evaluate("""() => [...document.querySelectorAll('#move-form :is(select, input, button)')]
        .filter(e => e.offsetParent !== null)
        .map(e => e.getBoundingClientRect())
        .filter(r => r.height < 48 || r.width < 48).length""")
    assert small == 0


def test_a_move_made_offline_syncs_once_and_the_office_sees_it(phone, server):
    page = phone.new_page()
    sign_in(page, "clerk")
    code = mint(11)
    page.goto(f"/b/{code}")
    wait_for_service_worker(page)
    page.reload()  # now the worker has seen (and cached) this page
    expect(page.locator(".topbar [data-connection-state]")).to_have_attribute("data-state", "online")
    to, name = destination_for(page)

    server.stop()
    page.select_option("#move-form select[name=to_location]", to)
    page.fill("#move-form input[name=quantity]", "20")
    page.click("#move-form button[type=submit]")
    expect(page.locator("#move-form [data-save-status]")).to_have_attribute("data-state", "saved")
    expect(page.locator(".topbar [data-unsynced-count]")).to_have_text("1")
    expect(page.locator(f"[data-pending-for-bin='{code}'] li")).to_contain_text(f"→ {to}")
    # the device now believes the bin is where it took it
    expect(page.locator("#move-form input[name=seen_location]")).to_have_value(to)

    server.start()
    page.click(".topbar [data-sync-now]")
    expect(page.locator(".topbar [data-unsynced-count]")).to_have_text("0")
    [stored] = moves_of(server, code)
    assert stored["payload"]["quantity"] == 20 and stored["exceptions"] == []
    office = server.office_session()
    rows = office.get(server.url + "/office/bins", params={"q": code}).text
    assert name in rows


def test_the_offline_bin_shell_offers_the_move_with_pulled_places(phone, server):
    page = phone.new_page()
    sign_in(page, "clerk")
    wait_for_service_worker(page)
    page.reload()
    page.click(".topbar [data-sync-now]")  # pull the plant onto the device
    expect(page.locator(".topbar [data-connection-state]")).to_have_attribute("data-state", "online")
    page.wait_for_function("""async () => {
        const db = await new Promise((ok) => {
            const open = indexedDB.open('shopfloor');
            open.onsuccess = () => ok(open.result);
        });
        const n = await new Promise((ok) => {
            const count = db.transaction('locations').objectStore('locations').count();
            count.onsuccess = () => ok(count.result);
        });
        db.close();
        return n > 0;
    }""")

    code = mint(12)  # never opened online: the worker serves the shell
    server.stop()
    page.goto(f"/b/{code}")
    expect(page.locator("[data-offline-bin] h1")).to_contain_text(code)
    section = page.locator("[data-move-section]")
    expect(section).to_be_visible()
    page.wait_for_selector("#move-form[data-offline-form-ready]", state="attached")
    select = section.locator("select[name=to_location]")
    expect(select.locator("optgroup[label='Waiting area'] option")).to_have_text([WAITING[1]])
    seen = section.locator("input[name=seen_location]").input_value()
    assert seen.startswith(("L-", "WAIT-", "WH-"))  # where the pulled data has the bin
    to = STORE[0] if seen != STORE[0] else WAITING[0]
    select.select_option(to)
    section.locator("button[type=submit]").click()
    expect(section.locator("[data-save-status]")).to_have_attribute("data-state", "saved")

    server.start()
    page.click(".topbar [data-sync-now]")
    expect(page.locator(".topbar [data-unsynced-count]")).to_have_text("0")
    [stored] = moves_of(server, code)
    assert stored["payload"]["seen_location"] == seen and stored["exceptions"] == []
