"""Releases never strand work, in a real Chromium against a real server (behind tests/fault_app.py):
a new build deployed while the outbox holds records, a build below the server's MIN_BUILD, a
3 MB photo whose upload the server cuts at half, and a device with a tiny storage quota."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, sign_in, wait_for_service_worker
from tests.fault_app import STATIC_DIR_ENV
from webapp.domain.label_codes import mint
from webapp.releases import RELEASE

pytestmark = pytest.mark.browser

STATIC = ROOT / "webapp" / "static"
SYNC_MS = 30_000  # how long an expect waits on a state that needs the server (a loaded 2-core machine)
CHUNK = 512 * 1024

READ_DEVICE = """async () => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open("shopfloor");
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const all = (name) => new Promise((resolve, reject) => {
    const request = db.transaction(name).objectStore(name).getAll();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const deviceId = await new Promise((resolve, reject) => {
    const request = db.transaction("meta").objectStore("meta").get("device_id");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const base64 = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  };
  const blobs = (await all("blobs")).map((blob) => ({...blob, data: blob.data ? base64(blob.data) : null}));
  const device = {device_id: deviceId, outbox: await all("outbox"), sent: await all("sent"), blobs};
  db.close();
  return device;
}"""

# Every message the toast shows from now on, with how many records the outbox held just then.
RECORD_TOASTS = """() => {
  const toast = document.querySelector("[data-toast]");
  window.__toasts = [];
  const outbox = () => new Promise((resolve, reject) => {
    const open = indexedDB.open("shopfloor");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const request = open.result.transaction("outbox").objectStore("outbox").count();
      request.onsuccess = () => { open.result.close(); resolve(request.result); };
      request.onerror = () => reject(request.error);
    };
  });
  new MutationObserver(() => {
    const key = toast.hidden ? "" : toast.dataset.toastKey ?? "";
    outbox().then((records) => window.__toasts.push({key, records}));
  }).observe(toast, {attributes: true, childList: true, subtree: true});
}"""

# Resolves once the sync under way (if any) has finished: the sync loop holds this Web Lock.
SYNC_FINISHED = "navigator.locks.request('shopfloor-sync', () => true)"

WAITING_WORKER = "navigator.serviceWorker.getRegistration().then((r) => Boolean(r && r.waiting))"


@pytest.fixture
def server(fault_server):
    """The real app behind the fault switch (transparent until a fault is set)."""
    return fault_server


class Office:
    """What the server stored, seen through the office API (one sign-in per test: sign-in is rate-limited)."""

    def __init__(self, server):
        self.server, self.session = server, None

    def events(self, device_id: str) -> list[dict]:
        self.session = self.session or self.server.office_session()
        reply = self.session.get(self.server.url + "/api/v1/events", params={"limit": 1000})
        reply.raise_for_status()
        return [e for e in reply.json()["events"] if e["device_id"] == device_id]


@pytest.fixture
def office(server):
    return Office(server)


@pytest.fixture
def photo_3mb(tmp_path) -> Path:
    """A real ~3 MB JPEG of noise (noise does not compress). At 1600 px it is not downscaled on the
    device, only re-encoded, so what the device uploads stays well over a megabyte."""
    from PIL import Image

    image = Image.frombytes("RGB", (1600, 1600), os.urandom(1600 * 1600 * 3))
    path = tmp_path / "noise.jpg"
    image.save(path, "JPEG", quality=95)
    assert 2_500_000 < path.stat().st_size < 3_500_000
    return path


def unsynced(page):
    return page.locator(".topbar [data-unsynced-count]")


def save_status(page):
    return page.locator("#count-form [data-save-status]")


def pending_items(page, code: str):
    return page.locator(f"[data-pending-for-bin='{code}'] li")


def toast(page):
    return page.locator("[data-toast]")


def page_build(page) -> str:
    return page.locator('meta[name="shopfloor-build"]').get_attribute("content")


def ready_offline(page, code: str) -> None:
    """Sign in as the clerk and open a bin page the service worker can serve without the server."""
    sign_in(page, "clerk")
    page.goto(f"/b/{code}")
    wait_for_service_worker(page)
    page.reload()  # now the worker has seen (and cached) this page
    expect(page.locator(".topbar [data-connection-state]")).to_have_attribute("data-state", "online", timeout=SYNC_MS)


def save_count(page, quantity: int, photo: Path | None = None) -> None:
    page.fill("#count-form input[name=quantity]", str(quantity))
    if photo:
        page.set_input_files("input[name=photo]", str(photo))
    page.click("#count-form button[type=submit]")


def device(page) -> dict:
    return page.evaluate(READ_DEVICE)


def health(server) -> dict:
    reply = requests.get(server.url + "/healthz", timeout=10)
    reply.raise_for_status()
    return reply.json()


def new_build(tmp_path: Path, note: str) -> Path:
    """The same app with one static file changed: a new build, as a deploy brings."""
    folder = tmp_path / "static-next"
    shutil.copytree(STATIC, folder)
    with (folder / "css" / "app.css").open("a", encoding="utf-8") as css:
        css.write(f"\n/* {note} */\n")
    return folder


def test_a_new_build_deployed_while_the_outbox_is_not_empty_waits_for_it_to_drain(phone, server, faults, office,
                                                                                  tmp_path):
    page = phone.new_page()
    code = mint(31)
    ready_offline(page, code)
    old = health(server)
    assert page_build(page) == f"{RELEASE}+{old['build']}"
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    server.stop()
    for n, quantity in enumerate((31, 32, 33), start=1):
        save_count(page, quantity)
        expect(pending_items(page, code)).to_have_count(n)
    expect(unsynced(page)).to_have_text("3")

    # Deploy a new build. The server comes back busy (503 with Retry-After on push), so the new
    # service worker arrives while the outbox still holds the three counts.
    server.env[STATIC_DIR_ENV] = str(new_build(tmp_path, "release B"))
    faults.set("503", retry_after=3)
    server.start()
    new = health(server)
    assert new["build"] != old["build"]
    # Pages of the old build still open on phones can still load the old build's files.
    old_script = requests.get(f"{server.url}/static/v/{old['build']}/js/app.js", timeout=10)
    assert old_script.content == (STATIC / "js" / "app.js").read_bytes()
    assert "immutable" in old_script.headers["Cache-Control"]

    page.evaluate(RECORD_TOASTS)
    # The browser looks for a new worker at navigations and on its own schedule: here, now.
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    page.wait_for_function(WAITING_WORKER, timeout=SYNC_MS)
    # A person taps "Sync now" while the new worker waits: the busy server sends it away.
    with page.expect_response(lambda r: r.url.endswith("/api/v1/sync/push") and r.status == 503):
        page.locator(".topbar [data-sync-now]").click()
    expect(unsynced(page)).to_have_text("3")
    expect(toast(page)).not_to_have_attribute("data-toast-key", "update")

    faults.clear()  # the device tries again after Retry-After, by itself
    expect(unsynced(page)).to_have_text("0", timeout=SYNC_MS)
    expect(toast(page)).to_have_attribute("data-toast-key", "update", timeout=SYNC_MS)
    expect(toast(page)).to_contain_text("An update is available.")
    shown = page.evaluate("window.__toasts")
    assert [t for t in shown if t["key"] == "update"], shown
    assert all(t["records"] == 0 for t in shown if t["key"] == "update"), f"offered with records unsent: {shown}"
    assert page.evaluate("window.__sameDocument") is True and navigations == [], "the page reloaded by itself"

    kept = device(page)
    mine = office.events(kept["device_id"])
    assert len({e["id"] for e in mine}) == len(mine) == 3, "a count is stored twice or missing"
    assert sorted(e["payload"]["quantity"] for e in mine) == [31, 32, 33]
    assert {e["id"] for e in mine} == {e["id"] for e in kept["sent"]} and kept["outbox"] == []

    # The person taps "Update now": the new worker takes over and the page reloads on the new build.
    with page.expect_navigation():
        page.locator("[data-toast] [data-toast-action]").click()
    expect(page.locator('meta[name="shopfloor-build"]')).to_have_attribute("content", f"{RELEASE}+{new['build']}")
    assert page.locator("script[type=module]").get_attribute("src") == f"/static/v/{new['build']}/js/app.js"
    page.wait_for_function(
        """([fresh, stale]) => caches.keys().then((names) => names.includes(fresh) && !names.includes(stale))""",
        arg=[f"shopfloor-shell-{new['build']}", f"shopfloor-shell-{old['build']}"], timeout=SYNC_MS)
    assert page.evaluate(WAITING_WORKER) is False
    expect(toast(page)).not_to_have_attribute("data-toast-key", "update")
    assert len(office.events(kept["device_id"])) == 3


def test_a_build_below_min_build_still_drains_its_outbox_but_pulls_nothing(phone, server, office):
    page = phone.new_page()
    code = mint(32)
    ready_offline(page, code)
    build = page_build(page)
    banner = page.locator(".banner[data-build-too-old]")
    expect(banner).to_be_hidden()

    server.stop()
    save_count(page, 41)
    expect(pending_items(page, code)).to_have_count(1)
    save_count(page, 42)
    expect(unsynced(page)).to_have_text("2")

    # The server is restarted with MIN_BUILD above this device's release.
    server.env["MIN_BUILD"] = str(RELEASE + 1)
    pulls = []
    page.on("response", lambda r: pulls.append((r.status, r.url)) if "/api/v1/sync/pull" in r.url else None)
    server.start()
    assert health(server)["min_build"] == RELEASE + 1
    page.locator(".topbar [data-sync-now]").click()
    expect(unsynced(page)).to_have_text("0", timeout=SYNC_MS)
    expect(banner).to_be_visible(timeout=SYNC_MS)
    expect(banner).to_contain_text("This app version is too old.")
    assert all(status == 426 for status, _ in pulls), pulls  # nothing new reached the device
    kept = device(page)
    mine = office.events(kept["device_id"])
    assert sorted(e["payload"]["quantity"] for e in mine) == [41, 42] and len({e["id"] for e in mine}) == 2

    # With nothing to push, a sync asks for data, and the server refuses it.
    page.evaluate(SYNC_FINISHED)
    with page.expect_response(lambda r: "/api/v1/sync/pull" in r.url) as refusal:
        page.locator(".topbar [data-sync-now]").click()
    assert refusal.value.status == 426 and refusal.value.json()["error"] == "build_too_old"
    assert parse_qs(urlparse(refusal.value.url).query)["build"] == [build]
    expect(page.locator(".topbar [data-connection-state]")).to_have_attribute("data-state", "online")

    # Pushing goes on; pulling stays stopped.
    page.evaluate(SYNC_FINISHED)
    asked = len(pulls)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/sync/push") and r.status == 200):
        save_count(page, 43)
    page.evaluate(SYNC_FINISHED)
    expect(pending_items(page, code)).to_have_count(0)
    assert len(pulls) == asked, pulls
    assert sorted(e["payload"]["quantity"] for e in office.events(kept["device_id"])) == [41, 42, 43]

    # With the outbox empty the banner offers the update; a tap with no newer build on the
    # server says so, and nothing reloads under the person.
    update = banner.locator("[data-update-now]")
    expect(update).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    update.click()
    expect(toast(page)).to_contain_text("The server has no newer version yet.")
    assert page.evaluate("window.__sameDocument") is True

    # The sync panel shows it too, and the warning outlives the page (it is kept on the device).
    page.goto("/sync")
    expect(page.locator("main [data-build-too-old]")).to_be_visible()
    expect(page.locator("main [data-app-build]")).to_have_text(build)
    expect(page.locator(".banner[data-build-too-old]")).to_be_visible()


def test_a_3_mb_photo_cut_at_half_by_the_server_resumes_from_the_servers_offset(phone, server, faults, photo_3mb):
    page = phone.new_page()
    code = mint(33)
    ready_offline(page, code)

    server.stop()
    save_count(page, 5, photo_3mb)
    expect(pending_items(page, code)).to_have_count(1)
    [blob] = device(page)["blobs"]
    size, sha = blob["size"], blob["sha256"]
    assert size > 3 * CHUNK, f"the upload should take several chunks, not {size} bytes"
    assert hashlib.sha256(base64.b64decode(blob["data"])).hexdigest() == sha

    # The server receives half the file, then the connection dies (the fault switch cuts the body
    # in the real server). Every request on its own connection: Chromium quietly re-sends a request
    # whose kept-alive connection closed, which would hide the cut from the page.
    faults.set("cut_upload", prefix="/api/v1/blobs/", at=0.5, times=1)
    server.env["GUNICORN_CMD_ARGS"] = "--keep-alive 0"
    sent, held, failed = [], [], []
    page.on("request", lambda r: sent.append((r.method, r.headers.get("upload-offset")))
            if "/api/v1/blobs/" in r.url else None)
    page.on("response", lambda r: held.append(int(r.headers["upload-offset"]))
            if r.request.method == "HEAD" and "/api/v1/blobs/" in r.url and r.status == 200 else None)
    page.on("requestfailed", lambda r: failed.append((r.method, r.failure)) if "/api/v1/blobs/" in r.url else None)
    server.start()
    page.locator(".topbar [data-sync-now]").click()

    # Nobody taps again: the device backs off, asks the server what it holds, and goes on from there.
    expect(pending_items(page, code)).to_have_count(0, timeout=60_000)
    [cut] = faults.hits("cut_upload")
    assert cut["length"] == size and cut["offset"] + cut["passed"] == size // 2
    # (Chromium reports a HEAD as aborted once the page has its headers: it has no body to read.)
    broken = [(method, failure) for method, failure in failed if failure != "net::ERR_ABORTED"]
    assert broken == [("PATCH", "net::ERR_EMPTY_RESPONSE")], f"only the cut PATCH should fail: {failed}"
    patches = [int(offset) for method, offset in sent if method == "PATCH"]
    assert patches[:2] == [0, CHUNK] and patches.count(0) == 1, f"the upload started over: {patches}"
    resumed = sent.index(("HEAD", None), sent.index(("PATCH", str(cut["offset"]))))
    assert held, "no HEAD after the cut"
    # The server kept what it received before the cut, to the byte: the device goes on from there.
    assert held[-1] == size // 2, held
    assert sent[resumed + 1] == ("PATCH", str(held[-1])), f"did not resume from the server's offset: {sent}"

    reply = server.office_session().head(f"{server.url}/api/v1/blobs/{sha}")
    # Complete means the server checked the whole file's length and SHA-256 against its name.
    assert reply.status_code == 200 and reply.headers["Upload-Complete"] == "?1"
    assert reply.headers["Upload-Offset"] == reply.headers["Upload-Length"] == str(size)
    [stub] = device(page)["blobs"]
    assert stub["confirmed"] is True and stub["data"] is None


def test_a_tiny_storage_quota_says_storage_is_full_and_loses_nothing(browser, phone, server, photo_3mb):
    # What the app holds on a phone once it is ready to work offline (its shell, 1.1 MB of it the
    # scanner's decoder, and its data), measured on a first phone.
    ready_offline(phone.new_page(), mint(35))
    used = phone.pages[0].evaluate("navigator.storage.estimate().then((e) => e.usage)")

    # A second phone gets Chromium's own quota (DevTools Storage.overrideQuotaForOrigin) of that
    # plus room for a few counts and none for a photo of more than a megabyte. It is set before the
    # origin stores anything: Chromium 156 takes no notice of an override for an open database.
    small = browser.new_context(viewport=phone.pages[0].viewport_size, has_touch=True, is_mobile=True,
                                locale="en-GB", base_url=server.url)
    small.set_default_timeout(15_000)
    page = small.new_page()
    code = mint(34)
    quota = used + 150_000
    devtools = small.new_cdp_session(page)
    devtools.send("Storage.overrideQuotaForOrigin", {"origin": server.url, "quotaSize": quota})
    # The shell goes into the worker's cache before the app first opens its database: Chromium's
    # IndexedDB judges a write by the room it saw when the database was opened (not re-asked for
    # some seconds), so the database must open on an origin already holding its shell.
    page.goto("/healthz")
    page.evaluate("navigator.serviceWorker.register('/sw.js', {scope: '/'}).then(() => navigator.serviceWorker.ready)"
                  ".then(() => true)")
    ready_offline(page, code)
    server.stop()
    save_count(page, 10)
    expect(pending_items(page, code)).to_have_count(1)

    save_count(page, 11, photo_3mb)
    status = save_status(page)
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("storage is full")
    expect(page.locator("#count-form input[name=quantity]")).to_have_value("11")  # what was typed stays
    assert page.evaluate("document.querySelector('input[name=photo]').files.length") == 1
    expect(pending_items(page, code)).to_have_count(1)
    kept = device(page)
    assert len(kept["outbox"]) == 1 and kept["blobs"] == []  # all or nothing: no count without its photo

    devtools.send("Storage.overrideQuotaForOrigin", {"origin": server.url})  # room again
    page.click("#count-form button[type=submit]")
    expect(status).to_have_attribute("data-state", "saved")
    expect(pending_items(page, code)).to_have_count(2)
    kept = device(page)
    assert [e["seq"] for e in kept["outbox"]] == [1, 2]  # the failed save used no seq
    assert len(kept["blobs"]) == 1
    small.close()
