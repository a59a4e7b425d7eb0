"""Administration: devices (list, revoke)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth import requires
from webapp.domain.roles import Can
from webapp.services import devices

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
