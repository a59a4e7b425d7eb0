"""Records on the device in a real Chromium: the sync panel, export, photos and their uploads, storage."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.phone import CHUNK, Phone
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser

ENVELOPE = {"id", "device_id", "seq", "type", "v", "occurred_at", "actor_id", "payload", "attachments"}


class StandInBlobServer:
    """The blob API of the contract (HEAD/PATCH /api/v1/blobs/<sha>), answered in the browser's
    network layer: for what the device does with each answer, whatever the real server's state."""

    def __init__(self):
        self.held: dict[str, bytearray] = {}
        self.lengths: dict[str, int] = {}
        self.complete: set[str] = set()
        self.refuse: set[str] = set()
        self.patch_offsets: list[int] = []
        self.cut_after: int | None = None  # PATCHes after this many fail as if the network dropped

    def handle(self, route, request) -> None:
        sha = request.url.rsplit("/", 1)[1]
        if request.method == "HEAD":
            if sha not in self.held:
                return route.fulfill(status=404)
            headers = {"Upload-Offset": str(len(self.held[sha])), "Upload-Length": str(self.lengths[sha])}
            if sha in self.complete:
                headers["Upload-Complete"] = "?1"
            return route.fulfill(status=200, headers=headers)
        assert request.method == "PATCH", request.method
        assert request.headers["content-type"] == "application/offset+octet-stream"
        assert request.headers["authorization"].startswith("Bearer ")
        offset, length = int(request.headers["upload-offset"]), int(request.headers["upload-length"])
        self.patch_offsets.append(offset)
        if self.cut_after is not None and len(self.patch_offsets) > self.cut_after:
            return route.abort("connectionreset")
        held = self.held.setdefault(sha, bytearray())
        self.lengths[sha] = length
        if offset != len(held):
            return route.fulfill(status=409, headers={"Upload-Offset": str(len(held))})
        held.extend(request.post_data_buffer or b"")
        if len(held) == length:
            if hashlib.sha256(held).hexdigest() != sha or sha in self.refuse:
                del self.held[sha]
                return route.fulfill(status=422, json={"error": "not_an_image", "message": "refused"})
            self.complete.add(sha)
        return route.fulfill(status=204, headers={"Upload-Offset": str(len(held))})


def require_blob_endpoints(office) -> None:
    """Fail (not skip) with a clear message while the server has no blob routes yet."""
    path = f"/api/v1/blobs/{secrets.token_hex(32)}"
    head = office.head(path)
    # HEAD has no body to tell "never started" from "no such route"; OPTIONS does: Flask answers
    # it for every route it has, and its router's JSON 404 means there is none.
    options = office.options(path)
    if head.status_code == 404 and options.status_code == 404:
        pytest.fail(
            "The server has no /api/v1/blobs/<sha256> route yet (HEAD and OPTIONS answer the "
            "router's 404): this test needs the blob endpoints of shared/sync-protocol.md."
        )
    assert head.status_code == 404, f"HEAD for an unknown blob should be 404, got {head.status_code}"


