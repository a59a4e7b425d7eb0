"""A person's own settings: the signing PIN they choose."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth import requires
from webapp.domain.roles import Can
from webapp.domain.signing import PinRefused
from webapp.services import signers

bp = Blueprint("account", __name__, url_prefix="/me")


@bp.route("/pin", methods=["GET", "POST"])
@requires(Can.USE_FLOOR)
def pin():
    """Set the PIN that, with the staff badge, signs on someone else's device."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        new, again = request.form.get("pin", ""), request.form.get("pin_again", "")
        if not current_user.check_password(request.form.get("password", "")):
            errors["password"] = _("That is not your password.")
        elif new != again:
            errors["pin_again"] = _("The two PINs differ.")
        else:
            try:
                signers.set_pin(current_user.id, new)
            except PinRefused as exc:
                errors["pin"] = (_("A PIN is 4 to 8 digits.") if exc.reason == "format" else
                                 _("Choose a PIN that is not one digit repeated or a run like 1234."))
        if not errors:
            flash(_("PIN saved. With your staff badge it signs on any device of the plant."), "ok")
            return redirect(url_for("account.pin"), code=303)
    badge = signers.current_badge(current_user.id)
    return render_template("account/pin.html", errors=errors, badge=badge), 422 if errors else 200
