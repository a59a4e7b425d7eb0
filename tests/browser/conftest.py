"""Browser fixtures: a live gunicorn server on 127.0.0.1 that a test can stop and restart, and Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.phone import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Office,
    persistent_phone_context,
    phone_context,
)
from tests.live_server import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory) -> Path:
    """Migrate and load the demo plant once; each test copies the file."""
    folder = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, INSTANCE_DIR=str(folder))
    env.pop("DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "webapp"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    return folder


@pytest.fixture
def server(demo_database, tmp_path):
    """A running server with the demo plant; stopped after the test."""
    for name in ("shopfloor.sqlite3", "secret_key"):
        shutil.copy(demo_database / name, tmp_path / name)
    live = LiveServer(tmp_path, free_port())
    live.start()
    yield live
    live.close()
    # The server's warnings and errors: pytest shows them beside a failing test.
    for line in (tmp_path / "server.log").read_text(errors="replace").splitlines():
        if "WARNING" in line or "ERROR" in line or "Traceback" in line:
            print("server:", line)


@pytest.fixture(scope="session")
def playwright():
    """Playwright, for Debian's Chromium (it cannot download browsers here)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does this as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    """One Chromium for the session; each test gets its own context (storage, worker, IndexedDB)."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture
def persistent_phone(playwright, server, tmp_path):
    """A phone with a real profile on disk (not incognito), as an installed app has."""
    context = persistent_phone_context(playwright, tmp_path / "profile", server.url)
    yield context
    context.close()


@pytest.fixture
def phone(browser, server):
    """A fresh phone-sized browser context (its own storage, service worker and IndexedDB)."""
    context = phone_context(browser, server.url)
    yield context
    context.close()


@pytest.fixture
def office(server) -> Office:
    """The office's view of what `server` stored (tests/browser/phone.py), signed in when first asked."""
    return Office(server.url)


# Content-Security-Policy violations seen during the current test, from every browser context
# (the fixtures' and those a test makes itself): any one fails the test. Chromium logs a blocked
# inline style or script as "... violates the following Content Security Policy directive ..."
# (older builds: "Refused to ..."); a page also reports each one as a securitypolicyviolation event,
# and the QR decoder's worker logs a blocked WebAssembly compile through the page's console.warn.
CSP_VIOLATIONS: list[str] = []
CSP_EVENTS = """document.addEventListener("securitypolicyviolation", (e) => console.error(
  `Content Security Policy violation: ${e.effectiveDirective} blocked ${e.blockedURI || "inline"} `
  + `(${e.sourceFile}:${e.lineNumber})`));"""


def _is_csp_violation(text: str) -> bool:
    lowered = text.lower()
    return "content security policy" in lowered or lowered.startswith("refused to ")


def watch_csp(context) -> None:
    """Record every CSP violation any page or worker of this context reports."""
    context.add_init_script(CSP_EVENTS)

    def seen(message) -> None:
        if _is_csp_violation(message.text):
            page = getattr(message, "page", None)
            CSP_VIOLATIONS.append(f"[{page.url if page else 'worker'}] {message.type}: {message.text}")

    context.on("console", seen)


@pytest.fixture(scope="session", autouse=True)
def _every_context_watched_for_csp():
    """Watch every context Playwright opens in this session, however a test opens it."""
    from playwright.sync_api import Browser, BrowserType

    new_context, persistent = Browser.new_context, BrowserType.launch_persistent_context

    def watched_new_context(self, *args, **kwargs):
        context = new_context(self, *args, **kwargs)
        watch_csp(context)
        return context

    def watched_persistent(self, *args, **kwargs):
        context = persistent(self, *args, **kwargs)
        watch_csp(context)
        return context

    Browser.new_context, BrowserType.launch_persistent_context = watched_new_context, watched_persistent
    yield
    Browser.new_context, BrowserType.launch_persistent_context = new_context, persistent


@pytest.fixture(autouse=True)
def no_csp_violations():
    """Fail the test if the Content-Security-Policy blocked anything (checked after its contexts close)."""
    CSP_VIOLATIONS.clear()
    yield
    if CSP_VIOLATIONS:
        found = "\n".join(dict.fromkeys(CSP_VIOLATIONS))
        CSP_VIOLATIONS.clear()
        pytest.fail(f"the Content-Security-Policy blocked something:\n{found}", pytrace=False)


@pytest.fixture
def noisy_photo(tmp_path) -> Path:
    """A 3000×2000 JPEG of a few MB, noisy enough to stay over 1 MB after the device's downscale."""
    from PIL import Image

    # Noise in 2×2 blocks survives a downscale to 1600 px better than per-pixel noise.
    channels = [Image.effect_noise((1500, 1000), 80) for _ in range(3)]
    image = Image.merge("RGB", channels).resize((3000, 2000), Image.NEAREST)
    path = tmp_path / "bin-photo.jpg"
    image.save(path, "JPEG", quality=92)
    return path


@pytest.fixture
def faults(tmp_path):
    """The fault switch of `fault_server` (tests/fault_app.py): set a fault while the server runs."""
    from tests.fault_app import FaultSwitch

    return FaultSwitch(tmp_path / "fault.json")


@pytest.fixture
def fault_server(demo_database, tmp_path, faults):
    """Like `server`, with the app behind the test-only fault switch (transparent until a fault is set)."""
    from tests.fault_app import APP_SPEC

    for name in ("shopfloor.sqlite3", "secret_key"):
        shutil.copy(demo_database / name, tmp_path / name)
    live = LiveServer(tmp_path, free_port(), app_spec=APP_SPEC, env=faults.env)
    live.start()
    yield live
    live.close()
