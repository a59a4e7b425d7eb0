"""A real Chromium phone against a server that fails the way real ones do (tests/fault_app.py):
answers lost after a commit, 503s, a flapping network, a 401 mid-drain, two tabs, a killed
browser, a wrong clock, an offline cold start and wiped site data. Each test checks what a
person sees and what the server stored: every record exactly once."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.phone import SYNC_MS, Phone, persistent_phone_context
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser

PUSH = "/api/v1/sync/push"

# Many counts at once through the page's own outbox, exactly as offline-form.js saves one:
# saveEvent(type, v, payload) resolves once the record's transaction has committed. All are
# started together (IndexedDB runs them one after another), so the page redraws its lists a few
# times rather than once per count. The module is the page's own (static URLs carry the build,
# and a module imported under another URL would be a second copy).
SAVE_COUNTS = """async ([code, quantities]) => {
  const outbox = new URL("offline/outbox.js", document.querySelector("script[type=module]").src);
  const { saveEvent } = await import(outbox.href);
  const records = await Promise.all(
    quantities.map((quantity) => saveEvent("bin.counted", 2, { bin_code: code, unit: "pcs", quantity })));
  return records.map((record) => record.id);
}"""

# The same without waiting: the page keeps the ids in window.__saved when done.
START_SAVING_COUNTS = """([code, quantities]) => {
  window.__saved = null;
  const outbox = new URL("offline/outbox.js", document.querySelector("script[type=module]").src);
  import(outbox.href).then(async ({ saveEvent }) => {
    const records = await Promise.all(
      quantities.map((quantity) => saveEvent("bin.counted", 2, { bin_code: code, unit: "pcs", quantity })));
    window.__saved = records.map((record) => record.id);
  });
}"""

# Every connection state the header shows from now on (states too brief to catch with expect).
RECORD_CONNECTION_STATES = """() => {
  const el = document.querySelector(".topbar [data-connection-state]");
  window.__states = [];
  new MutationObserver(() => window.__states.push(el.dataset.state))
    .observe(el, { attributes: true, attributeFilter: ["data-state"] });
}"""


@pytest.fixture
def server(fault_server):
    """Every test here runs the real app behind the fault switch (transparent until a fault is set)."""
    return fault_server


def assert_stored_once(events: list[dict], ids: list[str]) -> None:
    """The server holds each of these events exactly once, with gapless seqs from 1."""
    stored = [e["id"] for e in events]
    assert len(stored) == len(set(stored)), "an event is stored twice"
    assert sorted(stored) == sorted(ids)
    assert sorted(e["seq"] for e in events) == list(range(1, len(ids) + 1))


def test_a_push_committed_but_never_answered_is_stored_once(phone, server, faults, office):
    clerk = Phone(phone.new_page())
    code = mint(21)
    clerk.ready_offline(code)

    faults.set("drop_after_commit")
    clerk.save_count(21)
    expect(clerk.save_status).to_have_attribute("data-state", "saved")
    expect(clerk.connection).to_have_attribute("data-state", "offline")  # no answer came back
    expect(clerk.unsynced).to_have_text("1")
    [event] = clerk.device_db()["outbox"]
    # The server committed it: only the answer was lost. The device cannot know, so it keeps it.
    assert [e["id"] for e in office.events(code=code, quantity=21)] == [event["id"]]
    assert faults.hits("drop_after_commit")

    faults.clear()
    clerk.tap_sync_until_synced()
    expect(clerk.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    expect(clerk.pending(code)).to_have_count(0)
    mine = office.events(device_id=event["device_id"])
    assert [(e["id"], e["payload"]["quantity"]) for e in mine] == [(event["id"], 21)]
    [sent] = clerk.device_db()["sent"]
    assert sent["result"]["status"] == "duplicate"  # sent again, recognised, not stored again


def test_a_503_with_retry_after_is_waited_out_then_the_count_syncs_by_itself(phone, server, faults, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(22)
    clerk.ready_offline(code)

    faults.set("503", retry_after=2)
    page.evaluate(RECORD_CONNECTION_STATES)
    with page.expect_response(lambda r: r.url.endswith(PUSH) and r.status == 503):
        clerk.save_count(22)
    faults.clear()
    expect(clerk.save_status).to_have_attribute("data-state", "saved")
    # Nobody taps anything: the device retries on its own once Retry-After has passed.
    expect(clerk.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)
    expect(clerk.connection).to_have_attribute("data-state", "online", timeout=SYNC_MS)
    states = page.evaluate("window.__states")
    assert "offline" in states and states.index("offline") < len(states) - 1, states  # shown while waiting

    [refused] = faults.hits("503")  # one refusal: nothing hammered the server meanwhile
    [stored] = office.events(device_id=clerk.device_db()["device_id"])
    assert stored["payload"]["quantity"] == 22
    assert stored["received_at"] - refused["t"] >= 1_900, "the device came back before Retry-After"


def test_a_slow_push_does_not_hold_up_saving_and_a_tap_meanwhile_sends_nothing_twice(phone, server, faults, office):
    clerk = Phone(phone.new_page())
    code = mint(23)
    clerk.ready_offline(code)

    faults.set("delay", ms=3000)
    clerk.save_count(23)
    # "Saved on this device" while the push is still on its way: saving never waits for the network.
    clerk.page.wait_for_function("""() =>
        document.querySelector("#count-form [data-save-status]").dataset.state === "saved"
        && document.querySelector(".topbar [data-connection-state]").dataset.state === "syncing" """)
    clerk.tap_sync_until_synced()  # joins the push under way
    expect(clerk.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    assert len(faults.hits("delay")) == 1, "the tap sent the push again"
    [stored] = office.events(device_id=clerk.device_db()["device_id"])
    assert stored["payload"]["quantity"] == 23


def test_a_hundred_counts_drain_exactly_once_over_a_flapping_network(phone, server, faults, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(24)
    clerk.ready_offline(code)

    server.stop()
    ids = page.evaluate(SAVE_COUNTS, [code, list(range(1, 101))])
    expect(clerk.unsynced).to_have_text("100")
    # Every other API call (push, pull) loses its connection before the server sees it. Each on
    # a new connection: Chromium quietly re-sends a request whose kept-alive connection closed
    # without an answer, which would hide most of the flapping from the page.
    faults.set("flap", every=2, prefix="/api/")
    server.env["GUNICORN_CMD_ARGS"] = "--keep-alive 0"
    cut = []  # the requests the page saw fail other than with a refused connection (the server was down)
    page.on("requestfailed", lambda r: cut.append(r.url) if "CONNECTION_REFUSED" not in (r.failure or "") else None)
    server.start()
    clerk.tap_sync_until_synced()
    expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)
    assert any(hit["path"] == PUSH for hit in faults.hits("flap")), "no push was cut off"
    assert len(cut) == len(faults.hits("flap")), f"the page did not see every cut: {cut}"

    faults.clear()  # the office's API calls go through the same switch
    kept = clerk.device_db()
    assert kept["outbox"] == [] and len(kept["sent"]) == 100
    mine = office.events(device_id=kept["device_id"])
    assert_stored_once(mine, ids)
    assert sorted(e["payload"]["quantity"] for e in mine) == list(range(1, 101))


def test_a_401_mid_drain_asks_to_sign_in_again_keeps_the_rest_and_syncs_it_once_after(
        phone, server, faults, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(25)
    clerk.ready_offline(code)

    server.stop()
    ids = page.evaluate(SAVE_COUNTS, [code, list(range(1, 251))])
    expect(clerk.unsynced).to_have_text("250")
    faults.set("401", after=1)  # the first batch (200) goes through, then the token is refused
    server.start()
    clerk.sync_now()
    toast = clerk.toast
    expect(toast).to_have_attribute("data-toast-key", "sign_in_again", timeout=SYNC_MS)
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("Sign in again")
    expect(clerk.sync_button).not_to_have_attribute("aria-busy", "true")
    expect(clerk.unsynced).to_have_text("50", timeout=SYNC_MS)
    kept = clerk.device_db()
    assert sorted(e["seq"] for e in kept["outbox"]) == list(range(201, 251))  # nothing lost
    assert len(faults.hits("401")) >= 1

    faults.clear()
    phone.clear_cookies()  # the shift's session has ended too: sign in through the form
    clerk.sign_in("clerk")
    expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)
    expect(toast).not_to_have_attribute("data-toast-key", "sign_in_again")
    assert len(clerk.device_db()["sent"]) == 250
    assert_stored_once(office.events(device_id=kept["device_id"]), ids)


def test_two_tabs_saving_and_syncing_at_once_make_gapless_seqs_and_store_each_count_once(phone, server, office):
    first, second = Phone(phone.new_page()), Phone(phone.new_page())
    codes = [mint(26), mint(27)]
    first.ready_offline(codes[0])
    second.open_bin(codes[1])
    expect(second.connection).to_have_attribute("data-state", "online", timeout=SYNC_MS)

    first.page.evaluate(START_SAVING_COUNTS, [codes[0], list(range(1, 31))])
    second.page.evaluate(START_SAVING_COUNTS, [codes[1], list(range(101, 131))])
    ids = [*first.page.wait_for_function("() => window.__saved").json_value(),
           *second.page.wait_for_function("() => window.__saved").json_value()]
    # Both tabs' loops sync by themselves; a tab seeing "busy" waits for the other's lock.
    for tab in (first, second):
        expect(tab.unsynced).to_have_text("0", timeout=45_000)
    expect(first.connection).to_have_attribute("data-state", "online", timeout=SYNC_MS)

    kept = first.device_db()
    assert kept["outbox"] == [] and len(kept["sent"]) == 60
    mine = office.events(device_id=kept["device_id"])
    assert_stored_once(mine, ids)
    by_bin = {code: sorted(e["payload"]["quantity"] for e in mine if e["payload"]["bin_code"] == code)
              for code in codes}
    assert by_bin == {codes[0]: list(range(1, 31)), codes[1]: list(range(101, 131))}


def browser_pid(profile) -> int:
    """The process id of the Chromium browser process (not a renderer or helper) running on `profile`."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # not a process, or it ended meanwhile
            continue
        if f"--user-data-dir={profile}".encode() in args and not any(a.startswith(b"--type=") for a in args):
            found[int(proc.name)] = parent
    [pid] = [pid for pid, parent in found.items() if parent not in found]  # a wrapper script's child
    return pid


