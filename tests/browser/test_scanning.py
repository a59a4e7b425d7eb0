"""Scanning in a real Chromium: its fake camera plays Y4M videos of bin labels (tests/browser/fake_camera.py).

One Chromium per video (the video is a launch flag), kept for the module; one server for the module,
so the labels can carry its address. Every test that runs the camera also checks that no request
left 127.0.0.1: the QR decoder's WebAssembly comes from our own static files.
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser import fake_camera
from tests.browser.phone import DECODE_MS, PHONE, TABLET, Office, Phone, launch_with_camera, phone_context
from tests.live_server import LiveServer, free_port
from tests.unit.test_scanning import OWN, SCANS
from webapp.domain import scanning
from webapp.domain.label_codes import is_valid, mint

pytestmark = pytest.mark.browser

PUBLIC_URL = "https://shopfloor.plant.example"


@pytest.fixture(scope="module")
def scan_server(demo_database, tmp_path_factory):
    """One server for the module (labels carry its address), with PUBLIC_URL set as on a plant's server."""
    folder = tmp_path_factory.mktemp("scan-server")
    for name in ("shopfloor.sqlite3", "secret_key"):
        shutil.copy(demo_database / name, folder / name)
    # Many sign-ins from one address in a few minutes: more than a person's limit allows.
    live = LiveServer(folder, free_port(), env={"PUBLIC_URL": PUBLIC_URL})
    live.start()
    yield live
    live.close()


@pytest.fixture(scope="module")
def camera_browser(playwright, tmp_path_factory):
    """camera_browser(name, frames) → a Chromium whose camera plays those frames (one per video, kept)."""
    folder = tmp_path_factory.mktemp("videos")
    launched = {}

    def launch(name: str, frames):
        if name not in launched:
            video = fake_camera.write_y4m(folder / f"{name}.y4m", frames() if callable(frames) else frames)
            launched[name] = launch_with_camera(playwright, video)
        return launched[name]

    yield launch
    for browser in launched.values():
        browser.close()


class Handset:
    """A phone-sized (or `viewport`-sized) context on a browser, recording every host it sends a request to."""

    def __init__(self, browser, server, viewport=PHONE):
        self.context = phone_context(browser, server.url, viewport)
        self.hosts: set[str] = set()
        self.context.on("request", lambda request: self.hosts.add(urlsplit(request.url).hostname or request.url))

    def open(self) -> Phone:
        """The app in a new page of this handset."""
        return Phone(self.context.new_page())

    def close(self):
        self.context.close()

    def assert_stayed_home(self):
        assert self.hosts <= {"127.0.0.1"}, f"requests left the server: {sorted(self.hosts)}"


@pytest.fixture
def phones():
    """phones(browser, server[, viewport]) → a Handset, closed after the test."""
    made = []

    def make(browser, server, viewport=PHONE):
        made.append(Handset(browser, server, viewport))
        return made[-1]

    yield make
    for phone in made:
        phone.close()


def label_video(server, number: int, **look):
    """A still video of bin `number`'s label, its QR for this server's /b/<code>."""
    code = mint(number)
    return lambda: [fake_camera.frame(fake_camera.label_image(f"{server.url}/b/{code}", code), **look)] * 6


def scan_and_expect_bin(camera_browser, phones, server, name: str, number: int, **look):
    code = mint(number)
    phone = phones(camera_browser(name, label_video(server, number, **look)), server)
    clerk = phone.open()
    page = clerk.page
    clerk.sign_in("clerk")  # lands on the scan screen, which starts the camera
    expect(page).to_have_url(f"{server.url}/b/{code}", timeout=DECODE_MS)
    expect(page.locator("h1")).to_contain_text(code)
    phone.assert_stayed_home()
    return page