def test_the_sync_panel_lists_and_exports_unsynced_records_offline(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(11)
    clerk.ready_offline(code)

    server.stop()
    clerk.save_count(12)
    expect(clerk.pending(code)).to_have_count(1)
    clerk.save_count(13)
    expect(clerk.pending(code)).to_have_count(2)

    page.goto("/sync")  # served by the worker: the server is down
    panel = page.locator("main[data-sync-panel]")
    rows = page.locator("tbody[data-outbox-list] tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-state", "pending")
    expect(rows.nth(0)).to_have_attribute("data-seq", "1")
    expect(rows.nth(1)).to_have_attribute("data-seq", "2")
    expect(rows.nth(0)).to_contain_text(code)
    expect(page.locator("[data-outbox-empty]")).to_be_hidden()
    expect(panel.locator("[data-unsynced-count]")).to_have_text("2")
    expect(panel.locator("[data-pending-photos]")).to_have_text("0")
    expect(panel.locator("[data-storage-used]")).not_to_have_text("—")
    expect(panel.locator("[data-device-id]")).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))
    expect(panel.locator("[data-ios-install-hint]")).to_be_hidden()
    device_id = panel.locator("[data-device-id]").inner_text()

    with page.expect_download() as download:
        panel.locator("[data-export-unsynced]").click()
    name = download.value.suggested_filename
    assert re.fullmatch(rf"shopfloor-unsynced-{device_id[:8]}-\d{{8}}-\d{{4}}\.json", name), name
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["format"] == "shopfloor-outbox" and exported["version"] == 1
    assert exported["device_id"] == device_id
    assert isinstance(exported["exported_at"], int) and exported["build"]
    assert exported["user"]["username"] == "clerk"  # the cached session: this shell was rendered for nobody
    assert exported["attachments"] == []
    events = exported["events"]
    assert [e["seq"] for e in events] == [1, 2]
    assert all(set(e) == ENVELOPE for e in events)
    assert [(e["payload"]["bin_code"], e["payload"]["quantity"]) for e in events] == [(code, 12), (code, 13)]
    assert all("photos" not in e["payload"] and "photo" not in e["payload"] for e in events)
    assert {e["type"] for e in events} == {"bin.counted"} and {e["device_id"] for e in events} == {device_id}

    expect(rows).to_have_count(2)  # exporting removes nothing
    server.start()
    panel.locator("[data-sync-now]").click()
    expect(rows).to_have_count(0)
    expect(page.locator("[data-outbox-empty]")).to_be_visible()
    stored = {e["id"]: e["payload"]["quantity"] for e in office.events(code=code)}
    assert {e["id"]: e["payload"]["quantity"] for e in events}.items() <= stored.items()


def test_a_photo_taken_offline_is_kept_with_its_count_and_reaches_the_server(phone, server, office, noisy_photo):
    require_blob_endpoints(office)
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(12)
    clerk.ready_offline(code)

    server.stop()
    clerk.save_count(5, noisy_photo)
    expect(clerk.save_status).to_have_attribute("data-state", "saved")
    expect(clerk.save_status).to_have_text("Saved on this device")
    expect(clerk.pending(code)).to_have_count(1)
    expect(page.locator("input[name=photo]")).to_have_value("")

    kept = clerk.device_db()
    [blob] = kept["blobs"]
    data = base64.b64decode(blob["data_base64"])
    sha = hashlib.sha256(data).hexdigest()
    assert blob["sha256"] == sha and blob["mime"] == "image/jpeg" and blob["size"] == len(data)
    assert max(blob["width"], blob["height"]) == 1600 and blob["confirmed"] is False
    [event] = kept["outbox"]
    assert event["attachments"] == [sha] and event["payload"]["photos"] == [sha]

    server.start()
    clerk.sync_now()
    expect(clerk.pending(code)).to_have_count(0)
    expect(clerk.unsynced).to_have_text("0")
    reply = office.head(f"/api/v1/blobs/{sha}")
    assert reply.status_code == 200
    assert reply.headers["Upload-Offset"] == reply.headers.get("Upload-Length", str(len(data))) == str(len(data))
    [stored] = office.events(code=code, quantity=5)
    assert stored["payload"]["photos"] == [sha]
    [stub] = clerk.device_db()["blobs"]
    assert stub["confirmed"] is True and stub["data_base64"] is None


