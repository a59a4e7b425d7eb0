"""A stocktake in a real Chromium whose fake camera shows ten bin labels in turn (tests/browser/fake_camera.py):
each bin read asks its pieces, progress reaches 10/10 (half the bins counted with the server stopped, across a
reload), then the stocktake is closed and its report shows."""

from __future__ import annotations

import re
import shutil
import sqlite3
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser import fake_camera
from tests.browser.phone import DECODE_MS, SYNC_MS, TABLET, Office, Phone, launch_with_camera, phone_context
from tests.live_server import LiveServer, free_port
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser

AREA = "WAIT-W2"
CODES = [mint(n) for n in range(1, 11)]
BOOK = {code: 10 * n for n, code in enumerate(CODES, start=1)}  # what the server has for each bin
COUNTED = {**BOOK, CODES[2]: BOOK[CODES[2]] + 5, CODES[6]: BOOK[CODES[6]] - 4}  # two bins differ


@pytest.fixture
def stocktake_server(demo_database, tmp_path):
    """The demo plant with exactly ten bins in the machining waiting area (the others moved to assembly)."""
    for name in ("shopfloor.sqlite3", "secret_key"):
        shutil.copy(demo_database / name, tmp_path / name)
    with sqlite3.connect(tmp_path / "shopfloor.sqlite3") as conn:
        place = dict(conn.execute("SELECT code, id FROM locations"))
        conn.execute("UPDATE bins SET location_id = ? WHERE location_id = ?", (place["L-OP50"], place[AREA]))
        conn.executemany("UPDATE bins SET location_id = ?, quantity = ?, status = 'active' WHERE code = ?",
                         [(place[AREA], BOOK[code], code) for code in CODES])
    live = LiveServer(tmp_path, free_port())
    live.start()
    yield live
    live.close()


@pytest.fixture
def ten_labels(playwright, stocktake_server, tmp_path):
    """A Chromium whose camera shows the ten labels one after another, six frames each, looping."""
    frames = []
    for code in CODES:
        label = fake_camera.label_image(f"{stocktake_server.url}/b/{code}", code)
        frames += [fake_camera.frame(label)] * 6
    browser = launch_with_camera(playwright, fake_camera.write_y4m(tmp_path / "ten-bins.y4m", frames))
    yield browser
    browser.close()


NEXT_ASKED = """(done) => {
  const asking = document.querySelector("[data-stocktake]")?.dataset.asking;
  return asking && !done.includes(asking) ? asking : null;
}"""


def count_next(clerk: Phone, done: dict[str, int]) -> str:
    """Wait for the camera to read a bin not counted yet, type its pieces, save; return its code."""
    page = clerk.page
    code = clerk.wait_until(NEXT_ASKED, list(done), timeout=DECODE_MS).json_value()
    assert code in COUNTED, code
    expect(page.locator("[data-stocktake-count] input[name=bin_code]")).to_have_value(code)
    expect(page.locator("[data-asking-note]")).to_have_attribute("data-expected", "true")
    page.fill("[data-stocktake-count] input[name=quantity]", str(COUNTED[code]))
    page.click("[data-stocktake-count] button[type=submit]")
    done[code] = COUNTED[code]
    expect(page.locator("[data-progress-done]")).to_have_text(str(len(done)))
    expect(page.locator(f"[data-stocktake-bins] li[data-bin='{code}']")).to_have_attribute("data-state", "counted")
    return code