def test_the_device_check_character_agrees_with_python(browser, scan_server, phones):
    page = phones(browser, scan_server).open().page
    page.goto("/login")
    codes = [mint(n) for n in range(1, 1200)]
    # Every single-character change and every swap of neighbours of a few codes: the check must catch them all.
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
    damaged = set()
    for code in codes[:40:3]:
        for i in range(len(code)):
            damaged.update(code[:i] + c + code[i + 1:] for c in alphabet if c != code[i])
            if i + 1 < len(code) and code[i] != code[i + 1]:
                damaged.add(code[:i] + code[i + 1] + code[i] + code[i + 2:])
    samples = codes + sorted(damaged) + ["b00021r", "B0", "", "B00021R*", "hello"]
    device = page.evaluate("""async (samples) => {
        const codes = new URL("scan/codes.js", document.querySelector("script[type=module]").src);
        const { isValid } = await import(codes.href);
        return samples.map((code) => isValid(code));
    }""", samples)
    assert device == [is_valid(code) for code in samples]
    assert all(device[:len(codes)]) and not any(device[len(codes):len(codes) + len(damaged)])

    # What a scan means, on the device and on the server: the unit tests' table, and this server's URLs.
    texts = [text for text, _ in SCANS] + [f"{scan_server.url}/b/{mint(3)}", f"{PUBLIC_URL}/b/{mint(4)}"]
    origins = [*OWN, scan_server.url]
    on_device = page.evaluate("""async ([texts, origins]) => {
        const codes = new URL("scan/codes.js", document.querySelector("script[type=module]").src);
        const { readScan } = await import(codes.href);
        return texts.map((text) => readScan(text, origins));
    }""", [texts, origins])
    on_server = [scanning.read_scan(text, origins) for text in texts]
    as_device = [{"kind": s.kind, **({"code": s.code} if s.code else {}), **({"host": s.host} if s.host else {})}
                 for s in on_server]
    assert on_device == as_device
    assert [s.kind for s in on_server[-2:]] == ["bin", "bin"]


def test_the_scan_screen_opens_the_bin_of_the_label_it_sees(camera_browser, phones, scan_server):
    page = scan_and_expect_bin(camera_browser, phones, scan_server, "straight", 21)
    expect(page.locator("#count-form")).to_be_visible()


def test_a_label_turned_30_degrees_is_read(camera_browser, phones, scan_server):
    scan_and_expect_bin(camera_browser, phones, scan_server, "turned", 22, angle=30)


def test_a_faded_label_in_dim_light_is_read(camera_browser, phones, scan_server):
    # Dark grey print on mid-grey paper in front of a grey wall: about a fifth of full contrast.
    scan_and_expect_bin(camera_browser, phones, scan_server, "faded", 23, ink=70, paper=125, background=100)


def test_a_worn_label_under_glare_is_read(camera_browser, phones, scan_server):
    scan_and_expect_bin(camera_browser, phones, scan_server, "worn", 26, worn=True)


def test_a_label_held_off_centre_is_read_from_the_whole_frame(camera_browser, phones, scan_server):
    scan_and_expect_bin(camera_browser, phones, scan_server, "corner", 24, corner=True)


def test_a_label_of_another_server_is_refused_and_not_opened(camera_browser, phones, scan_server):
    foreign = f"https://other-plant.example:8443/b/{mint(25)}"
    video = lambda: [fake_camera.frame(fake_camera.label_image(foreign, mint(25)))] * 6  # noqa: E731
    phone = phones(camera_browser("foreign", video), scan_server)
    clerk = phone.open()
    page = clerk.page
    clerk.sign_in("clerk")
    message = page.locator("[data-scan-message]")
    expect(message).to_be_visible(timeout=DECODE_MS)
    expect(message).to_have_attribute("data-kind", "foreign")
    expect(message).to_contain_text("other-plant.example:8443")
    expect(page.locator("[data-scan-screen]")).to_have_attribute("data-camera-state", "scanning")
    assert urlsplit(page.url).path == "/scan"
    phone.assert_stayed_home()  # the label's host was only named, never asked


