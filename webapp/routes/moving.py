"""Moving a bin without JavaScript: the bin page's move form posts here (devices push `bin.moved`)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import gettext as _

from webapp.auth import requires
from webapp.domain.roles import Can
from webapp.routes.floor import record_form
from webapp.services import moving

bp = Blueprint("moving", __name__)


@bp.post("/b/<code>/move")
@requires(Can.MOVE_BIN)
def move_bin(code: str):
    """Record a move posted without JavaScript, through the same sync path as devices."""
    return record_form(moving.EVENT_TYPE, code.upper(), {"bin_code": code.upper()},
                       saved=_("Bin moved."), kept=_("Move kept for office review."))
