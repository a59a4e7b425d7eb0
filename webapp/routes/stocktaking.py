"""Stocktakes: start one on the floor, count bins in continuous mode, close it; the office's report and approval.

Every form here posts through the same sync path as a device (`record_locally`). With JavaScript
the counting screen saves its counts and its close in the device's outbox instead
(static/js/behaviours/stocktake.js), so it keeps working offline.
"""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from sync.spec import FormInvalid
from webapp import forms
from webapp.auth import requires
from webapp.domain import scanning
from webapp.domain.counting import MAX_QUANTITY
from webapp.domain.roles import Can, may
from webapp.domain.stocktaking import UUID_PATTERN
from webapp.services import stocktaking
from webapp.services.records import events_for
from webapp.services.sync_service import record_locally

bp = Blueprint("stocktaking", __name__)

COUNTED = stocktaking.COUNTED


def _view_or_404(stocktake_id: str) -> stocktaking.StocktakeView:
    found = stocktaking.stocktake_view(stocktake_id) if re.fullmatch(UUID_PATTERN, stocktake_id) else None
    if found is None:
        abort(404)
    return found


# --- The floor ---------------------------------------------------------------------------------


@bp.get("/stocktakes")
@requires(Can.STOCKTAKE)
def floor_list():
    """Offer to start a stocktake of an area, and list the open ones to join."""
    return _floor_list()


def _floor_list(status: int = 200, errors: dict | None = None, values: dict | None = None):
    return render_template("stocktaking/floor_list.html", open_ones=stocktaking.stocktakes("open"),
                           areas=stocktaking.areas_to_count(), new_id=str(uuid.uuid4()),
                           errors=errors or {}, values=values or {}), status


@bp.post("/stocktakes")
@requires(Can.STOCKTAKE)
def start():
    """Start a stocktake of the area chosen (its id comes with the form, so sending it twice starts one)."""
    stocktake_id = request.form.get("stocktake_id", "").strip()
    if re.fullmatch(UUID_PATTERN, stocktake_id) and stocktaking.exists(stocktake_id):
        return redirect(url_for("stocktaking.stocktake_page", stocktake_id=stocktake_id), code=303)
    try:
        payload = forms.read_form(stocktaking.STARTED, request.form, {})
    except FormInvalid as exc:
        return _floor_list(422, errors=forms.messages(stocktaking.STARTED, exc), values=request.form.to_dict())
    result = record_locally(current_user, stocktaking.STARTED, payload)
    if result["status"] != "stored":
        flash(_("Kept for office review."), "warn")
        return redirect(url_for("stocktaking.floor_list"), code=303)
    return redirect(url_for("stocktaking.stocktake_page", stocktake_id=payload["stocktake_id"]), code=303)


@bp.get("/stocktakes/<stocktake_id>")
@requires(Can.STOCKTAKE)
def stocktake_page(stocktake_id: str):
    """The counting screen of an open stocktake (camera on, one bin after another); once closed, its report."""
    return _show(_view_or_404(stocktake_id))


def _show(view: stocktaking.StocktakeView, status: int = 200, errors: dict | None = None,
          values: dict | None = None):
    if view.status != "open":
        return render_template("stocktaking/closed.html", st=view, status_names=stocktaking.STATUS_NAMES), status
    return render_template("stocktaking/count.html", st=view, data=_device_data(view), errors=errors or {},
                           values=values or {}), status


def _device_data(view: stocktaking.StocktakeView) -> dict:
    """What the counting screen's script needs, offline too: the bins expected (codes only: the count
    stays blind to the book quantity), the counts the server has, and the screen's own words."""
    return {
        "stocktake_id": view.stocktake_id,
        "expected": [e["code"] for e in view.expected],
        "counted": view.counted,
        "strings": {
            "how_many": _("How many pieces in %(code)s?", code="{code}"),
            "on_list": _("On the list for this area."),
            "not_on_list": _("Not on the list for this area: count it anyway, the report will show it."),
            "counted_already": _("%(code)s is counted: %(n)s pcs. To count it again, tap “Count again” in the list.",
                                 code="{code}", n="{n}"),
            "saved_count": _("%(code)s: %(n)s pcs saved on this device.", code="{code}", n="{n}"),
            "not_counted": _("not counted yet"),
            "close_confirm": _("Tap again to close. The report is made from the counts the server has then."),
            "closing_saved": _("Closed on this device. The report opens once the server has it."),
            "close_kept": _("The close was kept for office review."),
            "closed_on_server": _("Closed. The report opens when this page is loaded with a connection."),
            "closed_elsewhere": _("This stocktake was closed on another device. Counts saved after the close are "
                                  "kept for review, not added to the report."),
            "open_report": _("Open the report"),
        },
    }


