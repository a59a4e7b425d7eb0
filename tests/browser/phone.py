"""What the browser tests share: the app on a phone as a page object (`Phone`: sign in, get ready to
work offline, save, sync, read the device's database), the office's HTTP client (`Office`), and the
browsers and contexts a phone runs in.

Every wait is on a state, never a sleep. Page functions are passed as functions ("() => …"): the
app's Content-Security-Policy has no 'unsafe-eval', and Playwright re-evaluates a string expression
on every poll (conftest fails a test on any CSP violation).
"""

from __future__ import annotations

import re
from pathlib import Path

import requests
from playwright.sync_api import expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
PHONE = {"width": 360, "height": 740}
TABLET = {"width": 1280, "height": 800}
SYNC_MS = 30_000  # how long a wait on a state that needs the server lasts (a loaded 2-core machine)
DECODE_MS = 30_000  # camera start, wasm compile and decoding on a shared 2-core machine
CHUNK = 512 * 1024  # the device uploads a photo in chunks of this size


# --- browsers and contexts ------------------------------------------------------------------------

def report_console(context) -> None:
    """Print the pages' warnings and errors: pytest shows them beside a failing test."""
    def watch(page):
        page.on("console", lambda m: m.type in ("warning", "error") and print(f"[{page.url}] {m.type}: {m.text}"))
        page.on("pageerror", lambda e: print(f"[{page.url}] uncaught: {e}"))
    context.on("page", watch)
    for page in context.pages:
        watch(page)


def phone_context(browser, base_url: str, viewport: dict = PHONE, locale: str = "en-GB"):
    """A fresh browser context the size of `viewport` (a phone unless told), with its own storage,
    service worker and IndexedDB; relative URLs go to `base_url`. Close it after use."""
    context = browser.new_context(viewport=viewport, has_touch=True, is_mobile=viewport == PHONE,
                                  locale=locale, base_url=base_url)
    context.set_default_timeout(15_000)
    report_console(context)
    return context


def persistent_phone_context(playwright, profile: Path, base_url: str):
    """A phone with a real profile on disk in `profile` (not incognito), as an installed app has;
    launched again on the same profile, it is the same phone after a restart."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
        viewport=PHONE, has_touch=True, is_mobile=True, locale="en-GB", base_url=base_url)
    context.set_default_timeout(15_000)
    report_console(context)
    return context


def launch_with_camera(playwright, video: Path):
    """A Chromium whose camera plays `video` (a Y4M file, looped: see fake_camera.py)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"])


# --- the device's database, read beside the app ---------------------------------------------------

# Opens the app's database without ever creating it (a read before the app's first open must not
# leave an empty version-1 database behind for the app to "upgrade").
_OPEN_DEVICE_DB = """() => new Promise((resolve, reject) => {
    const open = indexedDB.open("shopfloor");
    open.onupgradeneeded = () => open.transaction.abort();
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  })"""

_BASE64 = """(buffer) => {
    const bytes = new Uint8Array(buffer instanceof ArrayBuffer ? buffer : buffer.buffer);
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }"""

# The records a test looks at: outbox, sent, the photos (their bytes as base64, their size in
# pixels), the device id, the database's version and stores.
READ_DEVICE_DB = f"""async () => {{
  const db = await ({_OPEN_DEVICE_DB})();
  const request = (name, how) => new Promise((resolve, reject) => {{
    const asked = how(db.transaction(name).objectStore(name));
    asked.onsuccess = () => resolve(asked.result);
    asked.onerror = () => reject(asked.error);
  }});
  const all = (name) => db.objectStoreNames.contains(name) ? request(name, (store) => store.getAll()) : [];
  const base64 = {_BASE64};
  const blobs = [];
  for (const blob of await all("blobs")) {{
    const row = {{...blob, data: undefined, data_base64: null}};
    if (blob.data) {{
      row.data_base64 = base64(blob.data);
      try {{
        const bitmap = await createImageBitmap(new Blob([blob.data], {{type: blob.mime}}));
        Object.assign(row, {{width: bitmap.width, height: bitmap.height}});
      }} catch (error) {{
        row.image_error = String(error);
      }}
    }}
    blobs.push(row);
  }}
  const result = {{
    version: db.version, stores: [...db.objectStoreNames],
    device_id: await request("meta", (store) => store.get("device_id")),
    outbox: await all("outbox"), sent: await all("sent"), blobs,
  }};
  db.close();
  return result;
}}"""

# Every store, every row as [key, value], as plain JSON (binary data as {base64}).
DUMP_DEVICE_DB = f"""async () => {{
  const db = await ({_OPEN_DEVICE_DB})();
  const base64 = {_BASE64};
  const plain = (value) => {{
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return {{base64: base64(value)}};
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === "object") {{
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }}
    return value;
  }};
  const dump = {{}};
  for (const name of db.objectStoreNames) {{
    dump[name] = await new Promise((resolve, reject) => {{
      const store = db.transaction(name).objectStore(name);
      const keys = store.getAllKeys();
      const values = store.getAll();
      values.onsuccess = () => resolve(keys.result.map((key, i) => [key, plain(values.result[i])]));
      values.onerror = () => reject(values.error);
    }});
  }}
  db.close();
  return dump;
}}"""