def test_the_scan_screen_fits_a_phone_and_a_tablet_and_hides_a_missing_torch(camera_browser, phones, scan_server):
    blank = lambda: [fake_camera.frame(None)] * 4  # noqa: E731  a camera that sees no label
    browser = camera_browser("blank", blank)
    for viewport in (PHONE, TABLET):
        phone = phones(browser, scan_server, viewport)
        clerk = phone.open()
        page = clerk.page
        clerk.sign_in("clerk")
        screen = page.locator("[data-scan-screen]")
        expect(screen).to_have_attribute("data-camera-state", "scanning", timeout=DECODE_MS)
        assert screen.get_attribute("data-decoder") in {"zxing", "native"}
        expect(page.locator("[data-camera-video]")).to_be_visible()
        expect(page.locator("[data-continuous]")).to_be_visible()
        expect(page.locator("[data-torch]")).to_be_hidden()  # the fake camera has no torch
        assert clerk.scroll_width() <= viewport["width"]
        assert clerk.small_targets("[data-scan-screen] button, [data-scan-screen] input:not([type=checkbox]), "
                                   "[data-scan-screen] label", widths=False) == 0
        video = page.locator("[data-camera]").bounding_box()
        form = page.locator("form[data-code-entry]").bounding_box()
        assert video["width"] >= viewport["width"] * 0.4 and video["height"] <= viewport["height"] * 0.75
        if viewport is TABLET:
            assert form["x"] >= video["x"] + video["width"]  # side by side in landscape
        else:
            assert form["y"] >= video["y"] + video["height"]  # one column, camera on top
        phone.assert_stayed_home()


def test_typed_codes_are_checked_as_they_are_typed(browser, phones, scan_server):
    clerk = phones(browser, scan_server).open()  # no camera in this Chromium: typing is the way in
    page = clerk.page
    clerk.sign_in("clerk")
    expect(page.locator("[data-scan-screen]")).to_have_attribute("data-camera-state", "problem")
    expect(page.locator("[data-camera-problem=missing]")).to_be_visible()
    field = page.locator("input[name=code]")
    good = mint(25)
    wrong = good[:-1] + ("X" if good[-1] != "X" else "Y")
    field.fill(wrong)
    error = page.locator("[data-code-error]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Check character wrong")
    expect(field).to_have_attribute("aria-invalid", "true")
    field.press("Enter")
    expect(error).to_contain_text("two swapped")
    assert urlsplit(page.url).path == "/scan"
    swapped = good[:2] + good[3] + good[2] + good[4:] if good[2] != good[3] else good[:4] + good[5] + good[4] + good[6:]
    field.fill(swapped)
    expect(error).to_be_visible()
    field.fill(good.lower())
    expect(error).to_be_hidden()
    expect(page.locator("form[data-code-entry]")).to_have_attribute("data-code-state", "valid")
    field.press("Enter")
    expect(page).to_have_url(f"{scan_server.url}/b/{good}")


def test_a_keyboard_wedge_burst_opens_a_bin_from_any_floor_page(browser, phones, scan_server):
    clerk = phones(browser, scan_server).open()
    page = clerk.page
    clerk.sign_in("clerk", next_path=f"/b/{mint(26)}")
    expect(page.locator("h1")).to_contain_text(mint(26))
    page.locator("h1").click()  # focus on the page, not in a text field
    page.keyboard.type(f"{scan_server.url}/b/{mint(27)}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{scan_server.url}/b/{mint(27)}")
    # A label printed with PUBLIC_URL (the address phones use) is this server's too.
    page.locator("h1").click()
    page.keyboard.type(f"{PUBLIC_URL}/b/{mint(28)}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{scan_server.url}/b/{mint(28)}")
    # Another server's label: refused, said, not opened.
    page.locator("h1").click()
    page.keyboard.type(f"http://elsewhere.example/b/{mint(29)}")
    page.keyboard.press("Enter")
    expect(page.locator("[data-toast]")).to_contain_text("elsewhere.example")
    assert urlsplit(page.url).path == f"/b/{mint(28)}"
    # Into the scan field, on top of what someone had started typing by hand.
    page.goto("/scan")
    page.locator("input[name=code]").fill("B0")  # started by hand (no key events: long before the burst)
    page.keyboard.type(f"{scan_server.url}/b/{mint(30)}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{scan_server.url}/b/{mint(30)}")


