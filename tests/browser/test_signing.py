"""Signing for someone else in a real Chromium: a second person confirms a count with badge and PIN.

The clerk counts on a handover tablet and on their phone; the receiver confirms by showing their
staff badge to the camera (Chromium's fake camera plays a video of the badge's QR) and typing their
PIN. Offline the record is saved "to be verified" and the server verifies it at sync; online a wrong
PIN is refused at once and nothing is saved; a wrong PIN typed offline is stored and flagged
`signature_unverified`. Nothing secret (PIN, badge secret, keys derived from them) reaches the
device database. The proof itself is checked against the scheme computed here with hashlib/hmac.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser import fake_camera
from tests.browser.phone import DECODE_MS, PHONE, SYNC_MS, TABLET, Phone, launch_with_camera, phone_context
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser

PIN = "73950261"
WRONG_PIN = "73950262"

# Import one of the app's modules by its path under static/js (the page's build prefix).
IMPORT = """async ([path, call, args]) => {
  const url = new URL(path, document.querySelector("script[type=module]").src.replace(/js\\/app\\.js.*$/, "js/"));
  const module = await import(url.href);
  return call ? await module[call](...args) : Object.keys(module);
}"""


# --- the scheme, computed here as the spec says (hashlib/hmac), to hold the device to -------------

def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(event_type: str, payload: dict) -> str:
    content = {"payload": {k: v for k, v in payload.items() if k != "signer"}, "type": event_type}
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def pin_key(pin: str, salt_hex: str, iterations: int = 100_000) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt_hex), iterations, 32)


def sign_key(secret: str, pin_key_bytes: bytes) -> bytes:
    return hmac.new(secret.encode(), pin_key_bytes, hashlib.sha256).digest()


def proof(secret: str, pin: str, salt_hex: str, event_id: str, signer_id: int, badge_code: str, hash_hex: str,
          iterations: int = 100_000) -> str:
    message = "\n".join(("shopfloor-signature/1", event_id, str(signer_id), badge_code, hash_hex)).encode()
    return hmac.new(sign_key(secret, pin_key(pin, salt_hex, iterations)), message, hashlib.sha256).hexdigest()


def secret_forms(secret: str, pin: str, salt_hex: str) -> list[str]:
    """Every form in which a secret could sit in the device database: the PIN, the badge secret, the
    PIN's key and the signing key as hex and base64."""
    pk = pin_key(pin, salt_hex)
    sk = sign_key(secret, pk)
    forms = [pin, secret]
    for raw in (pk, sk):
        forms += [raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]
    return forms


def test_the_device_computes_the_proof_of_the_scheme(browser, server):
    """Canonical JSON, content hash and proof on the device agree with the scheme computed in Python."""
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/login")
        payloads = [
            {"bin_code": mint(5), "unit": "pcs", "quantity": 40},
            {"bin_code": mint(6), "unit": "pcs", "quantity": 0, "note": "盘点 “ok” \\ \n\t\u0001 é 😀",
             "photos": ["ab" * 32, "cd" * 32], "signer": {"id": 1, "badge": "X", "content_hash": "0", "proof": "0"}},
            {"z": [1, -2, True, False, None, {"b": 1, "a": [], "ä": {}, "😀": 1, "\ufb01": 2}], "A": "", "_": -0},
        ]
        for payload in payloads:
            device_json = page.evaluate(IMPORT, ["offline/signing.js", "canonicalJson", [payload]])
            assert device_json == canonical(payload)
            device_hash = page.evaluate(IMPORT, ["offline/signing.js", "contentHash", ["bin.counted", payload]])
            assert device_hash == content_hash("bin.counted", payload)

        salt = "00112233445566778899aabbccddeeff"
        secret = "hK2sZr0-_5Yw1xq9QpRtUvWxYz0123456789abcdEFG"
        assert len(secret) == 43
        badge_text = f"SFB1:7:K3M7QX2A:{secret}"
        badge = page.evaluate(IMPORT, ["offline/signing.js", "parseBadge", [badge_text]])
        assert badge == {"userId": 7, "code": "K3M7QX2A", "secret": secret}
        for text in ("SFB1:7:K3M7QX2A:short", "SFB2:7:K3M7QX2A:" + secret, "SFB1:0:K3M7QX2A:" + secret,
                     "SFB1:7:K3M9QX2a:" + secret, f"https://x/b/{mint(1)}", ""):
            assert page.evaluate(IMPORT, ["offline/signing.js", "parseBadge", [text]]) is None, text

        event_id = "0190a5f2-7c3e-7b2a-9f00-0123456789ab"
        payload = payloads[0]
        for iterations in (100_000, 1_000):
            person = {"id": 7, "username": "receiver", "pin_salt": salt, "has_pin": True, "pin_iterations": iterations}
            signer = page.evaluate(
                """async ([path, what]) => {
                    const app = document.querySelector("script[type=module]").src;
                    const url = new URL(path, app.replace(/js\\/app\\.js.*$/, "js/"));
                    const { makeSigner, parseBadge } = await import(url.href);
                    return makeSigner({...what, badge: parseBadge(what.badge)});
                }""",
                ["offline/signing.js", {"eventId": event_id, "type": "bin.counted", "payload": payload,
                                        "badge": badge_text, "pin": PIN, "person": person}],
            )
            hash_hex = content_hash("bin.counted", payload)
            assert signer == {"id": 7, "badge": "K3M7QX2A", "content_hash": hash_hex,
                              "proof": proof(secret, PIN, salt, event_id, 7, "K3M7QX2A", hash_hex, iterations)}
    finally:
        context.close()