def test_an_interrupted_upload_shows_photo_pending_and_resumes_from_the_servers_offset(phone, server, noisy_photo):
    blobs = StandInBlobServer()
    blobs.cut_after = 1  # the first chunk arrives, then the network drops
    phone.route("**/api/v1/blobs/*", blobs.handle)
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(13)
    clerk.ready_offline(code)

    server.stop()
    clerk.save_count(6, noisy_photo)
    expect(clerk.pending(code)).to_have_attribute("data-state", "pending")
    [blob] = clerk.device_db()["blobs"]
    assert blob["size"] > 2 * CHUNK, "the photo should need several chunks"

    server.start()
    clerk.sync_now()
    # The event is on the server; its photo is not.
    expect(clerk.pending(code)).to_have_attribute("data-state", "photo-pending")
    expect(clerk.unsynced).to_have_text("0")
    expect(clerk.save_status).to_have_attribute("data-state", "photo-pending")
    expect(clerk.connection).to_have_attribute("data-state", "offline")  # the cut
    assert blobs.patch_offsets[:2] == [0, CHUNK]

    page.reload()  # a reload (or a restart) resumes from what the server holds
    expect(clerk.pending(code)).to_have_attribute("data-state", "photo-pending")
    page.goto("/sync")
    expect(page.locator("[data-pending-photos]")).to_have_text("1")
    expect(page.locator("tbody[data-outbox-list] tr")).to_have_attribute("data-state", "photo-pending")
    blobs.cut_after = None
    page.locator("main [data-sync-now]").click()
    expect(page.locator("[data-pending-photos]")).to_have_text("0")
    expect(page.locator("tbody[data-outbox-list] tr")).to_have_count(0)

    assert blobs.complete == {blob["sha256"]}
    assert blobs.patch_offsets.count(0) == 1, f"the upload started over: {blobs.patch_offsets}"
    assert hashlib.sha256(blobs.held[blob["sha256"]]).hexdigest() == blob["sha256"]
    [stub] = clerk.device_db()["blobs"]
    assert stub["confirmed"] is True and stub["data_base64"] is None


def test_a_photo_the_server_refuses_stays_on_the_device_and_in_the_export(phone, server, noisy_photo, tmp_path):
    # A phone held upright stores its photo sideways with an EXIF orientation: keep it upright.
    from PIL import Image

    upright = tmp_path / "upright.jpg"
    with Image.open(noisy_photo) as image:
        exif = image.getexif()
        exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
        image.save(upright, "JPEG", quality=92, exif=exif)
    blobs = StandInBlobServer()
    phone.route("**/api/v1/blobs/*", blobs.handle)
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(14)
    clerk.ready_offline(code)

    server.stop()
    clerk.save_count(7, upright)
    expect(clerk.pending(code)).to_have_count(1)
    [blob] = clerk.device_db()["blobs"]
    assert (blob["width"], blob["height"]) == (1067, 1600)
    blobs.refuse.add(blob["sha256"])

    server.start()
    clerk.sync_now()
    expect(clerk.pending(code)).to_have_attribute("data-state", "photo-rejected")
    page.goto("/sync")
    row = page.locator("tbody[data-outbox-list] tr")
    expect(row).to_have_attribute("data-state", "photo-rejected")
    expect(page.locator("[data-pending-photos]")).to_have_text("1")
    with page.expect_download() as download:
        page.click("[data-export-unsynced]")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["events"] == []  # the event itself is on the server
    [attachment] = exported["attachments"]
    assert attachment["sha256"] == blob["sha256"] and attachment["mime"] == "image/jpeg"
    assert hashlib.sha256(base64.b64decode(attachment["data_base64"])).hexdigest() == blob["sha256"]
    [kept] = clerk.device_db()["blobs"]
    assert kept["state"] == "rejected" and kept["data_base64"] == blob["data_base64"]