def test_offline_a_scan_of_an_unknown_bin_opens_the_offline_bin_shell(camera_browser, phones, scan_server):
    code = mint(950)  # a label no bin on the server carries yet (the demo plant has 40)
    phone = phones(camera_browser("offline", label_video(scan_server, 950)), scan_server)
    clerk = phone.open()
    page = clerk.page
    # Not on the scan screen yet (it would open the bin online): the shell is on the device, the worker in charge.
    clerk.ready_offline(next_path="/sync")
    scan_server.stop()
    try:
        page.goto("/scan")  # a cold start: no copy of /scan on this device, the precached scan shell
        expect(page.locator("[data-scan-screen]")).to_be_visible()
        expect(page).to_have_url(f"{scan_server.url}/b/{code}", timeout=DECODE_MS)
        expect(page.locator("main[data-offline-bin] [data-bin-field=code]")).to_have_text(code)
        # Unknown to this device too: it says so, and the count can still be made (the server flags it).
        expect(page.locator("main[data-offline-bin] [data-bin-unknown]")).to_be_visible()
        clerk.save_count(12)
        expect(clerk.save_status).to_have_attribute("data-state", "saved")
    finally:
        scan_server.start()
    clerk.sync_now()
    expect(clerk.unsynced).to_have_text("0", timeout=DECODE_MS)
    stored = Office(scan_server.url).events(code=code)
    assert [e["payload"]["quantity"] for e in stored] == [12]
    assert "unknown_bin" in json.dumps(stored[0]["exceptions"])  # stored, and flagged for the office
    phone.assert_stayed_home()


def test_continuous_mode_lists_bin_after_bin_without_leaving_the_camera(camera_browser, phones, scan_server):
    first, second = mint(32), mint(33)
    labels = [fake_camera.frame(fake_camera.label_image(f"{scan_server.url}/b/{code}", code))
              for code in (first, second)]
    # Five frames of one label, five of the other; the fake camera loops, so each shows again and again.
    phone = phones(camera_browser("two-bins", [labels[0]] * 5 + [labels[1]] * 5), scan_server)
    clerk = phone.open()
    page = clerk.page
    clerk.sign_in("clerk", next_path="/sync")
    page.evaluate("sessionStorage.setItem('shopfloor-scan-continuous', '1')")  # as left by the last stocktake
    page.goto("/scan")
    expect(page.locator("[data-continuous]")).to_be_checked()
    items = page.locator("[data-scan-items] li")
    expect(page.locator(f"[data-scan-item='{first}']")).to_be_visible(timeout=DECODE_MS)
    expect(page.locator(f"[data-scan-item='{second}']")).to_be_visible(timeout=DECODE_MS)
    expect(items).to_have_count(2)  # each once, however often the camera sees it
    expect(page.locator("[data-scan-count]")).to_have_text("2")
    count = page.locator(f"[data-scan-item='{first}'] [data-scan-count-action]")
    assert count.get_attribute("href") == f"/b/{first}#count-form"
    expect(page.locator(f"[data-scan-item='{first}'] .scan-item-detail")).not_to_be_empty()
    assert urlsplit(page.url).path == "/scan"
    expect(page.locator("[data-scan-screen]")).to_have_attribute("data-camera-state", "scanning")
    count.click()
    expect(page).to_have_url(f"{scan_server.url}/b/{first}#count-form")
    page.go_back()  # the list stays for the rest of the stocktake
    expect(items).to_have_count(2)
    phone.assert_stayed_home()


def test_without_a_secure_context_the_screen_says_how_to_get_one(browser, phones, scan_server):
    clerk = phones(browser, scan_server).open()
    page = clerk.page
    clerk.sign_in("clerk", next_path="/sync")
    # What a phone on http://<lan-ip>:8000 sees: no secure context, so no camera.
    page.add_init_script("Object.defineProperty(window, 'isSecureContext', { get: () => false })")
    page.goto("/scan")
    problem = page.locator("[data-camera-problem=insecure]")
    expect(problem).to_be_visible()
    link = problem.locator("[data-https-link]")
    expect(link).to_have_text(f"{PUBLIC_URL}/scan")  # PUBLIC_URL is https: the address to open
    expect(page.locator("input[name=code]")).to_be_editable()
    assert json.loads(page.evaluate("JSON.stringify(document.querySelector('[data-camera]').hidden)"))
