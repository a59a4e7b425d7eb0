"""The office: where every bin is, what was synced, what needs review."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from webapp.auth import requires
from webapp.domain.roles import Can
from webapp.htmx import render
from webapp.services import office

bp = Blueprint("office", __name__, url_prefix="/office")


@bp.get("/")
@requires(Can.VIEW_OFFICE)
def dashboard():
    """Show the floor at a glance: bins by place, recent records, open exceptions."""
    return render_template("office/dashboard.html", summary=office.summary())


@bp.get("/bins")
@requires(Can.VIEW_OFFICE)
def bins():
    """List every bin with its place, quantity and how long it has been there."""
    query = request.args.get("q", "").strip()
    return render("office/bins.html", "office/_bin_rows.html", rows=office.bin_rows(query), q=query)


@bp.get("/events")
@requires(Can.READ_EVENTS)
def events():
    """List synced records, newest first: who, which device, device time, server time."""
    bin_code = request.args.get("bin_code", "").strip().upper()
    return render("office/events.html", "office/_event_rows.html", rows=office.recent_events(bin_code),
                  bin_code=bin_code)
