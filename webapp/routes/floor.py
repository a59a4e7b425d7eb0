"""The floor: the scan screen and the bin page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from sync.spec import FormInvalid
from webapp import forms
from webapp.auth import requires
from webapp.domain import scanning
from webapp.domain.roles import CAPABILITIES, Can, home_for, may
from webapp.htmx import render
from webapp.services import bins, moving, slips
from webapp.services.sync_service import record_locally

bp = Blueprint("floor", __name__)


@bp.app_context_processor
def action_roles():
    """Tell the offline bin shell (rendered for nobody) which roles it offers the count and the move to."""
    return {"move_roles": sorted(CAPABILITIES[Can.MOVE_BIN]), "count_roles": sorted(CAPABILITIES[Can.COUNT_BIN])}


@bp.get("/")
@requires(Can.USE_FLOOR)
def home():
    """Send each person to where their role starts: the scan screen or the office."""
    return redirect(url_for(home_for(current_user.role)))


@bp.get("/scan")
@requires(Can.USE_FLOOR)
def scan():
    """Show the scan screen; a code or this server's label URL sent without JavaScript opens its bin."""
    code = request.args.get("code", "").strip()
    if code:
        found = scanning.read_scan(code, (request.host_url, current_app.config.get("PUBLIC_URL", "")))
        if found.kind == scanning.BIN:
            return redirect(url_for("floor.bin_page", code=found.code))
        if found.kind == scanning.FOREIGN:
            error = _("This label belongs to another server: %(host)s. It was not opened.", host=found.host)
        elif found.kind == scanning.WRONG_CHECK:
            error = _("Check character wrong: a character mistyped or two swapped? Compare with the code under the QR.")
        else:
            error = _("That is not a bin code.")
        return render_template("floor/scan.html", error=error, code=code), 422
    return render_template("floor/scan.html", error=None, code="", refusals=slips.refusals_for(current_user))


@bp.get("/b/<code>")
@requires(Can.USE_FLOOR)
def bin_page(code: str):
    """Show a bin: where it is, what it holds, its records; the count and move forms for roles that may."""
    return show_bin(code.upper())


def show_bin(code: str, status: int = 200, errors: dict[str, dict[str, str]] | None = None,
             values: dict[str, Any] | None = None):
    """Render the bin page; after a form that was wrong (422), with what is wrong and what was typed.

    `errors` and `values` are keyed by event type, so every form of the page is shown again,
    the one that was wrong with its messages and the person's input.
    """
    view = bins.bin_view(code)
    can_count = may(current_user.role, Can.COUNT_BIN)
    can_move = may(current_user.role, Can.MOVE_BIN)
    show_log = may(current_user.role, Can.READ_EVENTS) or can_count or can_move
    return render("floor/bin.html", "floor/_bin_log.html", status, view=view, code=code, can_count=can_count,
                  can_move=can_move, places=moving.destinations() if can_move else [], show_log=show_log,
                  errors=errors or {}, values=values or {})


def record_form(event_type: str, code: str, fixed: dict[str, Any], attachments: list[str] | None = None,
                saved: str = "", kept: str = ""):
    """Record a bin page form posted without JavaScript through the same sync path as devices."""
    return post_record(event_type, fixed, lambda errors, values: show_bin(code, 422, errors, values),
                       url_for("floor.bin_page", code=code), saved, kept, attachments)


def post_record(event_type: str, fixed: dict[str, Any], show_again: Callable[[dict, dict], Any], done: str,
                saved: str, kept: str = "", attachments: list[str] | None = None):
    """Record a form posted without JavaScript through the same sync path as devices, then go to `done`.

    A form that is wrong is shown again by `show_again(errors, values)` (keyed by event type: what
    is wrong, field by field, in the person's language, and what was typed; the page answers 422);
    a record the server keeps for review says so (`kept`).
    """
    try:
        payload = forms.read_form(event_type, request.form, fixed)
    except FormInvalid as exc:
        return show_again({event_type: forms.messages(event_type, exc)}, {event_type: request.form.to_dict()})
    result = record_locally(current_user, event_type, payload, attachments=attachments)
    if result["status"] == "stored":
        flash(saved, "ok")
    else:
        flash(kept or _("Kept for office review."), "warn")
    return redirect(done, code=303)
