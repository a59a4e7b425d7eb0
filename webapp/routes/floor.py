"""The floor: the scan screen and the bin page."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth import requires
from sync.registry import PayloadInvalid
from webapp.domain import scanning
from webapp.domain.roles import CAPABILITIES, Can, home_for, may
from webapp.htmx import render
from webapp.services import bins, blobs, moves
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
    return render_template("floor/scan.html", error=None, code="")


@bp.get("/b/<code>")
@requires(Can.USE_FLOOR)
def bin_page(code: str):
    """Show a bin: where it is, what it holds, its records; the count and move forms for roles that may."""
    view = bins.bin_view(code.upper())
    can_count = may(current_user.role, Can.COUNT_BIN)
    can_move = may(current_user.role, Can.MOVE_BIN)
    show_log = may(current_user.role, Can.READ_EVENTS) or can_count or can_move
    return render("floor/bin.html", "floor/_bin_log.html", view=view, code=code.upper(), can_count=can_count,
                  can_move=can_move, places=moves.destinations() if can_move else [], show_log=show_log)


def _move_error(field: str) -> str:
    """Say in the person's language what is wrong with the move form."""
    if field == "to_location":
        return _("Choose where the bin goes.")
    if field == "quantity":
        return _("Enter the number of pieces, 0 or more.")
    if field == "note":
        return _("The note is too long.")
    return _("The page is out of date. Open the bin again.")  # the hidden fields the page filled in


@bp.post("/b/<code>/move")
@requires(Can.MOVE_BIN)
def move_bin(code: str):
    """Record a move posted without JavaScript, through the same sync path as devices."""
    code = code.upper()
    try:
        payload = moves.move_from_form(code, request.form)
    except PayloadInvalid as exc:
        return render_template("floor/bin.html", view=bins.bin_view(code), code=code,
                               can_count=may(current_user.role, Can.COUNT_BIN), can_move=True,
                               places=moves.destinations(), show_log=True, move_error=_move_error(exc.field)), 422
    result = record_locally(current_user, moves.EVENT_TYPE, payload)
    if result["status"] == "stored":
        flash(_("Bin moved."), "ok")
    else:
        flash(_("Move kept for office review."), "warn")
    return redirect(url_for("floor.bin_page", code=code), code=303)


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
        except (blobs.BlobRejected, ValueError) as exc:
            view = bins.bin_view(code.upper())
            message = (_("The photo could not be taken now (upload limit reached). Save the count without it, "
                         "or try again later.") if isinstance(exc, blobs.UploadRefused)
                       else _("The photo is not a readable JPEG, PNG or WebP image."))
            return render_template("floor/bin.html", view=view, code=code.upper(), can_count=True, show_log=True,
                                   form_error=message), 422
        payload["photos"] = photos
    result = record_locally(current_user, "bin.counted", payload, attachments=photos)
    if result["status"] == "stored":
        flash(_("Count saved."), "ok")
    else:
        flash(_("Count kept for office review."), "warn")
    return redirect(url_for("floor.bin_page", code=code.upper()), code=303)