# --- the floor --------------------------------------------------------------------------------------

def badge_and_pin(server, username: str = "receiver", pin: str | None = PIN) -> tuple[int, str]:
    """Issue `username` a new staff badge and set their PIN (None: forget it), as the office and the person do;
    return (id, QR text)."""
    from sqlalchemy import select

    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import signers

    folder = server.instance
    app = create_app(TestConfig(database_url=f"sqlite:///{folder / 'shopfloor.sqlite3'}", instance=folder))
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        text = signers.issue_badge(user.id)
        if pin:
            signers.set_pin(user.id, pin)
        else:
            signers.clear_pin(user.id)
        user_id = user.id
        db.engine.dispose()
    return user_id, text


@pytest.fixture
def camera_showing(playwright, tmp_path):
    """camera_showing(text) → a Chromium whose camera sees a staff badge with that QR text."""
    launched = []

    def launch(text: str):
        import qrcode

        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=6)
        qr.add_data(text)
        qr.make(fit=True)
        card = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
        video = fake_camera.still(tmp_path / f"badge-{len(launched)}.y4m", fake_camera.frame(card))
        launched.append(launch_with_camera(playwright, video))
        return launched[-1]

    yield launch
    for browser in launched:
        browser.close()


def count_page_ready(clerk: Phone, code: str, signer: str = "receiver") -> dict:
    """The clerk opens a bin page that works offline, with the people pulled onto the device; return
    the device's row of `signer`, once it holds what it needs to ask their PIN."""
    clerk.ready_offline(code)
    clerk.sync_now()
    return clerk.wait_for_row("users", "(person, username) => person.username === username && person.pin_salt",
                              signer)


def signer_panel(page):
    return page.locator("#count-form [data-signer]")


def signature_status(page):
    return page.locator("#count-form [data-signature-status]")


def confirm_with_badge(page, who: str) -> None:
    """The second person shows their badge to the camera: the panel names them and asks the PIN."""
    page.click("#count-form [data-signer-open]")
    expect(signer_panel(page).locator("[data-signer-who]")).to_have_text(who, timeout=DECODE_MS)
    expect(signer_panel(page)).to_have_attribute("data-signer-state", "pin")
    expect(signer_panel(page).locator("[data-signer-pin]")).to_be_focused()


def type_pin_and_save(page, pin: str) -> None:
    signer_panel(page).locator("[data-signer-pin]").fill(pin)
    page.click("#count-form button[type=submit]")


def assert_no_secrets_on_the_device(clerk: Phone, badge_text: str, pins: list[str], salt: str) -> None:
    """Nothing in any store of the device database holds the PIN, the badge secret or a key derived from them."""
    dump = json.dumps(clerk.dump_device_db(), ensure_ascii=False)
    secret = badge_text.rsplit(":", 1)[1]
    assert badge_text not in dump
    for pin in pins:
        for form_ in secret_forms(secret, pin, salt):
            assert form_ not in dump, "a secret (PIN, badge secret or a key derived from them) is on the device"
    # Nor in the page once the record is saved.
    html = clerk.page.content()
    assert secret not in html and all(pin not in html for pin in pins)


