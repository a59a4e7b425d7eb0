"""The office: where every bin is, what was synced, what needs review."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth import requires
from webapp.domain.roles import Can, may
from webapp.htmx import render
from sync.spec import FormInvalid
from webapp import forms
from webapp.services import imports, office, review
from webapp.services.sync_service import record_locally

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


@bp.get("/review")
@requires(Can.VIEW_OFFICE)
def review_queue():
    """List every exception a rule raised and every quarantined record, open ones first."""
    return _review_page()


def _review_page(status: int = 200, errors: dict[int, str] | None = None, values: dict[int, str] | None = None):
    show_all = request.args.get("all") == "1"
    return render_template("office/review.html", items=review.queue(include_resolved=show_all),
                           show_all=show_all, can_resolve=may(current_user.role, Can.REVIEW),
                           errors=errors or {}, values=values or {}), status


@bp.post("/review/<int:exception_id>/resolve")
@requires(Can.REVIEW)
def resolve(exception_id: int):
    """Close an exception with a note; the resolution is itself a record in the log."""
    try:
        payload = forms.read_form(review.EVENT_TYPE, request.form, {"exception_id": exception_id})
    except FormInvalid as exc:
        message = " ".join(forms.messages(review.EVENT_TYPE, exc).values())
        return _review_page(422, {exception_id: message}, {exception_id: request.form.get("note", "")})
    result = record_locally(current_user, review.EVENT_TYPE, payload)
    if result["status"] == "stored" and not result["exceptions"]:
        flash(_("Closed."), "ok")
    else:
        flash(_("It was already closed, or does not exist."), "warn")
    return redirect(url_for("office.review_queue"), code=303)


@bp.route("/import", methods=["GET", "POST"])
@requires(Can.REVIEW)
def import_outbox():
    """Import a file a device exported (Sync → Export unsynced): its records go through the push path."""
    if request.method == "GET":
        return render_template("office/import.html", report=None, error=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("office/import.html", report=None, error=_("Choose the exported file.")), 422
    try:
        report = imports.import_outbox(upload.read(imports.MAX_IMPORT_BYTES + 1), current_user)
    except imports.ImportRefused:
        error = _("This is not a file exported by Shopfloor (Sync → Export unsynced). Nothing was imported.")
        return render_template("office/import.html", report=None, error=error), 422
    return render_template("office/import.html", report=report, error=None)
