"""Counting a bin without JavaScript: the bin page's count form posts here (devices push `bin.counted`)."""

from __future__ import annotations

from flask import Blueprint, request
from flask_babel import gettext as _

from webapp.auth import requires
from webapp.domain.roles import Can
from webapp.routes.floor import record_form, show_bin
from webapp.services import blobs, counting

bp = Blueprint("counting", __name__)


@bp.post("/b/<code>/count")
@requires(Can.COUNT_BIN)
def count_bin(code: str):
    """Record a count posted without JavaScript (with its photo), through the same sync path as devices."""
    code = code.upper()
    fixed: dict = {"bin_code": code}
    upload = request.files.get("photo")
    if upload is not None and upload.filename:
        try:
            fixed["photos"] = [blobs.store_upload(upload.stream)]
        except (blobs.BlobRejected, ValueError) as exc:
            message = (_("The photo could not be taken now (upload limit reached). Save the count without it, "
                         "or try again later.") if isinstance(exc, blobs.UploadRefused)
                       else _("The photo is not a readable JPEG, PNG or WebP image."))
            return show_bin(code, 422, errors={counting.EVENT_TYPE: {"photo": message}},
                            values={counting.EVENT_TYPE: request.form.to_dict()})
    return record_form(counting.EVENT_TYPE, code, fixed, attachments=fixed.get("photos"),
                       saved=_("Count saved."), kept=_("Count kept for office review."))
