"""Releases of the device-side app: the release number, build ids, and old static files kept for one release.

A build is named twice. `RELEASE` is a whole number bumped by hand for every release, so builds can
be compared: `MIN_BUILD` is a release number, and a device whose release is lower may push (to drain
its outbox) but not pull. The content hash of the static files names the exact files, so it goes in
static URLs (`/static/v/<hash>/js/app.js`) and in the service worker's cache names. A device reports
both as "<release>+<hash>", e.g. "1+3fa2c9d01b7e".

At start-up the app copies its static files into `<instance>/static-releases/<hash>/` and keeps the
previous build's copy beside them, so a page or service worker of the previous build can still load
its own files after a deploy. Older copies are deleted. Plain Python: no Flask here.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Bump by hand in every release that reaches devices (and before raising MIN_BUILD to it). See README.
RELEASE = 1

RELEASES_FOLDER = "static-releases"
KEPT_BUILDS = 2  # this build and the one before it
BUILD_ID_RE = re.compile(r"[0-9a-f]{12}")
_DEVICE_BUILD_RE = re.compile(r"(\d{1,9})(?:\+[0-9A-Za-z.-]*)?")
_ORDER_FILE = "releases.json"


def static_build_id(static: Path) -> str:
    """Hash the static files: a new build id whenever the device-side code changes."""
    digest = hashlib.sha256()
    for path in sorted(static.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(static).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def device_build(release: int, build: str) -> str:
    """Return the build as devices report it: "<release>+<content hash>"."""
    return f"{release}+{build}"


def release_of(device_build_text: object) -> int | None:
    """Return the release number of a device's build string, or None when it has none."""
    if not isinstance(device_build_text, str):
        return None
    match = _DEVICE_BUILD_RE.fullmatch(device_build_text.strip())
    return int(match.group(1)) if match else None


def parse_min_build(value: object) -> int | None:
    """Read MIN_BUILD (a release number; empty for none), refusing anything else loudly."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    release = release_of(value) if isinstance(value, str) else None
    if release is None:
        raise ValueError(f"MIN_BUILD must be a release number such as 3, not {value!r}")
    return release


def too_old(device_build_text: object, min_build: int | None) -> bool:
    """Say whether a device's build is below MIN_BUILD (a build without a release number counts as 0)."""
    if min_build is None:
        return False
    return (release_of(device_build_text) or 0) < min_build


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    # Every gunicorn worker runs the app factory: one at a time copies and prunes.
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_order(folder: Path) -> list[str]:
    try:
        order = json.loads((folder / _ORDER_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    return [b for b in order if isinstance(b, str) and BUILD_ID_RE.fullmatch(b)] if isinstance(order, list) else []


def keep_static_release(static: Path, folder: Path, build: str) -> list[str]:
    """Copy this build's static files into `folder/<build>`, keep the previous build's, delete older ones.

    Returns the builds kept, oldest first. The order is the order of deployment (a rollback to an
    older build makes it the newest again), recorded in `folder/releases.json`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with _exclusive(folder / ".lock"):
        target = folder / build
        if not target.is_dir():
            incoming = folder / f".incoming-{build}-{os.getpid()}"
            shutil.rmtree(incoming, ignore_errors=True)
            shutil.copytree(static, incoming)
            incoming.rename(target)  # whole or not at all
        order = [b for b in _read_order(folder) if b != build and (folder / b).is_dir()] + [build]
        kept = order[-KEPT_BUILDS:]
        for entry in folder.iterdir():
            if entry.is_dir() and entry.name not in kept:
                shutil.rmtree(entry, ignore_errors=True)
        written = folder / f".{_ORDER_FILE}.{os.getpid()}"
        written.write_text(json.dumps(kept), encoding="utf-8")
        os.replace(written, folder / _ORDER_FILE)
    return kept


def kept_release(folder: Path, build: str) -> Path | None:
    """Return the folder holding `build`'s static files, if that build is still kept."""
    if not BUILD_ID_RE.fullmatch(build):
        return None
    path = folder / build
    return path if path.is_dir() else None
