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
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, sign_in, wait_for_service_worker
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser

TABLET = {"width": 1280, "height": 800}
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
PIN = "73950261"
WRONG_PIN = "73950262"
DECODE_MS = 30_000  # camera start, wasm compile and decoding on a shared 2-core machine
SYNC_MS = 30_000

# The device database, every store, as plain JSON (ArrayBuffers as base64), read beside the app.
DUMP_DEVICE_DB = """async () => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open("shopfloor");
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const plain = (value) => {
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value instanceof ArrayBuffer ? value : value.buffer);
      let text = "";
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return {base64: btoa(text)};
    }
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
  };
  const dump = {};
  for (const name of db.objectStoreNames) {
    dump[name] = await new Promise((resolve, reject) => {
      const store = db.transaction(name).objectStore(name);
      const keys = store.getAllKeys();
      const values = store.getAll();
      values.onsuccess = () => resolve(keys.result.map((key, i) => [key, plain(values.result[i])]));
      values.onerror = () => reject(values.error);
    });
  }
  db.close();
  return dump;
}"""

# The people pulled onto the device.
PULLED_PEOPLE = """async () => {
  const db = await new Promise((ok) => {
    const open = indexedDB.open("shopfloor");
    open.onsuccess = () => ok(open.result);
  });
  const people = await new Promise((ok) => {
    const all = db.transaction("users").objectStore("users").getAll();
    all.onsuccess = () => ok(all.result);
  });
  db.close();
  return people;
}"""

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
        launched.append(playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"]))
        return launched[-1]

    yield launch
    for browser in launched:
        browser.close()


def device_context(browser, server, viewport):
    context = browser.new_context(viewport=viewport, has_touch=True, is_mobile=viewport is PHONE,
                                  locale="en-GB", base_url=server.url)
    context.set_default_timeout(15_000)
    return context


def people_pulled(page, username: str) -> dict:
    """Wait until the device holds `username` with what it needs to ask their PIN; return that row."""
    page.wait_for_function(
        f"async (username) => (await ({PULLED_PEOPLE})()).some((p) => p.username === username && p.pin_salt)",
        arg=username, timeout=SYNC_MS)
    return next(p for p in page.evaluate(PULLED_PEOPLE) if p["username"] == username)


def count_page_ready(page, code: str, signer: str = "receiver") -> dict:
    """The clerk opens a bin page that works offline, with the people pulled onto the device."""
    sign_in(page, "clerk")
    page.goto(f"/b/{code}")
    wait_for_service_worker(page)
    page.reload()  # now the worker has seen (and cached) this page
    expect(page.locator("[data-connection-state]")).to_have_attribute("data-state", "online", timeout=SYNC_MS)
    page.click(".topbar [data-sync-now]")
    return people_pulled(page, signer)


def form(page):
    return page.locator("#count-form")


def signer_panel(page):
    return page.locator("#count-form [data-signer]")


def confirm_with_badge(page, who: str) -> None:
    """The second person shows their badge to the camera: the panel names them and asks the PIN."""
    page.click("#count-form [data-signer-open]")
    expect(signer_panel(page).locator("[data-signer-who]")).to_have_text(who, timeout=DECODE_MS)
    expect(signer_panel(page)).to_have_attribute("data-signer-state", "pin")
    expect(signer_panel(page).locator("[data-signer-pin]")).to_be_focused()


def type_pin_and_save(page, pin: str) -> None:
    signer_panel(page).locator("[data-signer-pin]").fill(pin)
    page.click("#count-form button[type=submit]")


def save_status(page):
    return page.locator("#count-form [data-save-status]")


def signature_status(page):
    return page.locator("#count-form [data-signature-status]")


def unsynced(page):
    return page.locator(".topbar [data-unsynced-count]")


def tap_sync(page) -> None:
    button = page.locator(".topbar [data-sync-now]")
    button.click()
    expect(button).not_to_have_attribute("aria-busy", "true", timeout=SYNC_MS)


def assert_no_secrets_on_the_device(page, badge_text: str, pins: list[str], salt: str) -> None:
    """Nothing in any store of the device database holds the PIN, the badge secret or a key derived from them."""
    dump = json.dumps(page.evaluate(DUMP_DEVICE_DB), ensure_ascii=False)
    secret = badge_text.rsplit(":", 1)[1]
    assert badge_text not in dump
    for pin in pins:
        for form_ in secret_forms(secret, pin, salt):
            assert form_ not in dump, "a secret (PIN, badge secret or a key derived from them) is on the device"
    # Nor in the page once the record is saved.
    html = page.content()
    assert secret not in html and all(pin not in html for pin in pins)


def stored(server, code: str, quantity: int) -> list[dict]:
    return [e for e in server.events_for(code) if e["payload"].get("quantity") == quantity]


def assert_proof_holds(event: dict, badge_text: str, pin: str, salt: str, signer_id: int) -> None:
    """The stored signer is the proof of the scheme for this event, this content, this badge and this PIN."""
    _, user_id, code, secret = badge_text.split(":")
    signer = event["payload"]["signer"]
    hash_hex = content_hash(event["type"], event["payload"])
    assert signer == {"id": signer_id, "badge": code, "content_hash": hash_hex,
                      "proof": proof(secret, pin, salt, event["id"], int(user_id), code, hash_hex)}


def test_a_receiver_confirms_a_count_offline_on_the_tablet_and_the_server_verifies_it(camera_showing, server):
    receiver_id, badge_text = badge_and_pin(server)
    context = device_context(camera_showing(badge_text), server, TABLET)
    try:
        page = context.new_page()
        code = mint(31)
        receiver = count_page_ready(page, code)
        assert receiver["id"] == receiver_id and receiver["has_pin"] is True
        assert "pin_key" not in receiver

        server.stop()  # the handover happens where the Wi-Fi does not reach
        page.fill("#count-form input[name=quantity]", "40")
        confirm_with_badge(page, "刘洋 Liu Yang · Receiver")
        assert_fits(page, TABLET)
        type_pin_and_save(page, PIN)
        expect(save_status(page)).to_have_attribute("data-state", "saved")
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — to be verified")
        expect(signature_status(page)).to_have_attribute("data-state", "to-verify")
        expect(page.locator(f"[data-pending-for-bin='{code}'] li")).to_contain_text(
            "Confirmed by 刘洋 Liu Yang — to be verified")
        expect(signer_panel(page)).to_have_attribute("data-signer-state", "closed")  # ready for the next count
        assert signer_panel(page).locator("[data-signer-pin]").input_value() == ""
        expect(unsynced(page)).to_have_text("1")
        assert_no_secrets_on_the_device(page, badge_text, [PIN], receiver["pin_salt"])
        outbox = page.evaluate(DUMP_DEVICE_DB)["outbox"]
        [(_, record)] = outbox
        assert record["signature"] == {"id": receiver_id, "name": "刘洋 Liu Yang", "state": "to-verify"}

        # A bin this tablet never opened: the worker's offline bin shell, its form filled from the device.
        other = mint(34)
        page.goto(f"/b/{other}")
        expect(page.locator("[data-offline-bin] h1")).to_contain_text(other)
        page.fill("#count-form input[name=quantity]", "41")
        confirm_with_badge(page, "刘洋 Liu Yang · Receiver")
        type_pin_and_save(page, PIN)
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — to be verified")
        expect(unsynced(page)).to_have_text("2")

        server.start()
        tap_sync(page)
        expect(unsynced(page)).to_have_text("0", timeout=SYNC_MS)
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — verified", timeout=SYNC_MS)
        expect(signature_status(page)).to_have_attribute("data-state", "verified")
        for bin_code, quantity in ((code, 40), (other, 41)):
            [event] = stored(server, bin_code, quantity)
            assert event["actor"] == "clerk"
            assert_proof_holds(event, badge_text, PIN, receiver["pin_salt"], receiver_id)
            assert not [x for x in event["exceptions"] or [] if x.get("code") == "signature_unverified"]
        assert stored(server, code, 40)[0]["id"] == record["id"]
        assert_no_secrets_on_the_device(page, badge_text, [PIN], receiver["pin_salt"])
    finally:
        context.close()


def test_a_wrong_pin_is_refused_at_once_online_and_flagged_when_typed_offline(camera_showing, server):
    receiver_id, badge_text = badge_and_pin(server)
    context = device_context(camera_showing(badge_text), server, PHONE)
    try:
        page = context.new_page()
        code = mint(32)
        receiver = count_page_ready(page, code)

        # Online: the server checks the PIN at once; a wrong one saves nothing.
        page.fill("#count-form input[name=quantity]", "12")
        confirm_with_badge(page, "刘洋 Liu Yang · Receiver")
        assert_fits(page, PHONE)
        type_pin_and_save(page, WRONG_PIN)
        error = signer_panel(page).locator("[data-signer-error]")
        expect(error).to_have_text("Wrong PIN. 4 tries left before the PIN locks. Nothing was saved.")
        expect(signer_panel(page).locator("[data-signer-pin]")).to_have_value("")
        expect(save_status(page)).not_to_have_attribute("data-state", "saved")
        dump = page.evaluate(DUMP_DEVICE_DB)
        assert dump["outbox"] == [] and dump["sent"] == []
        assert stored(server, code, 12) == []
        # The right PIN: checked, saved, verified at once.
        type_pin_and_save(page, PIN)
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — verified")
        expect(save_status(page)).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
        [event] = stored(server, code, 12)
        assert_proof_holds(event, badge_text, PIN, receiver["pin_salt"], receiver_id)
        assert not [x for x in event["exceptions"] or [] if x.get("code") == "signature_unverified"]

        # Offline: nobody can check the PIN; the record is kept and the server flags it at sync.
        server.stop()
        page.fill("#count-form input[name=quantity]", "13")
        confirm_with_badge(page, "刘洋 Liu Yang · Receiver")
        type_pin_and_save(page, WRONG_PIN)
        expect(save_status(page)).to_have_attribute("data-state", "saved")
        expect(signature_status(page)).to_have_text("Confirmed by 刘洋 Liu Yang — to be verified")
        assert_no_secrets_on_the_device(page, badge_text, [PIN, WRONG_PIN], receiver["pin_salt"])
        server.start()
        tap_sync(page)
        expect(signature_status(page)).to_have_text(
            "Confirmed by 刘洋 Liu Yang — could not be verified: the office will review it", timeout=SYNC_MS)
        expect(signature_status(page)).to_have_attribute("data-state", "unverified")
        [event] = stored(server, code, 13)
        flags = [x for x in event["exceptions"] or [] if x.get("code") == "signature_unverified"]
        assert flags and "wrong_pin" in json.dumps(flags)
        assert event["payload"]["signer"]["id"] == receiver_id
    finally:
        context.close()


def test_without_a_camera_a_scanner_types_the_badge(phone, server):
    """A keyboard-wedge scanner types the badge into its field; what cannot confirm says why, and nothing is saved."""
    receiver_id, badge_text = badge_and_pin(server)
    _, unsure_text = badge_and_pin(server, "operator", pin=None)  # a badge, but no PIN yet
    page = phone.new_page()
    code = mint(33)
    count_page_ready(page, code)
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
    assert page.evaluate(DUMP_DEVICE_DB)["outbox"] == []  # Enter after the badge did not save the count
    # Closing the panel forgets the badge: the count is saved without a confirmation.
    page.click("#count-form [data-signer-close]")
    page.click("#count-form button[type=submit]")
    expect(save_status(page)).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    expect(signature_status(page)).to_be_hidden()
    [event] = stored(server, code, 7)
    assert "signer" not in event["payload"]
    assert receiver_id


def assert_fits(page, viewport) -> None:
    """No sideways scrolling, and every control of the confirmation is at least 48 px both ways."""
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    small = page.evaluate("""() => [...document.querySelectorAll(
        '#count-form [data-signer] :is(button, input), #count-form button[type=submit]')]
        .filter((e) => e.offsetParent !== null)
        .map((e) => e.getBoundingClientRect())
        .filter((r) => r.height < 48 || r.width < 48).length""")
    assert small == 0