# The rows of one store; none while the database or the store is not there yet.
READ_STORE = f"""async (name) => {{
  let db;
  try {{
    db = await ({_OPEN_DEVICE_DB})();
  }} catch {{
    return [];
  }}
  try {{
    if (!db.objectStoreNames.contains(name)) return [];
    return await new Promise((resolve, reject) => {{
      const all = db.transaction(name).objectStore(name).getAll();
      all.onsuccess = () => resolve(all.result);
      all.onerror = () => reject(all.error);
    }});
  }} finally {{
    db.close();
  }}
}}"""

# Playwright's wait_for_function takes a Promise for a truthy answer at once. This polls an async
# predicate instead: one check at a time, the last answer kept, a failed check thrown.
_POLL = """(() => {{
  const check = {predicate};
  let answer = null, failure = null, asking = false;
  return (arg) => {{
    if (failure) throw failure;
    if (!asking) {{
      asking = true;
      Promise.resolve(check(arg)).then((value) => {{ answer = value; }}, (error) => {{ failure = error; }})
        .finally(() => {{ asking = false; }});
    }}
    return answer;
  }};
}})()"""


# --- the app on a phone ---------------------------------------------------------------------------

class Phone:
    """The app in one page of a phone's browser: what a person does with it, and what a test reads
    from it. Relative URLs go to the server the page's context was made for."""

    def __init__(self, page):
        self.page = page

    # What the header, the count form and the toast show.

    @property
    def unsynced(self):
        return self.page.locator(".topbar [data-unsynced-count]")

    @property
    def connection(self):
        return self.page.locator(".topbar [data-connection-state]")

    @property
    def sync_button(self):
        return self.page.locator(".topbar [data-sync-now]")

    @property
    def save_status(self):
        return self.page.locator("#count-form [data-save-status]")

    @property
    def move_status(self):
        return self.page.locator("#move-form [data-save-status]")

    @property
    def toast(self):
        return self.page.locator("[data-toast]")

    def pending(self, code: str):
        """The records of bin `code` waiting to sync, as the bin page lists them."""
        return self.page.locator(f"[data-pending-for-bin='{code}'] li")

    def scroll_width(self) -> int:
        return self.page.evaluate("() => document.documentElement.scrollWidth")

    def small_targets(self, selector: str, widths: bool = True) -> int:
        """How many visible elements matching `selector` are less than 48 px high (or wide, unless
        `widths` is false): a gloved finger needs 48."""
        return self.page.evaluate("""([selector, widths]) => [...document.querySelectorAll(selector)]
            .filter((e) => e.offsetParent !== null)
            .map((e) => e.getBoundingClientRect())
            .filter((r) => r.height < 48 || (widths && r.width < 48)).length""", [selector, widths])

    # What a person does.

    def sign_in(self, username: str, password: str = "demo", next_path: str = "") -> None:
        """Sign in through the form, as a person does; `next_path` lands elsewhere than the scan
        screen (which starts the camera at once)."""
        self.page.goto("/login" + (f"?next={next_path}" if next_path else ""))
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("button.primary")
        self.page.wait_for_url(lambda url: "/login" not in url)

    def open_bin(self, code: str) -> None:
        self.page.goto(f"/b/{code}")

    def wait_for_service_worker(self) -> None:
        """Wait until the service worker controls the page (it first fetches the whole shell, 1.5 MB)."""
        try:
            self.page.wait_for_function(
                "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30_000)
        except Exception as error:
            state = self.page.evaluate("""async () => {
                const r = await navigator.serviceWorker.getRegistration();
                return r ? {installing: r.installing?.state, waiting: r.waiting?.state, active: r.active?.state}
                         : "no registration";
            }""")
            raise AssertionError(f"the service worker does not control {self.page.url}: {state}") from error

    def ready_offline(self, code: str | None = None, username: str = "clerk", next_path: str = "") -> None:
        """Sign in and open bin `code`'s page (else stay on the page signing in lands on) so that the
        service worker can serve it without the server: the worker controls the page, has seen it
        once (a reload), and the header says online."""
        self.sign_in(username, next_path=next_path)
        if code:
            self.open_bin(code)
        self.wait_for_service_worker()
        self.page.reload()  # now the worker has seen (and cached) this page
        expect(self.connection).to_have_attribute("data-state", "online", timeout=SYNC_MS)

    def pull(self, *stores: str) -> None:
        """Tap "Sync now" and wait until the device holds rows of each of these pulled stores."""
        self.sync_button.click()
        for store in stores:
            self.wait_for_row(store)

    def save_count(self, quantity: int, photo: Path | None = None) -> None:
        """Type a count (and pick a photo) into the bin page's count form and save it."""
        self.page.fill("#count-form input[name=quantity]", str(quantity))
        if photo:
            self.page.set_input_files("#count-form input[name=photo]", str(photo))
        self.page.click("#count-form button[type=submit]")

    def save_move(self, to: str, quantity: int | None = None) -> None:
        """Pick where the bin goes (and how many pieces go with it) in the move form and save it."""
        self.page.select_option("#move-form select[name=to_location]", to)
        if quantity is not None:
            self.page.fill("#move-form input[name=quantity]", str(quantity))
        self.page.click("#move-form button[type=submit]")

    def sync_now(self) -> None:
        """Tap the header's "Sync now" (without waiting for the run)."""
        self.sync_button.click()

    def tap_sync(self, timeout: float = SYNC_MS) -> None:
        """Tap "Sync now" and wait for that run to end (the button is aria-busy until then)."""
        self.sync_button.click()
        expect(self.sync_button).not_to_have_attribute("aria-busy", "true", timeout=timeout)

    def tap_sync_until_synced(self, taps: int = 8) -> int:
        """Tap "Sync now" until nothing is left to sync and the last sync worked, as a person
        on a bad network does; return the taps it took. Each tap waits for its run to end."""
        for tap in range(1, taps + 1):
            self.tap_sync(timeout=60_000)
            if self.unsynced.inner_text() == "0" and self.connection.get_attribute("data-state") == "online":
                return tap
        raise AssertionError(f"still not synced after {taps} taps: {self.unsynced.inner_text()} unsynced")

    # What a test reads from the device.

    def device_db(self) -> dict:
        """The device database: {version, stores, device_id, outbox, sent, blobs}; each blob row with
        its bytes as `data_base64` (None once uploaded) and, for an image, its `width` and `height`."""
        return self.page.evaluate(READ_DEVICE_DB)

    def dump_device_db(self) -> dict:
        """Every store of the device database: {store: [[key, value], …]}, binary data as {"base64": …}."""
        return self.page.evaluate(DUMP_DEVICE_DB)

    def rows(self, store: str) -> list:
        """The rows of one store of the device database ([] while it is not there)."""
        return self.page.evaluate(READ_STORE, store)

    def wait_for_row(self, store: str, where: str = "() => true", arg=None, timeout: float = SYNC_MS):
        """Wait until `store` holds a row for which the page function `where(row, arg)` is true; return it."""
        found = self.wait_until(f"async ([store, arg]) => (await ({READ_STORE})(store)).find("
                                f"(row) => ({where})(row, arg)) ?? null", [store, arg], timeout)
        return found.json_value()

    def wait_until(self, predicate: str, arg=None, timeout: float = SYNC_MS):
        """Wait until the page function `predicate(arg)`, async or not, answers something truthy;
        return a handle to the answer."""
        return self.page.wait_for_function(_POLL.format(predicate=predicate), arg=arg, timeout=timeout,
                                           polling=100)


def sign_in(page, username: str, password: str = "demo") -> None:
    """Sign in through the form, as a person does (Phone(page).sign_in)."""
    Phone(page).sign_in(username, password)


def wait_for_service_worker(page) -> None:
    """Wait until the service worker controls the page (Phone(page).wait_for_service_worker)."""
    Phone(page).wait_for_service_worker()


# --- the office -----------------------------------------------------------------------------------

class Office:
    """What the server stored, as the office sees it through the server's HTTP API at `base_url`.
    It signs in once, when first asked (the sign-in form is rate-limited per person), and keeps
    that session across server restarts."""

    def __init__(self, base_url: str, username: str = "office", password: str = "demo"):
        self.url, self.username, self.password = base_url, username, password
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._sign_in()
        return self._session

    def _sign_in(self) -> requests.Session:
        def csrf(html: str) -> str:
            return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

        session = requests.Session()
        form = session.get(self.url + "/login", timeout=60)
        reply = session.post(self.url + "/login", timeout=60, data={
            "username": self.username, "password": self.password, "csrf_token": csrf(form.text)})
        assert reply.ok and "/login" not in reply.url, f"{self.username} could not sign in: {reply.status_code}"
        session.headers["X-CSRFToken"] = csrf(reply.text)
        return session

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url + path, timeout=60, **kwargs)

    def head(self, path: str, **kwargs) -> requests.Response:
        return self.session.head(self.url + path, timeout=60, **kwargs)

    def options(self, path: str, **kwargs) -> requests.Response:
        return self.session.options(self.url + path, timeout=60, **kwargs)

    def events(self, device_id: str | None = None, code: str | None = None, type: str | None = None,
               **payload) -> list[dict]:
        """The stored events (newest first, up to 1000): of one device, one bin, one type, and with
        these payload fields (`quantity=12`), as far as given."""
        params = {"limit": 1000} if code is None else {"bin_code": code, "limit": 1000}
        reply = self.get("/api/v1/events", params=params)
        reply.raise_for_status()
        return [e for e in reply.json()["events"]
                if (device_id is None or e["device_id"] == device_id) and (type is None or e["type"] == type)
                and all(e["payload"].get(field) == value for field, value in payload.items())]
