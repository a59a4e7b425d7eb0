"""The walking skeleton in a real Chromium: count a bin online, offline, across a reload."""

import pytest
from playwright.sync_api import expect

from tests.browser.phone import PHONE, Phone, phone_context
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser


def test_a_clerk_counts_a_bin_online(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    clerk.sign_in("clerk")
    expect(page).to_have_url(f"{server.url}/scan")
    code = mint(7)
    page.fill("input[name=code]", code)
    page.click("button.primary")
    expect(page).to_have_url(f"{server.url}/b/{code}")
    clerk.save_count(37)
    expect(clerk.save_status).to_have_attribute("data-state", "synced")
    expect(clerk.unsynced).to_have_text("0")
    stored = office.events(code=code, quantity=37)
    assert len(stored) == 1
    assert stored[0]["actor"] == "clerk" and stored[0]["device_label"]


def test_a_count_made_offline_survives_a_reload_and_syncs_exactly_once(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(9)
    clerk.ready_offline(code)  # signed in, the bin page cached by the worker, online

    server.stop()
    clerk.save_count(41)
    expect(clerk.save_status).to_have_attribute("data-state", "saved")
    expect(clerk.unsynced).to_have_text("1")
    expect(clerk.connection).to_have_attribute("data-state", "offline")

    page.reload()  # served by the service worker; the record is still on the device
    expect(page.locator("h1")).to_contain_text(code)
    expect(clerk.unsynced).to_have_text("1")
    expect(clerk.pending(code)).to_have_count(1)

    server.start()
    clerk.sync_now()
    expect(clerk.unsynced).to_have_text("0")
    clerk.sync_now()
    expect(clerk.connection).to_have_attribute("data-state", "online")
    stored = office.events(code=code, quantity=41)
    assert len(stored) == 1


def test_the_app_is_installable(persistent_phone, server):
    page = persistent_phone.pages[0] if persistent_phone.pages else persistent_phone.new_page()
    clerk = Phone(page)
    clerk.sign_in("clerk")
    clerk.wait_for_service_worker()
    cdp = persistent_phone.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []


def test_the_floor_speaks_chinese(browser, server):
    context = phone_context(browser, server.url, locale="zh-CN")
    try:
        inspector = Phone(context.new_page())
        page = inspector.page
        page.goto("/login")
        expect(page.locator("h1")).to_have_text("登录")
        inspector.sign_in("inspector")
        expect(page.locator("h1")).to_have_text("扫描周转箱")
        expect(inspector.connection).to_have_text("在线")
    finally:
        context.close()


def test_the_phone_layout_fits_360_pixels_with_big_targets(phone, server):
    clerk = Phone(phone.new_page())
    clerk.sign_in("clerk")
    clerk.open_bin(mint(3))
    assert clerk.scroll_width() <= PHONE["width"]
    assert clerk.small_targets("button, input, a.btn, .tabs a") == 0