def test_a_count_saved_just_before_the_browser_is_killed_syncs_once_after_relaunch(
        playwright, server, office, tmp_path):
    profile = tmp_path / "profile"
    code = mint(28)
    context = persistent_phone_context(playwright, profile, server.url)
    try:
        clerk = Phone(context.pages[0] if context.pages else context.new_page())
        clerk.ready_offline(code)
        server.stop()  # it cannot sync before it dies
        clerk.save_count(28)
        expect(clerk.save_status).to_have_attribute("data-state", "saved")
        pid = browser_pid(profile)
        with context.expect_event("close"):
            os.kill(pid, signal.SIGKILL)  # no shutdown, no flush: the phone's battery died
    finally:
        context.close()

    context = persistent_phone_context(playwright, profile, server.url)
    try:
        clerk = Phone(context.pages[0] if context.pages else context.new_page())
        clerk.open_bin(code)  # still offline: the worker serves the page, the record is there
        expect(clerk.pending(code)).to_have_count(1)
        expect(clerk.unsynced).to_have_text("1")
        [event] = clerk.device_db()["outbox"]
        assert event["payload"]["quantity"] == 28

        server.start()
        clerk.tap_sync_until_synced()
        expect(clerk.pending(code)).to_have_count(0)
        mine = office.events(device_id=event["device_id"])
        assert [(e["id"], e["payload"]["quantity"]) for e in mine] == [(event["id"], 28)]
    finally:
        context.close()


