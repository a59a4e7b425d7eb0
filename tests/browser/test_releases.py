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

from tests.browser.conftest import ROOT
from tests.browser.phone import CHUNK, SYNC_MS, Phone, phone_context
from tests.fault_app import STATIC_DIR_ENV
from webapp.domain.label_codes import mint
from webapp.releases import RELEASE

pytestmark = pytest.mark.browser

STATIC = ROOT / "webapp" / "static"

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

WAITING_WORKER = "async () => Boolean((await navigator.serviceWorker.getRegistration())?.waiting)"


@pytest.fixture
def server(fault_server):
    """The real app behind the fault switch (transparent until a fault is set)."""
    return fault_server


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


def page_build(page) -> str:
    return page.locator('meta[name="shopfloor-build"]').get_attribute("content")


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
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(31)
    clerk.ready_offline(code)
    old = health(server)
    assert page_build(page) == f"{RELEASE}+{old['build']}"
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    server.stop()
    for n, quantity in enumerate((31, 32, 33), start=1):
        clerk.save_count(quantity)
        expect(clerk.pending(code)).to_have_count(n)
    expect(clerk.unsynced).to_have_text("3")

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
    clerk.wait_until(WAITING_WORKER, timeout=SYNC_MS)
    # A person taps "Sync now" while the new worker waits: the busy server sends it away.
    with page.expect_response(lambda r: r.url.endswith("/api/v1/sync/push") and r.status == 503):
        clerk.sync_now()
    expect(clerk.unsynced).to_have_text("3")
    expect(clerk.toast).not_to_have_attribute("data-toast-key", "update")

    faults.clear()  # the device tries again after Retry-After, by itself
    expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)
    expect(clerk.toast).to_have_attribute("data-toast-key", "update", timeout=SYNC_MS)
    expect(clerk.toast).to_contain_text("An update is available.")
    shown = page.evaluate("window.__toasts")
    assert [t for t in shown if t["key"] == "update"], shown
    assert all(t["records"] == 0 for t in shown if t["key"] == "update"), f"offered with records unsent: {shown}"
    assert page.evaluate("window.__sameDocument") is True and navigations == [], "the page reloaded by itself"

    kept = clerk.device_db()
    mine = office.events(device_id=kept["device_id"])
    assert len({e["id"] for e in mine}) == len(mine) == 3, "a count is stored twice or missing"
    assert sorted(e["payload"]["quantity"] for e in mine) == [31, 32, 33]
    assert {e["id"] for e in mine} == {e["id"] for e in kept["sent"]} and kept["outbox"] == []

    # The person taps "Update now": the new worker takes over and the page reloads on the new build.
    with page.expect_navigation():
        page.locator("[data-toast] [data-toast-action]").click()
    expect(page.locator('meta[name="shopfloor-build"]')).to_have_attribute("content", f"{RELEASE}+{new['build']}")
    assert page.locator("script[type=module]").get_attribute("src") == f"/static/v/{new['build']}/js/app.js"
    clerk.wait_until(
        """([fresh, stale]) => caches.keys().then((names) => names.includes(fresh) && !names.includes(stale))""",
        arg=[f"shopfloor-shell-{new['build']}", f"shopfloor-shell-{old['build']}"], timeout=SYNC_MS)
    assert page.evaluate(WAITING_WORKER) is False
    expect(clerk.toast).not_to_have_attribute("data-toast-key", "update")
    assert len(office.events(device_id=kept["device_id"])) == 3