def test_a_double_tap_on_save_records_one_count(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(15)
    clerk.ready_offline(code)

    server.stop()
    page.fill("#count-form input[name=quantity]", "8")
    page.dblclick("#count-form button[type=submit]")
    expect(clerk.save_status).to_have_attribute("data-state", "saved")
    expect(clerk.pending(code)).to_have_count(1)
    # Two submits in one tick (a fast double tap that beats the disabled button).
    page.fill("#count-form input[name=quantity]", "9")
    page.evaluate(
        "() => { const form = document.getElementById('count-form'); form.requestSubmit(); form.requestSubmit(); }"
    )
    expect(clerk.pending(code)).to_have_count(2)
    expect(clerk.unsynced).to_have_text("2")

    server.start()
    clerk.sync_now()
    expect(clerk.pending(code)).to_have_count(0)
    device_id = clerk.device_db()["sent"][0]["device_id"]
    mine = [e["payload"]["quantity"] for e in office.events(device_id=device_id, code=code)]
    assert sorted(mine) == [8, 9]


# Chromium's own quota override (CDP Storage.overrideQuotaForOrigin) is ignored here, so the
# device fills up the way Chromium reports it: a QuotaExceededError from the write.
FILL_THE_DEVICE = """(full) => {
  const put = window.__realPut ??= IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (...args) {
    if (full && this.name === "blobs") throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    return put.apply(this, args);
  };
}"""


def test_a_full_device_says_so_and_loses_nothing(phone, server, noisy_photo):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(16)
    clerk.ready_offline(code)
    server.stop()
    clerk.save_count(10)
    expect(clerk.pending(code)).to_have_count(1)

    page.evaluate(FILL_THE_DEVICE, True)
    clerk.save_count(11, noisy_photo)
    status = clerk.save_status
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("storage is full")
    expect(page.locator("#count-form input[name=quantity]")).to_have_value("11")  # what was typed stays
    assert page.evaluate("document.querySelector('input[name=photo]').files.length") == 1
    expect(clerk.pending(code)).to_have_count(1)
    kept = clerk.device_db()
    assert len(kept["outbox"]) == 1 and kept["blobs"] == []  # all or nothing: no count without its photo

    page.evaluate(FILL_THE_DEVICE, False)  # room again
    page.click("#count-form button[type=submit]")
    expect(status).to_have_attribute("data-state", "saved")
    expect(clerk.pending(code)).to_have_count(2)
    kept = clerk.device_db()
    assert [e["seq"] for e in kept["outbox"]] == [1, 2]  # the failed save used no seq
    assert len(kept["blobs"]) == 1


V1_DEVICE = """async ([deviceId, code]) => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open("shopfloor", 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      db.createObjectStore("meta");
      const outbox = db.createObjectStore("outbox", {keyPath: "id"});
      outbox.createIndex("seq", "seq", {unique: true});
      outbox.createIndex("state", "state");
      const sent = db.createObjectStore("sent", {keyPath: "id"});
      sent.createIndex("seq", "seq");
      sent.createIndex("sent_at", "sent_at");
      for (const [name, key] of [["bins", "code"], ["operations", "code"], ["work_orders", "number"],
                                 ["locations", "code"], ["products", "code"]]) {
        db.createObjectStore(name, {keyPath: key});
      }
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const tx = db.transaction(["meta", "outbox"], "readwrite");
  tx.objectStore("meta").put(deviceId, "device_id");
  tx.objectStore("meta").put(2, "next_seq");
  tx.objectStore("outbox").put({
    id: "01890000-0000-7000-8000-000000000001", device_id: deviceId, seq: 1, type: "bin.counted", v: 1,
    occurred_at: Date.now() - 60000, actor_id: null, payload: {bin_code: code, quantity: 77},
    attachments: [], state: "pending"});
  await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
  db.close();
}"""


def test_a_device_with_a_version_1_database_keeps_its_records_after_the_upgrade(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(17)
    device_id = "0b5e0000-1111-4222-8333-444455556666"
    page.goto("/healthz")  # the origin, without the app's scripts
    page.evaluate(V1_DEVICE, [device_id, code])

    clerk.sign_in("clerk")
    page.goto("/sync")
    expect(page.locator("[data-device-id]")).to_have_text(device_id)
    expect(clerk.unsynced).to_have_text("0")  # the old record synced
    kept = clerk.device_db()
    assert kept["version"] == 4 and "blobs" in kept["stores"] and "inspection_templates" in kept["stores"]
    assert [e["seq"] for e in kept["sent"]] == [1]
    assert [e["payload"]["quantity"] for e in office.events(device_id=device_id, code=code)] == [77]

    clerk.open_bin(code)
    clerk.save_count(78)
    expect(clerk.save_status).to_have_attribute("data-state", "synced")
    assert {e["seq"] for e in clerk.device_db()["sent"]} == {1, 2}  # the seq counter survived too


def test_iphone_safari_in_a_plain_tab_is_told_to_add_the_app_to_the_home_screen(browser, server):
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    )
    context = browser.new_context(user_agent=iphone, is_mobile=True, has_touch=True, base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/sync")
        expect(page.locator("[data-ios-install-hint]")).to_be_visible()
    finally:
        context.close()
