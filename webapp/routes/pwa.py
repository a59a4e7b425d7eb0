"""The installable app: manifest, service worker, offline shells, health check."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, send_from_directory, url_for
from flask_babel import gettext as _
from sqlalchemy import text

from webapp.auth import public
from webapp.extensions import db
from webapp.releases import kept_release

bp = Blueprint("pwa", __name__)
IMMUTABLE = 365 * 24 * 3600  # a versioned URL names one build's file: its bytes never change


def _static() -> Path:
    return Path(current_app.static_folder or "")


@bp.get("/healthz")
@public
def healthz():
    """Answer ok when the database answers, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means not healthy
        db.session.rollback()
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok", build=current_app.config["BUILD"], release=current_app.config["RELEASE"],
                   min_build=current_app.config["MIN_BUILD"])


@bp.get("/favicon.ico")
@public
def favicon():
    """The icon browsers ask for by themselves (pages that are not ours, such as /healthz, name none)."""
    return send_from_directory(_static() / "icons", "icon-192.png", mimetype="image/png", max_age=86400)


@bp.get("/manifest.webmanifest")
@public
def manifest():
    """Describe the app for installation on a phone or tablet's home screen."""
    icon = lambda name, size, purpose: {  # noqa: E731
        "src": url_for("static", filename=f"icons/{name}"), "sizes": size, "type": "image/png", "purpose": purpose,
    }
    body = {
        "id": "/",
        "name": _("Shopfloor"),
        "short_name": _("Shopfloor"),
        "description": _("Bins, transfers and inspections on the factory floor, online or offline."),
        "start_url": url_for("floor.home"),
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#ffffff",
        "theme_color": "#0b4f8a",
        "icons": [
            icon("icon-192.png", "192x192", "any"),
            icon("icon-512.png", "512x512", "any"),
            icon("maskable-192.png", "192x192", "maskable"),
            icon("maskable-512.png", "512x512", "maskable"),
        ],
    }
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


# Static imports between our modules: `import … from "./x.js"`, `export … from "../y.js"`, `import "./z.js"`.
_IMPORT_RE = re.compile(r"""(?:\bfrom|^\s*import)\s*["'](\.{1,2}/[^"']+\.js)["']""", re.MULTILINE)


@lru_cache(maxsize=4)
def _module_graph(static: str, entry: str, build: str) -> tuple[str, ...]:
    """Every module `entry` imports, directly or not, by static path (the build keys the cache)."""
    root = Path(static).resolve()
    seen, pending = [], [entry]
    while pending:
        name = pending.pop(0)
        path = root / name
        if name in seen or not path.is_file():
            continue
        seen.append(name)
        for spec in _IMPORT_RE.findall(path.read_text(encoding="utf-8")):
            target = (path.parent / spec).resolve()
            if target.is_relative_to(root):
                pending.append(target.relative_to(root).as_posix())
    return tuple(seen[1:])


@bp.app_template_global()
def preloaded_modules() -> tuple[str, ...]:
    """List the modules app.js loads, for <link rel="modulepreload">: fetched at once, not import by import."""
    return _module_graph(str(_static()), "js/app.js", current_app.config["BUILD"])


def precache_urls() -> list[str]:
    """List what the worker keeps for offline use: static files, the manifest, the shells."""
    urls = [url_for(name) for name in ("pwa.offline", "pwa.offline_bin", "pwa.offline_slip", "pwa.offline_inspection",
                                       "pwa.offline_scan", "pwa.sync_panel", "pwa.manifest")]
    static, build = _static(), current_app.config["BUILD"]
    for path in sorted(static.rglob("*")):
        if path.is_file() and path.name != "sw.js" and not path.name.endswith(".LICENSE"):
            urls.append(url_for("pwa.versioned_static", build=build, filename=path.relative_to(static).as_posix()))
    return urls


@bp.get("/static/v/<build>/<path:filename>")
@public
def versioned_static(build: str, filename: str):
    """Serve a static file as build `build` shipped it, cached for good; the current file for a build no longer kept."""
    if filename == "sw.js":
        abort(404)  # the worker is served from /sw.js only, with its build filled in
    kept = kept_release(Path(current_app.config["STATIC_RELEASES"]), build)
    if kept is None and build != current_app.config["BUILD"]:
        # Older than the previous release: the current file is the best there is, but it is not
        # that build's, so the browser must not keep it under this name.
        response = send_from_directory(_static(), filename, max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response
    response = send_from_directory(kept or _static(), filename, max_age=IMMUTABLE)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.get("/sw.js")
@public
def service_worker():
    """Serve the service worker from the root scope, never cached by HTTP."""
    source = (_static() / "sw.js").read_text(encoding="utf-8")
    source = source.replace('"__BUILD__"', json.dumps(current_app.config["BUILD"]))
    source = source.replace('["__PRECACHE__"]', json.dumps(precache_urls()))
    response = Response(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/offline")
@public
def offline():
    """The page the worker shows when the network is gone and nothing better is cached."""
    return render_template("pwa/offline.html")


@bp.get("/sync")
@public
def sync_panel():
    """What this device holds that the server has not confirmed; sync now; export unsynced (works offline)."""
    return render_template("pwa/sync.html")


@bp.get("/offline/bin")
@public
def offline_bin():
    """A bin page shell the worker fills from pulled data for bins never opened online."""
    return render_template("pwa/offline_bin.html")


@bp.get("/offline/slip")
@public
def offline_slip():
    """A transfer slip shell the worker fills from pulled data and this device's own records, to sign offline."""
    return render_template("pwa/offline_slip.html")


@bp.get("/offline/inspection")
@public
def offline_inspection():
    """The inspection screen shell the worker serves offline; inspection.js fills it from pulled data and this
    device's own records (the query or the path of the page asked for says which inspection)."""
    return render_template("inspections/screen.html", inspection_id=None, kind=None, order=None, operation=None,
                           bin_code=None, reinspect=None, offline_shell=True)


@bp.get("/offline/scan")
@public
def offline_scan():
    """The scan screen the worker shows offline when it holds no signed-in copy (a cold start after an update)."""
    return render_template("floor/scan.html", error=None, code="")
