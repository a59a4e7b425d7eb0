"""Releases never strand a device: versioned static URLs, the previous build's files kept, MIN_BUILD gating pull."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from webapp.config import TestConfig
from webapp.releases import RELEASE

STATIC = Path(__file__).resolve().parents[2] / "webapp" / "static"
YEAR = 365 * 24 * 3600


def fetch(client, url: str):
    """GET a file and close the response (send_file keeps the file open until then)."""
    reply = client.get(url)
    reply.get_data()  # read it all, then let the file go
    reply.close()
    return reply


def test_pages_load_static_files_under_their_build(client, app):
    page = client.get("/login").text
    build = app.config["BUILD"]
    scripts = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert scripts and all(url.startswith(f"/static/v/{build}/") for url in scripts), scripts
    assert f'<meta name="shopfloor-build" content="{RELEASE}+{build}">' in page


def test_a_versioned_file_is_cached_for_good_and_the_worker_never(client, app):
    build = app.config["BUILD"]
    reply = fetch(client, f"/static/v/{build}/js/app.js")
    assert reply.status_code == 200 and reply.data == (STATIC / "js" / "app.js").read_bytes()
    cache = reply.headers["Cache-Control"]
    assert "immutable" in cache and f"max-age={YEAR}" in cache and "public" in cache
    worker = client.get("/sw.js")
    assert worker.headers["Cache-Control"] == "no-cache"
    assert f'"/static/v/{build}/js/offline/sync.js"' in worker.text
    assert '"/static/js/' not in worker.text  # the worker keeps this build's files, under this build's names
    assert fetch(client, f"/static/v/{build}/sw.js").status_code == 404  # only ever from /sw.js
    assert fetch(client, f"/static/v/{build}/js/nothing-here.js").status_code == 404
    assert fetch(client, f"/static/v/{build}/../config.py").status_code == 404


def test_healthz_says_which_build_and_release_run(client, app):
    health = client.get("/healthz").json
    assert health["build"] == app.config["BUILD"] and health["release"] == RELEASE and health["min_build"] is None


def _deploy(make_app, migrated, tmp_path, static: Path):
    """Start the app as a deploy would, on one instance folder and database, with these static files."""
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    database = instance / "shopfloor.sqlite3"
    if not database.exists() and migrated.startswith("sqlite:///"):
        shutil.copy(migrated.removeprefix("sqlite:///"), database)
    url = f"sqlite:///{database}" if migrated.startswith("sqlite:///") else migrated
    return make_app(TestConfig(database_url=url, instance=instance, static_dir=static))


def _release(tmp_path, name: str, change: str | None) -> Path:
    """A copy of the static files, with app.css changed by `change` (a new build)."""
    folder = tmp_path / name
    shutil.copytree(STATIC, folder)
    if change:
        with (folder / "css" / "app.css").open("a") as css:
            css.write(f"\n/* {change} */\n")
    return folder


def test_the_previous_builds_static_files_stay_servable_for_one_release(make_app, migrated, tmp_path):
    a = _deploy(make_app, migrated, tmp_path, _release(tmp_path, "a", None))
    build_a, css_a = a.config["BUILD"], (tmp_path / "a" / "css" / "app.css").read_bytes()

    b = _deploy(make_app, migrated, tmp_path, _release(tmp_path, "b", "release B"))
    build_b = b.config["BUILD"]
    assert build_b != build_a
    client = b.test_client()
    # A page (or worker) of build A, still open on a phone, asks for its own files: it gets A's.
    old = fetch(client, f"/static/v/{build_a}/css/app.css")
    assert old.status_code == 200 and old.data == css_a and "immutable" in old.headers["Cache-Control"]
    new = fetch(client, f"/static/v/{build_b}/css/app.css")
    assert new.data.endswith(b"/* release B */\n") and "immutable" in new.headers["Cache-Control"]
    assert fetch(client, f"/static/v/{build_a}/js/app.js").data == (STATIC / "js" / "app.js").read_bytes()

    c = _deploy(make_app, migrated, tmp_path, _release(tmp_path, "c", "release C"))
    client = c.test_client()
    assert fetch(client, f"/static/v/{b.config['BUILD']}/css/app.css").data.endswith(b"/* release B */\n")
    # Two releases back: A's copy is gone. Today's file is served, but never cached under A's name.
    gone = fetch(client, f"/static/v/{build_a}/css/app.css")
    assert gone.status_code == 200 and gone.data.endswith(b"/* release C */\n")
    assert gone.headers["Cache-Control"] == "no-cache"
    kept = sorted(p.name for p in (tmp_path / "instance" / "static-releases").iterdir() if p.is_dir())
    assert kept == sorted([b.config["BUILD"], c.config["BUILD"]])


def test_a_min_build_that_is_not_a_release_number_stops_the_app(make_app, migrated, tmp_path):
    config = TestConfig(database_url=migrated, instance=tmp_path)
    config.MIN_BUILD = "latest"
    with pytest.raises(ValueError, match="MIN_BUILD"):
        make_app(config)