def test_a_build_below_min_build_still_drains_its_outbox_but_pulls_nothing(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(32)
    clerk.ready_offline(code)
    build = page_build(page)
    banner = page.locator(".banner[data-build-too-old]")
    expect(banner).to_be_hidden()

    server.stop()
    clerk.save_count(41)
    expect(clerk.pending(code)).to_have_count(1)
    clerk.save_count(42)
    expect(clerk.unsynced).to_have_text("2")

    # The server is restarted with MIN_BUILD above this device's release.
    server.env["MIN_BUILD"] = str(RELEASE + 1)
    pulls = []
    page.on("response", lambda r: pulls.append((r.status, r.url)) if "/api/v1/sync/pull" in r.url else None)
    server.start()
    assert health(server)["min_build"] == RELEASE + 1
    clerk.sync_now()
    expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)
    expect(banner).to_be_visible(timeout=SYNC_MS)
    expect(banner).to_contain_text("This app version is too old.")
    assert all(status == 426 for status, _ in pulls), pulls  # nothing new reached the device
    kept = clerk.device_db()
    mine = office.events(device_id=kept["device_id"])
    assert sorted(e["payload"]["quantity"] for e in mine) == [41, 42] and len({e["id"] for e in mine}) == 2

    # With nothing to push, a sync asks for data, and the server refuses it.
    page.evaluate(SYNC_FINISHED)
    with page.expect_response(lambda r: "/api/v1/sync/pull" in r.url) as refusal:
        clerk.sync_now()
    assert refusal.value.status == 426 and refusal.value.json()["error"] == "build_too_old"
    assert parse_qs(urlparse(refusal.value.url).query)["build"] == [build]
    expect(clerk.connection).to_have_attribute("data-state", "online")

    # Pushing goes on; pulling stays stopped.
    page.evaluate(SYNC_FINISHED)
    asked = len(pulls)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/sync/push") and r.status == 200):
        clerk.save_count(43)
    page.evaluate(SYNC_FINISHED)
    expect(clerk.pending(code)).to_have_count(0)
    assert len(pulls) == asked, pulls
    assert sorted(e["payload"]["quantity"] for e in office.events(device_id=kept["device_id"])) == [41, 42, 43]

    # With the outbox empty the banner offers the update; a tap with no newer build on the
    # server says so, and nothing reloads under the person.
    update = banner.locator("[data-update-now]")
    expect(update).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    update.click()
    expect(clerk.toast).to_contain_text("The server has no newer version yet.")
    assert page.evaluate("window.__sameDocument") is True

    # The sync panel shows it too, and the warning outlives the page (it is kept on the device).
    page.goto("/sync")
    expect(page.locator("main [data-build-too-old]")).to_be_visible()
    expect(page.locator("main [data-app-build]")).to_have_text(build)
    expect(page.locator(".banner[data-build-too-old]")).to_be_visible()


def test_a_3_mb_photo_cut_at_half_by_the_server_resumes_from_the_servers_offset(phone, server, faults, office,
                                                                                photo_3mb):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(33)
    clerk.ready_offline(code)

    server.stop()
    clerk.save_count(5, photo_3mb)
    expect(clerk.pending(code)).to_have_count(1)
    [blob] = clerk.device_db()["blobs"]
    size, sha = blob["size"], blob["sha256"]
    assert size > 3 * CHUNK, f"the upload should take several chunks, not {size} bytes"
    assert hashlib.sha256(base64.b64decode(blob["data_base64"])).hexdigest() == sha

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
    clerk.sync_now()

    # Nobody taps again: the device backs off, asks the server what it holds, and goes on from there.
    expect(clerk.pending(code)).to_have_count(0, timeout=60_000)
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

    reply = office.head(f"/api/v1/blobs/{sha}")
    # Complete means the server checked the whole file's length and SHA-256 against its name.
    assert reply.status_code == 200 and reply.headers["Upload-Complete"] == "?1"
    assert reply.headers["Upload-Offset"] == reply.headers["Upload-Length"] == str(size)
    [stub] = clerk.device_db()["blobs"]
    assert stub["confirmed"] is True and stub["data_base64"] is None


def test_a_tiny_storage_quota_says_storage_is_full_and_loses_nothing(browser, phone, server, photo_3mb):
    # What the app holds on a phone once it is ready to work offline (its shell, 1.1 MB of it the
    # scanner's decoder, and its data), measured on a first phone.
    first = Phone(phone.new_page())
    first.ready_offline(mint(35))
    used = first.page.evaluate("navigator.storage.estimate().then((e) => e.usage)")

    # A second phone gets Chromium's own quota (DevTools Storage.overrideQuotaForOrigin) of that
    # plus room for a few counts and none for a photo of more than a megabyte. It is set before the
    # origin stores anything: Chromium 156 takes no notice of an override for an open database.
    small = phone_context(browser, server.url)
    clerk = Phone(small.new_page())
    page = clerk.page
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
    clerk.ready_offline(code)
    server.stop()
    clerk.save_count(10)
    expect(clerk.pending(code)).to_have_count(1)

    clerk.save_count(11, photo_3mb)
    status = clerk.save_status
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("storage is full")
    expect(page.locator("#count-form input[name=quantity]")).to_have_value("11")  # what was typed stays
    assert page.evaluate("document.querySelector('input[name=photo]').files.length") == 1
    expect(clerk.pending(code)).to_have_count(1)
    kept = clerk.device_db()
    assert len(kept["outbox"]) == 1 and kept["blobs"] == []  # all or nothing: no count without its photo

    devtools.send("Storage.overrideQuotaForOrigin", {"origin": server.url})  # room again
    page.click("#count-form button[type=submit]")
    expect(status).to_have_attribute("data-state", "saved")
    expect(clerk.pending(code)).to_have_count(2)
    kept = clerk.device_db()
    assert [e["seq"] for e in kept["outbox"]] == [1, 2]  # the failed save used no seq
    assert len(kept["blobs"]) == 1
    small.close()
