"""One save, one sync: a count saved online is pushed in one request and synced in one round,
also when it is saved while the page's start-up sync is still under way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.phone import SYNC_MS, Phone
from webapp.domain.label_codes import mint

pytestmark = pytest.mark.browser

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"

# How many runs of the sync loop hold or wait for its Web Lock right now. A run that goes round
# again asks for the lock again within the same microtask checkpoint as it lets it go, so 0 seen
# from a poll means the loop is idle.
COUNT_SYNC_LOCKS = """(() => {
  window.__syncLocks = 0;
  const request = LockManager.prototype.request;
  LockManager.prototype.request = function (name, ...rest) {
    const asked = request.call(this, name, ...rest);
    if (name !== "shopfloor-sync") return asked;
    window.__syncLocks++;
    const done = () => { window.__syncLocks--; };
    asked.then(done, done);
    return asked;
  };
})();"""


def watch_sync_requests(context) -> list[str]:
    """Every push and pull the device makes from now on, in order ("push" or "pull")."""
    seen: list[str] = []

    def note(request) -> None:
        path = request.url.split("?")[0]
        if request.method == "POST" and path.endswith(PUSH):
            seen.append("push")
        elif request.method == "GET" and path.endswith(PULL):
            seen.append("pull")

    context.on("request", note)
    return seen


def wait_until_synced_and_idle(phone: Phone) -> None:
    expect(phone.save_status).to_have_attribute("data-state", "synced", timeout=SYNC_MS)
    expect(phone.unsynced).to_have_text("0")
    phone.page.wait_for_function("() => window.__syncLocks === 0", timeout=SYNC_MS)
    expect(phone.connection).to_have_attribute("data-state", "online")


def test_a_count_saved_online_is_pushed_once(phone, server):
    phone.add_init_script(COUNT_SYNC_LOCKS)
    device = Phone(phone.new_page())
    device.sign_in("clerk")
    code = mint(11)
    device.open_bin(code)
    expect(device.connection).to_have_attribute("data-state", "online")
    device.page.wait_for_function("() => window.__syncLocks === 0")  # the start-up sync is over
    requests = watch_sync_requests(phone)

    device.save_count(12)
    wait_until_synced_and_idle(device)

    assert requests.count("push") == 1, requests
    assert requests == ["push", "pull"]  # one sync round
    assert len([e for e in server.events_for(code) if e["payload"]["quantity"] == 12]) == 1


def test_a_count_saved_during_the_start_up_sync_is_synced_in_one_round(phone, server):
    """The start-up sync of the first page after signing in is still registering the device when
    the count is saved: that sync pushes it, and no second round follows."""
    phone.add_init_script(COUNT_SYNC_LOCKS)
    device = Phone(phone.new_page())
    page = device.page
    held = []
    page.route("**/api/v1/devices", lambda route: held.append(route))  # the registration waits until the count is saved
    code = mint(12)
    page.goto(f"/login?next=/b/{code}")
    page.fill("input[name=username]", "clerk")
    page.fill("input[name=password]", "demo")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/devices")):
        page.click("button.primary")
    expect(page).to_have_url(f"{server.url}/b/{code}")
    requests = watch_sync_requests(phone)

    device.save_count(13)
    expect(device.save_status).to_have_attribute("data-state", "saved")
    expect(device.connection).to_have_attribute("data-state", "syncing")
    assert len(held) == 1 and requests == []
    held[0].continue_()
    page.unroute("**/api/v1/devices")
    wait_until_synced_and_idle(device)

    assert requests.count("push") == 1, requests
    assert requests == ["push", "pull"], requests  # one sync round: the start-up one
    assert len([e for e in server.events_for(code) if e["payload"]["quantity"] == 13]) == 1
