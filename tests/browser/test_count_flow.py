"""The walking skeleton in a real Chromium: count a bin online, offline, across a reload."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, wait_for_service_worker
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser


def test_a_clerk_counts_a_bin_online(phone, server):
    page = phone.new_page()
    sign_in(page, "clerk")
    expect(page).to_have_url(f"{server.url}/scan")
    code = mint(7)
    page.fill("input[name=code]", code)
    page.click("button.primary")
    expect(page).to_have_url(f"{server.url}/b/{code}")
    page.fill("#count-form input[name=quantity]", "37")
    page.click("#count-form button[type=submit]")
    expect(page.locator("#count-form [data-save-status]")).to_have_attribute("data-state", "synced")
    expect(page.locator("[data-unsynced-count]")).to_have_text("0")
    stored = [e for e in server.events_for(code) if e["payload"]["quantity"] == 37]
    assert len(stored) == 1
    assert stored[0]["actor"] == "clerk" and stored[0]["device_label"]


def test_a_count_made_offline_survives_a_reload_and_syncs_exactly_once(phone, server):
    page = phone.new_page()
    sign_in(page, "clerk")
    code = mint(9)
    page.goto(f"/b/{code}")
    wait_for_service_worker(page)
    page.reload()  # now the worker has seen (and cached) this page
    expect(page.locator("[data-connection-state]")).to_have_attribute("data-state", "online")

    server.stop()
    page.fill("#count-form input[name=quantity]", "41")
    page.click("#count-form button[type=submit]")
    expect(page.locator("#count-form [data-save-status]")).to_have_attribute("data-state", "saved")
    expect(page.locator("[data-unsynced-count]")).to_have_text("1")
    expect(page.locator("[data-connection-state]")).to_have_attribute("data-state", "offline")

    page.reload()  # served by the service worker; the record is still on the device
    expect(page.locator("h1")).to_contain_text(code)
    expect(page.locator("[data-unsynced-count]")).to_have_text("1")
    expect(page.locator(f"[data-pending-for-bin='{code}'] li")).to_have_count(1)

    server.start()
    page.click("[data-sync-now]")
    expect(page.locator("[data-unsynced-count]")).to_have_text("0")
    page.click("[data-sync-now]")
    expect(page.locator("[data-connection-state]")).to_have_attribute("data-state", "online")
    stored = [e for e in server.events_for(code) if e["payload"]["quantity"] == 41]
    assert len(stored) == 1


def test_the_app_is_installable(persistent_phone, server):
    page = persistent_phone.pages[0] if persistent_phone.pages else persistent_phone.new_page()
    sign_in(page, "clerk")
    wait_for_service_worker(page)
    cdp = persistent_phone.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []


def test_the_floor_speaks_chinese(browser, server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN", base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/login")
        expect(page.locator("h1")).to_have_text("登录")
        sign_in(page, "inspector")
        expect(page.locator("h1")).to_have_text("扫描周转箱")
        expect(page.locator("[data-connection-state]")).to_have_text("在线")
    finally:
        context.close()


def test_the_phone_layout_fits_360_pixels_with_big_targets(phone, server):
    page = phone.new_page()
    sign_in(page, "clerk")
    page.goto(f"/b/{mint(3)}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    small = page.evaluate("""() => [...document.querySelectorAll('button, input, a.btn, .tabs a')]
        .filter(e => e.offsetParent !== null)
        .map(e => e.getBoundingClientRect())
        .filter(r => r.height < 48 || r.width < 48).length""")
    assert small == 0