def test_a_stocktake_of_ten_bins_with_the_camera_online_and_offline(ten_labels, stocktake_server):
    server = stocktake_server
    context = phone_context(ten_labels, server.url)
    hosts: set[str] = set()
    context.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or request.url))
    try:
        clerk = Phone(context.new_page())
        page = clerk.page
        clerk.sign_in("clerk", next_path="/stocktakes")
        page.select_option("select[name=location]", AREA)
        page.click("[data-stocktake-start] button[type=submit]")
        expect(page).to_have_url(re.compile(r"/stocktakes/[0-9a-f-]{36}$"))
        stocktake_url = page.url
        clerk.wait_for_service_worker()
        page.reload()  # the worker now keeps this page for a reload without the server
        root = page.locator("[data-stocktake]")
        expect(page.locator("[data-progress-expected]")).to_have_text("10")
        expect(root).to_have_attribute("data-camera-state", "scanning", timeout=DECODE_MS)
        assert clerk.small_targets("[data-stocktake] button, [data-stocktake] input, [data-stocktake] a") == 0
        assert clerk.scroll_width() <= 360

        done: dict[str, int] = {}
        for _ in range(5):
            count_next(clerk, done)
        expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)  # these five are on the server

        server.stop()  # the floor's Wi-Fi is gone: the rest is saved on the phone
        try:
            for _ in range(3):
                count_next(clerk, done)
            expect(clerk.unsynced).not_to_have_text("0")
            page.reload()  # the worker's copy of the page, and this phone's own counts from its database
            expect(page).to_have_url(stocktake_url)
            expect(page.locator("[data-progress-done]")).to_have_text("8")
            expect(root).to_have_attribute("data-camera-state", "scanning", timeout=DECODE_MS)
            for _ in range(2):
                count_next(clerk, done)
        finally:
            server.start()
        expect(page.locator("[data-progress-done]")).to_have_text("10")
        expect(page.locator("[data-progress-expected]")).to_have_text("10")
        expect(root).to_have_attribute("data-complete", "true")
        assert sorted(done) == sorted(CODES)

        clerk.sync_now()
        close = page.locator("[data-stocktake-close] button[type=submit]")
        close.click()
        expect(page.locator("[data-close-status]")).not_to_be_empty()  # tap again to close
        close.click()
        # Saved after the counts, sent with them; once the server has it, the page becomes the report.
        report = page.locator("[data-stocktake-report]")
        expect(report).to_be_visible(timeout=SYNC_MS)
        expect(report).to_have_attribute("data-status", "closed")
        expect(page.locator("[data-report-count=counted]")).to_have_text("10")
        expect(page.locator("[data-report-count=missing]")).to_have_text("0")
        expect(page.locator("[data-report-count=unexpected]")).to_have_text("0")
        differences = page.locator("[data-report-lines=difference] tr[data-line]")
        expect(differences).to_have_count(2)
        expect(page.locator(f"tr[data-line='{CODES[2]}'] [data-delta]")).to_have_text("+5")
        expect(page.locator(f"tr[data-line='{CODES[6]}'] [data-delta]")).to_have_text("-4")
        expect(clerk.unsynced).to_have_text("0")
        assert clerk.scroll_width() <= 360
        assert clerk.small_targets("[data-stocktake-report] a, [data-stocktake-report] summary", widths=False) == 0
    finally:
        context.close()
    assert hosts <= {"127.0.0.1"}, f"requests left the server: {sorted(hosts)}"

    stocktake_id = stocktake_url.rsplit("/", 1)[1]
    counts = Office(server.url).events(type="bin.counted")
    mine = [e for e in counts if e["payload"].get("stocktake_id") == stocktake_id]
    assert sorted((e["payload"]["bin_code"], e["payload"]["quantity"]) for e in mine) == sorted(COUNTED.items())

    # The statistician approves on a tablet: the two differences are ticked with what was counted.
    context = phone_context(ten_labels, server.url, TABLET)
    try:
        statistician = Phone(context.new_page())
        page = statistician.page
        statistician.sign_in("office", next_path=f"/office/stocktakes/{stocktake_id}")
        rows = page.locator("[data-stocktake-approve] tr[data-adjust-row]")
        expect(rows).to_have_count(2)
        for code in (CODES[2], CODES[6]):
            expect(page.locator(f"tr[data-adjust-row='{code}'] input[name=adjust]")).to_be_checked()
            expect(page.locator(f"input[name='quantity-{code}']")).to_have_value(str(COUNTED[code]))
        assert statistician.small_targets("[data-stocktake-approve] button, [data-stocktake-approve] textarea, "
                                          "[data-stocktake-approve] input[type=number]") == 0
        page.fill("[data-stocktake-approve] textarea[name=note]", "Recounted B00003V and B00007N with the keeper.")
        page.click("[data-stocktake-approve] button[type=submit]")
        expect(page.locator("[data-stocktake-report]")).to_have_attribute("data-status", "approved")
        expect(page.locator("[data-approved-adjustments] li[data-adjusted]")).to_have_count(2)
    finally:
        context.close()
    with sqlite3.connect(server.instance / "shopfloor.sqlite3") as conn:
        book = dict(conn.execute("SELECT code, quantity FROM bins"))
    assert {code: book[code] for code in CODES} == COUNTED  # the book is what the stocktake found