def test_a_clock_three_days_ahead_is_warned_about_and_corrected_on_the_server(phone, server, office):
    ahead = timedelta(days=3)
    phone.clock.install(time=datetime.now() + ahead)
    clerk = Phone(phone.new_page())
    code = mint(29)
    clerk.sign_in("clerk")
    clerk.open_bin(code)
    toast = clerk.toast
    expect(toast).to_have_attribute("data-toast-key", "clock_off", timeout=SYNC_MS)
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("clock")

    clerk.save_count(29)
    expect(clerk.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    [stored] = office.events(device_id=clerk.device_db()["device_id"])
    off = stored["occurred_at"] - stored["received_at"]
    assert abs(off - ahead.total_seconds() * 1000) < 5 * 60_000, "the device clock was not ahead"
    # The server corrects the device time by the offset it measured from the push's sent_at.
    assert abs(stored["effective_at"] - stored["received_at"]) < 3 * 60_000
    assert "clock_suspect" not in {x["code"] for x in stored["exceptions"]}
    expect(toast).to_have_attribute("data-toast-key", "clock_off", timeout=SYNC_MS)  # still off: still said


def test_an_offline_cold_start_opens_bin_pages_and_saves_counts(phone, server, office):
    clerk = Phone(phone.new_page())
    visited, never_visited = mint(30), mint(31)
    clerk.ready_offline()  # the scan page, cached by the worker
    clerk.open_bin(visited)
    expect(clerk.connection).to_have_attribute("data-state", "online", timeout=SYNC_MS)
    clerk.page.close()

    server.stop()
    clerk = Phone(phone.new_page())  # a cold start: a new page, no server
    page = clerk.page
    clerk.open_bin(visited)
    expect(page.locator("h1")).to_contain_text(visited)
    clerk.save_count(30)
    expect(clerk.save_status).to_have_attribute("data-state", "saved")
    expect(clerk.unsynced).to_have_text("1")
    expect(clerk.connection).to_have_attribute("data-state", "offline")

    clerk.open_bin(never_visited)  # never opened online: the offline bin shell
    expect(page.locator("main[data-offline-bin] [data-bin-field=code]")).to_have_text(never_visited)
    clerk.save_count(31)
    expect(clerk.save_status).to_have_attribute("data-state", "saved")
    expect(clerk.pending(never_visited)).to_have_count(1)
    expect(clerk.unsynced).to_have_text("2")

    server.start()
    clerk.tap_sync_until_synced()
    mine = office.events(device_id=clerk.device_db()["device_id"])
    assert sorted((e["payload"]["bin_code"], e["payload"]["quantity"], e["actor"]) for e in mine) == [
        (visited, 30, "clerk"), (never_visited, 31, "clerk")]


def test_wiped_site_data_makes_a_new_device_whose_counts_still_store(phone, server, office):
    clerk = Phone(phone.new_page())
    page = clerk.page
    code = mint(32)
    clerk.ready_offline(code)
    for quantity in (1, 2):
        clerk.save_count(quantity)
        expect(clerk.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    old = clerk.device_db()["device_id"]

    cdp = phone.new_cdp_session(page)
    page.goto("about:blank")  # as a person does: the browser's settings, then the app again
    cdp.send("Storage.clearDataForOrigin", {"origin": server.url, "storageTypes": "all"})
    assert phone.cookies(server.url) == []
    clerk.sign_in("clerk")  # the cookies went too
    clerk.open_bin(code)
    clerk.save_count(3)
    expect(clerk.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    new = clerk.device_db()["device_id"]
    assert new != old

    assert [(e["seq"], e["payload"]["quantity"]) for e in office.events(device_id=old)] == [(2, 2), (1, 1)]
    # A new device numbers from 1: the old device's seqs are never reused under its id.
    assert [(e["seq"], e["payload"]["quantity"]) for e in office.events(device_id=new)] == [(1, 3)]
