from playwright.sync_api import expect
from tests.browser.test_signing import *  # noqa

def test_shots(camera_showing, server):
    receiver_id, badge_text = badge_and_pin(server)
    b = camera_showing(badge_text)
    for name, vp in (("phone", PHONE), ("tablet", TABLET)):
        context = device_context(b, server, vp)
        page = context.new_page()
        code = mint(41)
        count_page_ready(page, code)
        page.fill("#count-form input[name=quantity]", "40")
        page.locator("#count-form [data-signer-open]").scroll_into_view_if_needed()
        page.screenshot(path=f"/tmp/shot-{name}-0.png", full_page=True)
        page.click("#count-form [data-signer-open]")
        expect(signer_panel(page).locator("[data-signer-who]")).to_have_text("刘洋 Liu Yang · Receiver", timeout=DECODE_MS)
        page.screenshot(path=f"/tmp/shot-{name}-1.png", full_page=True)
        type_pin_and_save(page, WRONG_PIN)
        expect(signer_panel(page).locator("[data-signer-error]")).to_be_visible()
        page.screenshot(path=f"/tmp/shot-{name}-2.png", full_page=True)
        type_pin_and_save(page, PIN)
        expect(signature_status(page)).to_have_attribute("data-state", "verified")
        page.screenshot(path=f"/tmp/shot-{name}-3.png", full_page=True)
        context.close()
