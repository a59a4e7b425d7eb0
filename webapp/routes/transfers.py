"""Transfer slips: the slip page (sign, explain, refuse), its PDF, and the office's list of slips received.

Devices record slips offline (`transfer.*` events, webapp/services/transfers.py); the forms
here post the steps that need no drawing through the same sync path, and the bin page's "open a
transfer slip" form when the phone runs no JavaScript.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from markupsafe import Markup
from flask_babel import gettext as _
from flask_login import current_user

from sync.spec import FormInvalid
from webapp import forms
from webapp.auth import requires
from webapp.routes.floor import post_record
from webapp.names import local_name
from webapp.domain import transfers as rules
from webapp.domain.roles import Can, may
from webapp.services.slip_pdf import slip_pdf
from webapp.services import bins, blobs, moving, slips, transfers
from webapp.services.sync_service import record_locally

bp = Blueprint("transfers", __name__)

# The open form's destination select: its values, and the `to` each one means.
AREAS = {"next": {"next": True}, "waiting": {"area": "waiting"}, "warehouse": {"area": "warehouse"}}
OPERATION_PREFIX = "op:"


# Who may record a signature, sign each step, refuse: slip pages and the slip shell carry them, for the device
# to decide offline as the server would.
SLIP_ROLES = {"sign_roles": sorted(transfers.SIGNED_TYPE.roles),
              "step_roles": {step: sorted(roles) for step, roles in rules.STEP_ROLES.items()},
              "refuse_roles": sorted(transfers.REFUSED_TYPE.roles)}


@bp.app_template_global()
def slip_opening(bin_row) -> dict:
    """What opening a slip for this bin offers (the bin page's form: transfers/_open.html)."""
    return slips.opening(bin_row)


_OPEN_STRINGS: dict[str, Markup] = {}


@bp.app_template_global()
def open_slip_strings() -> Markup:
    """The strings the open-slip form's script shows, in the reader's language (rendered once per language)."""
    locale = str(get_locale())
    found = _OPEN_STRINGS.get(locale)
    if found is None:
        found = _OPEN_STRINGS[locale] = Markup(render_template("transfers/_open_strings.html"))
    return found


@bp.app_context_processor
def slip_roles():
    """Give every template the roles that may sign each step of a slip, and refuse one."""
    return SLIP_ROLES


def _slip_or_404(transfer_id: str) -> dict:
    found = slips.slip(transfer_id) if re.fullmatch(transfers.UUID, transfer_id) else None
    if found is None:
        abort(404)
    return found


@bp.get("/slips/<transfer_id>")
@requires(Can.USE_FLOOR)
def slip_page(transfer_id: str):
    """Show a slip: what it carries, each step's signature and its state, what it waits for."""
    if not re.fullmatch(transfers.UUID, transfer_id):
        abort(404)
    found = slips.slip(transfer_id)
    if found is None:
        # Opened on a device a moment ago and not synced yet: the slip shell shows what the device holds.
        return render_template("pwa/offline_slip.html", not_on_server=True), 404
    return _show(found)


def _show(slip: dict, status: int = 200, errors: dict | None = None, values: dict | None = None):
    role = current_user.role
    return render_template(
        "transfers/slip.html", slip=slip, errors=errors or {}, values=values or {},
        can_explain=role in transfers.EXPLAINED_TYPE.roles and slip["status"] == "discrepancy",
        can_write_off=may(role, Can.REVIEW) and slip["status"] == "discrepancy" and slip["kind"] != "return",
        can_refuse=role in transfers.REFUSED_TYPE.roles and slip["status"] == "open"), status


@bp.get("/slips/<transfer_id>.pdf")
@requires(Can.USE_FLOOR)
def slip_pdf_page(transfer_id: str):
    """The slip on paper (§4.6: the daily archive), with the drawn signatures, in the reader's language."""
    slip = _slip_or_404(transfer_id)
    locale = "zh_Hans_CN" if str(get_locale()).startswith("zh") else "en"
    body = slip_pdf(_for_print(slip), locale, current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="slip-{slip["number"][:8]}.pdf"'})


def _for_print(slip: dict) -> dict:
    """Shape a slip for the PDF: names in the reader's language, signature images from the blob store."""
    def place(p):
        return f'{p["code"]} {local_name(p)}' if p else None

    def at(text):
        return datetime.fromisoformat(text) if text else None

    def said(found):
        if not found:
            return None
        return {"text": found["text"], "reason": found["text"], "by": (found["by"] or {}).get("name") or "—",
                "at": at(found["at"]), "step": found.get("step", "")}

    product = slip["product"]
    written_off = said(slip["written_off"])
    if written_off is not None:
        written_off["quantity"] = slip["scrap_quantity"] or 0
    return {
        "number": slip["number"][:8].upper(), "transfer_id": slip["transfer_id"], "status": slip["status"],
        "part": slip["part"],
        "product": f'{product["code"]} {product["name_zh"]} / {product["name_en"]}' if product else None,
        "work_order": slip["work_order"], "bins": slip["bins"], "from_place": place(slip["from"]),
        "to_place": place(slip["to"]), "quantity": slip["quantity"] or 0,
        "opened_by": (slip["opened_by"] or {}).get("name") or "—", "opened_at": at(slip["opened_at"]),
        "content_hash": slip["content_hash"] or "",
        "signatures": [{
            "step": s["step"], "signer": (s["signer"] or {}).get("name") or "—",
            "role": (s["signer"] or {}).get("role"),
            "quantity": s["quantity"], "verdict": s["verdict"], "signed_at": at(s["signed_at"]),
            "device_id": s["device_id"], "verification": s["verification"], "state": s["state"],
            "image": _image(s["signature_sha256"]), "note": s["note"]} for s in slip["signatures"]],
        "explanation": said(slip["explanation"]), "written_off": written_off, "refusal": said(slip["refusal"]),
        "flags": [str(_flag_name(f["code"])) for f in slip["flags"]],
    }


def _flag_name(code: str) -> str:
    from webapp.areas import flag_name

    return flag_name(code)


def _image(sha256: str) -> bytes | None:
    """Return a signature's PNG bytes from the blob store, or None when it has not arrived."""
    served = blobs.open_image(sha256)
    if served is None:
        return None
    with served.file as file:
        return file.read()


def _destination(value: str) -> dict | str | None:
    """Return the `to` a value of the open form's select means ("next", "op:OP20", "waiting", "warehouse")."""
    if value.startswith(OPERATION_PREFIX):
        return {"operation": value[len(OPERATION_PREFIX):]}
    return AREAS.get(value, value or None)  # anything else stays as it came: the payload check refuses it


def _bin_codes(code: str, extra: str) -> list[str]:
    """Return the slip's bins: the page's bin, then the codes typed or scanned beside it (each once)."""
    typed = [c.strip().upper() for c in re.split(r"[\s,;，、]+", extra) if c.strip()]
    return list(dict.fromkeys([code, *typed]))


@bp.get("/b/<code>/transfer")
@requires(Can.MOVE_BIN)
def open_page(code: str):
    """The form that opens a transfer slip for a bin: one step a screen, the bin page stays light."""
    return _open_page(code.upper())


def _open_page(code: str, status: int = 200, errors: dict | None = None, values: dict | None = None):
    view = bins.bin_view(code)
    return render_template("transfers/open.html", view=view, code=code, places=moving.destinations(),
                           errors=errors or {}, values=values or {}), status


@bp.post("/b/<code>/transfer")
@requires(Can.MOVE_BIN)
def open_slip(code: str):
    """Open a transfer slip posted without JavaScript (the server makes its id) through the sync path devices use."""
    code = code.upper()
    fixed = {"transfer_id": request.form.get("transfer_id") or str(uuid.uuid4()),
             "bin_codes": _bin_codes(code, request.form.get("extra_bins", "")),
             "to": _destination(request.form.get("to", ""))}
    try:
        payload = forms.read_form(transfers.OPENED, request.form, fixed)
    except FormInvalid as exc:
        return _open_page(code, 422, errors={transfers.OPENED: forms.messages(transfers.OPENED, exc)},
                          values={transfers.OPENED: request.form.to_dict()})
    result = record_locally(current_user, transfers.OPENED, payload)
    mixup = next((f for f in result.get("exceptions", []) if f.get("code") == "mixup_risk"), None)
    if result["status"] != "stored":
        flash(_("Kept for office review."), "warn")
    elif mixup is not None:
        # Without JavaScript nothing stopped it before saving: say so now; the office sees the flag.
        flash(_("Slip opened, but %(part)s and %(other)s are similar parts (mix-up risk, §3.3): keep them apart "
                "and tell the office.", part=mixup.get("part"), other=mixup.get("other_part")), "warn")
    else:
        flash(_("Slip opened: now sign it."), "ok")
    return redirect(url_for("transfers.slip_page", transfer_id=payload["transfer_id"]), code=303)


@bp.post("/slips/<transfer_id>/explain")
@requires(Can.USE_FLOOR)
def explain(transfer_id: str):
    """Record the upstream operator's explanation of a difference (§5.4), or the inspector's of a return (§5.3)."""
    return _record(transfer_id, transfers.EXPLAINED, _("Explanation recorded."))


@bp.post("/slips/<transfer_id>/write-off")
@requires(Can.REVIEW)
def write_off(transfer_id: str):
    """Close a difference without an explanation: the statistician books it as scrap, saying why."""
    return _record(transfer_id, transfers.WRITTEN_OFF, _("The difference is booked as scrap."))


@bp.post("/slips/<transfer_id>/refuse")
@requires(Can.USE_FLOOR)
def refuse(transfer_id: str):
    """Refuse the parts (the receiver) or the transfer (the clerk, §4.9), with a reason."""
    return _record(transfer_id, transfers.REFUSED, _("Refusal recorded."))


def _record(transfer_id: str, event_type: str, saved: str):
    if current_user.role not in transfers.ROLES[event_type]:
        abort(403)  # the event type's roles: the same rule as for a device's record
    slip = _slip_or_404(transfer_id)
    return post_record(event_type, {"transfer_id": slip["transfer_id"]},
                       lambda errors, values: _show(slip, 422, errors, values),
                       url_for("transfers.slip_page", transfer_id=slip["transfer_id"]), saved)


@bp.get("/office/slips")
@requires(Can.VIEW_OFFICE)
def office_slips():
    """The slips the statistician receives (§3.2): completed on a day, or all opened that day by status."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    try:
        day = datetime.strptime(request.args.get("day", ""), "%Y-%m-%d").date()
    except ValueError:
        day = datetime.now(zone).date()
    status = request.args.get("status", "complete")
    if status not in ("complete", "open", "discrepancy", "refused", "all"):
        status = "complete"
    start = datetime.combine(day, time.min, zone)
    rows = slips.signed_slips(start, start + timedelta(days=1), None if status == "all" else status)
    return render_template("transfers/office_list.html", rows=rows, day=day, status=status,
                           counts=slips.counts_by_status(), waiting=slips.waiting_bins())


@bp.get("/slips/mine")
@requires(Can.USE_FLOOR)
def my_slips():
    """The clerk's own record of what they transferred (and the slips they signed), today and before."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return render_template("transfers/mine.html", rows=slips.slips_of(current_user.id),
                           today=datetime.now(zone).date())
