"""The installable app: manifest, service worker, offline shells, health check."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import text

from webapp.auth import public
from webapp.extensions import db

bp = Blueprint("pwa", __name__)
STATIC = Path(__file__).resolve().parent.parent / "static"


@bp.get("/healthz")
@public
def healthz():
    """Answer ok when the database answers, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means not healthy
        db.session.rollback()
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok", build=current_app.config["BUILD"])


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


def precache_urls() -> list[str]:
    """List what the worker keeps for offline use: static files, the manifest, the shells."""
    urls = [url_for("pwa.offline"), url_for("pwa.offline_bin"), url_for("pwa.sync_panel"), url_for("pwa.manifest")]
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and path.name != "sw.js" and not path.name.endswith(".LICENSE"):
            urls.append(url_for("static", filename=path.relative_to(STATIC).as_posix()))
    return urls


@bp.get("/sw.js")
@public
def service_worker():
    """Serve the service worker from the root scope, never cached by HTTP."""
    source = (STATIC / "sw.js").read_text(encoding="utf-8")
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
