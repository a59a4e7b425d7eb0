"""The floor: the scan screen and the bin page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth import requires
from webapp.domain.roles import Can, home_for, may
from webapp.htmx import render
from webapp.services import bins, blobs
from webapp.services.sync_service import record_locally

bp = Blueprint("floor", __name__)


@bp.get("/")
@requires(Can.USE_FLOOR)
def home():
    """Send each person to where their role starts: the scan screen or the office."""
    return redirect(url_for(home_for(current_user.role)))


@bp.get("/scan")
@requires(Can.USE_FLOOR)
def scan():
    """Show the scan screen with manual entry; a typed or wedge-scanned code opens its bin."""
    code = request.args.get("code", "").strip()
    if code:
        target = bins.code_from_scan(code)
        if target:
            return redirect(url_for("floor.bin_page", code=target))
        return render_template("floor/scan.html", error=_("That is not a bin code."), code=code), 422
    return render_template("floor/scan.html", error=None, code="")


@bp.get("/b/<code>")
@requires(Can.USE_FLOOR)
def bin_page(code: str):
    """Show a bin: where it is, what it holds, its counts; the count form for roles that count."""
    view = bins.bin_view(code.upper())
    can_count = may(current_user.role, Can.COUNT_BIN)
    show_log = may(current_user.role, Can.READ_EVENTS) or can_count
    return render("floor/bin.html", "floor/_bin_log.html", view=view, code=code.upper(),
                  can_count=can_count, show_log=show_log)


@bp.post("/b/<code>/count")
@requires(Can.COUNT_BIN)
def count_bin(code: str):
    """Record a count posted without JavaScript, through the same sync path as devices."""
    form = request.form
    try:
        quantity = int(form.get("quantity", ""))
    except ValueError:
        quantity = -1
    payload = {"bin_code": code.upper(), "quantity": quantity, "unit": form.get("unit", "pcs")}
    if form.get("note", "").strip():
        payload["note"] = form["note"].strip()
    if quantity < 0:
        view = bins.bin_view(code.upper())
        return render_template("floor/bin.html", view=view, code=code.upper(), can_count=True, show_log=True,
                               form_error=_("Enter the number of pieces, 0 or more.")), 422
    photos = []
    upload = request.files.get("photo")
    if upload is not None and upload.filename:
        try:
            photos.append(blobs.store_upload(upload.stream))
        except (blobs.BlobRejected, ValueError):
            view = bins.bin_view(code.upper())
            return render_template("floor/bin.html", view=view, code=code.upper(), can_count=True, show_log=True,
                                   form_error=_("The photo is not a readable JPEG, PNG or WebP image.")), 422
        payload["photos"] = photos
    result = record_locally(current_user, "bin.counted", payload, attachments=photos)
    if result["status"] == "stored":
        flash(_("Count saved."), "ok")
    else:
        flash(_("Count kept for office review."), "warn")
    return redirect(url_for("floor.bin_page", code=code.upper()), code=303)