def assert_proof_holds(event: dict, badge_text: str, pin: str, salt: str, signer_id: int) -> None:
    """The stored signer is the proof of the scheme for this event, this content, this badge and this PIN."""
    _, user_id, code, secret = badge_text.split(":")
    signer = event["payload"]["signer"]
    hash_hex = content_hash(event["type"], event["payload"])
    assert signer == {"id": signer_id, "badge": code, "content_hash": hash_hex,
                      "proof": proof(secret, pin, salt, event["id"], int(user_id), code, hash_hex)}


def test_a_receiver_confirms_a_count_offline_on_the_tablet_and_the_server_verifies_it(camera_showing, server,
                                                                                     office):
    receiver_id, badge_text = badge_and_pin(server)
    context = phone_context(camera_showing(badge_text), server.url, TABLET)
    try:
        clerk = Phone(context.new_page())
        page = clerk.page
        code = mint(31)
        receiver = count_page_ready(clerk, code)
        assert receiver["id"] == receiver_id and receiver["has_pin"] is True
        assert "pin_key" not in receiver

        server.stop()  # the handover happens where the Wi-Fi does not reach
        page.fill("#count-form input[name=quantity]", "40")
        confirm_with_badge(page, "刘洋 Liu Yang · Receiver")
        assert_fits(clerk, TABLET)
        type_pin_and_save(page, PIN)
        expect(clerk.save_status).to_have_attribute("data-state", "saved")
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — to be verified")
        expect(signature_status(page)).to_have_attribute("data-state", "to-verify")
        expect(clerk.pending(code)).to_contain_text("Confirmed by 刘洋 Liu Yang — to be verified")
        expect(signer_panel(page)).to_have_attribute("data-signer-state", "closed")  # ready for the next count
        assert signer_panel(page).locator("[data-signer-pin]").input_value() == ""
        expect(clerk.unsynced).to_have_text("1")
        assert_no_secrets_on_the_device(clerk, badge_text, [PIN], receiver["pin_salt"])
        outbox = clerk.dump_device_db()["outbox"]
        [(_, record)] = outbox
        assert record["signature"] == {"id": receiver_id, "name": "刘洋 Liu Yang", "state": "to-verify"}

        # A bin this tablet never opened: the worker's offline bin shell, its form filled from the device.
        other = mint(34)
        clerk.open_bin(other)
        expect(page.locator("[data-offline-bin] h1")).to_contain_text(other)
        page.fill("#count-form input[name=quantity]", "41")
        confirm_with_badge(page, "刘洋 Liu Yang · Receiver")
        type_pin_and_save(page, PIN)
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — to be verified")
        expect(clerk.unsynced).to_have_text("2")

        server.start()
        clerk.tap_sync()
        expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — verified", timeout=SYNC_MS)
        expect(signature_status(page)).to_have_attribute("data-state", "verified")
        for bin_code, quantity in ((code, 40), (other, 41)):
            [event] = office.events(code=bin_code, quantity=quantity)
            assert event["actor"] == "clerk"
            assert_proof_holds(event, badge_text, PIN, receiver["pin_salt"], receiver_id)
            assert not [x for x in event["exceptions"] or [] if x.get("code") == "signature_unverified"]
        assert office.events(code=code, quantity=40)[0]["id"] == record["id"]
        assert_no_secrets_on_the_device(clerk, badge_text, [PIN], receiver["pin_salt"])
    finally:
        context.close()