@bp.post("/stocktakes/<stocktake_id>/count")
@requires(Can.STOCKTAKE)
def count(stocktake_id: str):
    """Record a count of the stocktake posted without JavaScript: the bin's code (or label URL) and its pieces."""
    view = _view_or_404(stocktake_id)
    typed = request.form.get("bin_code", "")
    scan = scanning.read_scan(typed, (request.host_url, current_app.config.get("PUBLIC_URL", "")))
    errors = {}
    if scan.kind != scanning.BIN:
        errors["bin_code"] = (_("Check character wrong: a character mistyped or two swapped? Compare with the code "
                                "under the QR.") if scan.kind == scanning.WRONG_CHECK else _("That is not a bin code."))
    try:
        # A code that is not a bin's is said above; the rest of the form is still checked.
        payload = forms.read_form(COUNTED, request.form, {
            "bin_code": scan.code if scan.kind == scanning.BIN else "?", "unit": "pcs", "stocktake_id": stocktake_id})
    except FormInvalid as exc:
        errors = {**forms.messages(COUNTED, exc), **errors}
    if errors:
        return _show(view, 422, errors={COUNTED: errors}, values=request.form.to_dict())
    result = record_locally(current_user, COUNTED, payload)
    if result["status"] == "stored" and not any(f["code"] == "stocktake_closed" for f in result["exceptions"]):
        flash(_("%(code)s: %(n)s pcs saved.", code=payload["bin_code"], n=payload["quantity"]), "ok")
    else:
        flash(_("Count kept for office review."), "warn")
    return redirect(url_for("stocktaking.stocktake_page", stocktake_id=stocktake_id), code=303)


@bp.post("/stocktakes/<stocktake_id>/close")
@requires(Can.STOCKTAKE)
def close(stocktake_id: str):
    """Close the stocktake: its report is frozen and goes to the statistician."""
    view = _view_or_404(stocktake_id)
    if view.status == "open":
        payload = forms.read_form(stocktaking.CLOSED, {}, {"stocktake_id": stocktake_id})
        result = record_locally(current_user, stocktaking.CLOSED, payload)
        flash(_("Stocktake closed.") if result["status"] == "stored" else _("Kept for office review."),
              "ok" if result["status"] == "stored" else "warn")
    return redirect(url_for("stocktaking.stocktake_page", stocktake_id=stocktake_id), code=303)


# --- The office --------------------------------------------------------------------------------


@bp.get("/office/stocktakes")
@requires(Can.VIEW_OFFICE)
def office_list():
    """List stocktakes, newest first: open, waiting for approval, approved."""
    status = request.args.get("status", "")
    if status not in stocktaking.STATUS_NAMES:
        status = ""
    return render_template("stocktaking/office_list.html", rows=stocktaking.stocktakes(status or None),
                           status=status, status_names=stocktaking.STATUS_NAMES)


@bp.get("/office/stocktakes/<stocktake_id>")
@requires(Can.VIEW_OFFICE)
def report(stocktake_id: str):
    """A stocktake's variance report; for the statistician, once it is closed, the approval form."""
    return _office_report(_view_or_404(stocktake_id))


def _office_report(view: stocktaking.StocktakeView, status: int = 200, errors: dict | None = None,
                   values: MultiDict | None = None):
    can_approve = may(current_user.role, Can.REVIEW) and view.status == "closed"
    if values is None:  # first showing: the proposed adjustments are ticked, with the counted quantities
        proposed = view.proposed
        chosen = set(proposed)
        quantities = {line.code: proposed.get(line.code, line.counted if line.counted is not None else 0)
                      for line in view.report.lines}
        note = ""
    else:
        chosen = set(values.getlist("adjust"))
        quantities = {line.code: values.get(f"quantity-{line.code}", "") for line in view.report.lines}
        note = values.get("note", "")
    return render_template("stocktaking/office_report.html", st=view, can_approve=can_approve,
                           status_names=stocktaking.STATUS_NAMES, errors=errors or {}, chosen=chosen,
                           quantities=quantities, note=note,
                           st_events=events_for(f"stocktake:{view.stocktake_id}")), status


@bp.post("/office/stocktakes/<stocktake_id>/approve")
@requires(Can.REVIEW)
def approve(stocktake_id: str):
    """Approve a closed stocktake's adjustments: each ticked bin's book quantity becomes the one given, with a note."""
    view = _view_or_404(stocktake_id)
    if view.status != "closed":
        flash(_("Only a closed stocktake can be approved, once."), "warn")
        return redirect(url_for("stocktaking.report", stocktake_id=stocktake_id), code=303)
    lines = {line.code for line in view.report.lines}
    errors: dict[str, str] = {}
    adjustments = []
    for code in dict.fromkeys(request.form.getlist("adjust")):
        if code not in lines:
            continue  # only bins of this report
        text = request.form.get(f"quantity-{code}", "").strip()
        quantity = int(text) if text.isdigit() and len(text) <= 7 else -1
        if not 0 <= quantity <= MAX_QUANTITY:
            errors[f"quantity-{code}"] = forms.field_message(COUNTED, "quantity")
        else:
            adjustments.append({"bin_code": code, "quantity": quantity})
    try:
        payload = forms.read_form(stocktaking.APPROVED, request.form,
                                  {"stocktake_id": stocktake_id, "adjustments": adjustments})
    except FormInvalid as exc:
        errors.update(forms.messages(stocktaking.APPROVED, exc))
    if errors:
        return _office_report(view, 422, errors=errors, values=request.form)
    result = record_locally(current_user, stocktaking.APPROVED, payload)
    flash(_("Adjustments approved.") if result["status"] == "stored" else _("Kept for office review."),
          "ok" if result["status"] == "stored" else "warn")
    return redirect(url_for("stocktaking.report", stocktake_id=stocktake_id), code=303)
