"""Administration: devices (list, revoke), people's staff badges and PINs."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth import requires
from webapp.domain.roles import Can
from webapp.services import devices, signers, staff

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/devices")
@requires(Can.MANAGE_DEVICES)
def device_list():
    """List devices with who uses them, their last sync and what they have not delivered."""
    return render_template("admin/devices.html", rows=devices.listing())


@bp.post("/devices/<device_id>/revoke")
@requires(Can.MANAGE_DEVICES)
def revoke_device(device_id: str):
    """Revoke a device: its token stops working; what it holds stays on it and can be exported."""
    if devices.revoke(device_id, current_user):
        flash(_("Device revoked. Its unsynced records stay on it and can be exported there."), "ok")
    else:
        flash(_("No such device, or it was already revoked."), "warn")
    return redirect(url_for("admin.device_list"), code=303)


@bp.get("/people")
@requires(Can.ADMIN)
def people():
    """List people with their staff badge and whether they set a signing PIN."""
    return render_template("admin/people.html", rows=staff.listing())


@bp.post("/people/<int:user_id>/badge")
@requires(Can.ADMIN)
def issue_badge(user_id: int):
    """Issue a staff badge (a lost one is revoked and replaced): print the card next."""
    if staff.person(user_id) is None:
        abort(404)
    signers.issue_badge(user_id, current_user.id)
    flash(_("New badge issued. Print the card; an earlier card no longer signs."), "ok")
    return redirect(url_for("admin.people", _anchor=f"person-{user_id}"), code=303)


@bp.get("/people/<int:user_id>/badge.pdf")
@requires(Can.ADMIN)
def badge_card(user_id: int):
    """Download a person's staff card (name, role, photo space, badge QR) to print."""
    card = staff.card_pdf(user_id)
    if card is None:
        abort(404)
    filename, data = card
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # it carries the badge secret
    return response


@bp.post("/people/<int:user_id>/badge/revoke")
@requires(Can.ADMIN)
def revoke_badge(user_id: int):
    """Revoke a person's badge (lost, left the plant): it signs nothing from now on."""
    reason = request.form.get("reason", "lost")
    if signers.revoke_badge(user_id, current_user.id, reason if reason in staff.REVOKE_REASONS else "other"):
        flash(_("Badge revoked. Records it signed before stay valid."), "ok")
    else:
        flash(_("This person has no badge in use."), "warn")
    return redirect(url_for("admin.people", _anchor=f"person-{user_id}"), code=303)


@bp.post("/people/<int:user_id>/pin/clear")
@requires(Can.ADMIN)
def clear_pin(user_id: int):
    """Clear a forgotten PIN: the person sets a new one after signing in."""
    if staff.person(user_id) is None:
        abort(404)
    signers.clear_pin(user_id)
    flash(_("PIN cleared. The person sets a new one under My PIN."), "ok")
    return redirect(url_for("admin.people", _anchor=f"person-{user_id}"), code=303)