def test_a_wrong_pin_is_refused_at_once_online_and_flagged_when_typed_offline(camera_showing, server, office):
    receiver_id, badge_text = badge_and_pin(server)
    context = phone_context(camera_showing(badge_text), server.url, PHONE)
    try:
        clerk = Phone(context.new_page())
        page = clerk.page
        code = mint(32)
        receiver = count_page_ready(clerk, code)

        # Online: the server checks the PIN at once; a wrong one saves nothing.
        page.fill("#count-form input[name=quantity]", "12")
        confirm_with_badge(page, "刘洋 Liu Yang · Receiver")
        assert_fits(clerk, PHONE)
        type_pin_and_save(page, WRONG_PIN)
        error = signer_panel(page).locator("[data-signer-error]")
        expect(error).to_have_text("Wrong PIN. 4 tries left before the PIN locks. Nothing was saved.")
        expect(signer_panel(page).locator("[data-signer-pin]")).to_have_value("")
        expect(clerk.save_status).not_to_have_attribute("data-state", "saved")
        dump = clerk.dump_device_db()
        assert dump["outbox"] == [] and dump["sent"] == []
        assert office.events(code=code, quantity=12) == []
        # The right PIN: checked, saved, verified at once.
        type_pin_and_save(page, PIN)
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — verified")
        expect(clerk.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
        [event] = office.events(code=code, quantity=12)
        assert_proof_holds(event, badge_text, PIN, receiver["pin_salt"], receiver_id)
        assert not [x for x in event["exceptions"] or [] if x.get("code") == "signature_unverified"]

        # Offline: nobody can check the PIN; the record is kept and the server flags it at sync.
        server.stop()
        page.fill("#count-form input[name=quantity]", "13")
        confirm_with_badge(page, "刘洋 Liu Yang · Receiver")
        type_pin_and_save(page, WRONG_PIN)
        expect(clerk.save_status).to_have_attribute("data-state", "saved")
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — to be verified")
        assert_no_secrets_on_the_device(clerk, badge_text, [PIN, WRONG_PIN], receiver["pin_salt"])
        server.start()
        clerk.tap_sync()
        expect(signature_status(page)).to_have_text(
            "Confirmed by 刘洋 Liu Yang — could not be verified: the office will review it", timeout=SYNC_MS)
        expect(signature_status(page)).to_have_attribute("data-state", "unverified")
        [event] = office.events(code=code, quantity=13)
        flags = [x for x in event["exceptions"] or [] if x.get("code") == "signature_unverified"]
        assert flags and "wrong_pin" in json.dumps(flags)
        assert event["payload"]["signer"]["id"] == receiver_id
    finally:
        context.close()


def test_without_a_camera_a_scanner_types_the_badge(phone, server, office):
    """A keyboard-wedge scanner types the badge into its field; what cannot confirm says why, and nothing is saved."""
    receiver_id, badge_text = badge_and_pin(server)
    _, unsure_text = badge_and_pin(server, "operator", pin=None)  # a badge, but no PIN yet
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(33)
    count_page_ready(clerk, code)
    page.fill("#count-form input[name=quantity]", "7")
    page.click("#count-form [data-signer-open]")
    panel = signer_panel(page)
    expect(panel.locator("[data-signer-camera-note]")).to_be_visible()  # no camera on this phone
    badge_field = panel.locator("[data-signer-badge]")
    assert badge_field.get_attribute("type") == "password"

    def scan(text: str) -> None:
        badge_field.focus()
        page.keyboard.type(text, delay=2)  # a wedge scanner types fast, then Enter
        page.keyboard.press("Enter")

    scan(f"{server.url}/b/{code}")
    expect(panel.locator("[data-signer-error]")).to_have_text("That is not a staff badge.")
    scan(re.sub(r"^SFB1:\d+:", "SFB1:99999:", badge_text))
    expect(panel.locator("[data-signer-who]")).to_have_text("Unknown badge")
    expect(panel).to_have_attribute("data-signer-state", "problem")
    scan(unsure_text)
    expect(panel.locator("[data-signer-error]")).to_contain_text("has no PIN yet")
    page.click("#count-form button[type=submit]")  # cannot be confirmed: nothing saved
    expect(panel.locator("[data-signer-error]")).to_be_visible()
    scan(badge_text)
    expect(panel.locator("[data-signer-who]")).to_have_text("刘洋 Liu Yang · Receiver")
    expect(badge_field).to_have_value("")  # the secret does not stay in the page
    expect(panel.locator("[data-signer-pin]")).to_be_focused()
    assert clerk.dump_device_db()["outbox"] == []  # Enter after the badge did not save the count
    # Closing the panel forgets the badge: the count is saved without a confirmation.
    page.click("#count-form [data-signer-close]")
    page.click("#count-form button[type=submit]")
    expect(clerk.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    expect(signature_status(page)).to_be_hidden()
    [event] = office.events(code=code, quantity=7)
    assert "signer" not in event["payload"]
    assert receiver_id


def assert_fits(clerk: Phone, viewport) -> None:
    """No sideways scrolling, and every control of the confirmation is at least 48 px both ways."""
    assert clerk.scroll_width() <= viewport["width"]
    assert clerk.small_targets("#count-form [data-signer] :is(button, input), #count-form button[type=submit]") == 0
