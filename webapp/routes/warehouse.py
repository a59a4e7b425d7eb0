"""Warehouse slips (入库单 / 出库单): fill one in, its page with its four copies, sign, void; the books; what is out.

Devices record slips through push (`warehouse.*` events, webapp/services/warehouse.py); these pages
post the same events through `record_locally`. The number comes from the server: a device learns
it from `GET /api/v1/warehouse-slips/<slip_id>` (or this page), and shows the slip as provisional
until then.
"""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from sync.spec import FormInvalid, PayloadInvalid
from webapp import forms
from webapp.auth import json_error, requires
from webapp.domain import warehouse as rules
from webapp.domain.roles import Can
from webapp.extensions import db
from webapp.models import Product, SlipBook, WorkOrder, Workshop
from webapp.routes.floor import post_record
from webapp.services import warehouse, warehouse_slips
from webapp.services.sync_service import record_locally

bp = Blueprint("warehouse", __name__)
SPLIT_CODES = re.compile(r"[\s,;，；]+")


@bp.app_context_processor
def warehouse_names() -> dict:
    """The names the area's pages and record partials show (in the reader's language, when rendered)."""
    w = warehouse_slips
    return {"wh_kind_names": w.KIND_NAMES, "wh_source_names": w.SOURCE_NAMES, "wh_step_names": w.STEP_NAMES,
            "wh_status_names": w.STATUS_NAMES, "wh_state_names": w.STATE_NAMES, "wh_copy_names": w.COPY_NAMES,
            "wh_copy_ordinals": w.COPY_ORDINALS, "warehouse_fillers": warehouse.ROLES[warehouse.OPENED]}


def _allow(roles) -> None:
    """Refuse (403) a person whose role is not in `roles`: the same rule as for a device's record."""
    if current_user.role not in roles:
        abort(403)


def _slip_or_404(slip_id: str) -> dict:
    found = warehouse_slips.slip(slip_id) if re.fullmatch(warehouse.UUID, slip_id) else None
    if found is None:
        abort(404)
    return found


@bp.get("/warehouse/")
@requires(Can.USE_WAREHOUSE)
def index():
    """The slips waiting for this person's signature, the books by kind, and what they may fill in."""
    role = current_user.role
    default = {"accountant": "issue", "office": "entry", "inspector": "entry", "clerk": "issue"}.get(role)
    kind = request.args.get("kind", default or "all")
    return render_template("warehouse/index.html", waiting=warehouse_slips.waiting_for(role),
                           books=warehouse_slips.books(kind if kind in rules.KINDS else None), kind=kind)


@bp.get("/warehouse/new")
@requires(Can.USE_FLOOR)
def new_slip():
    """The form to fill in a slip, for the kinds this person may fill (§3.5-§3.8)."""
    _allow(warehouse.ROLES[warehouse.OPENED])
    return _new_form()


def _new_form(status: int = 200, errors: dict | None = None, values: dict | None = None):
    values = values or {}
    choices = rules.fillable(current_user.role)
    asked = (request.args.get("kind"), request.args.get("source"))
    chosen = asked if asked in choices else choices[0]
    return render_template(
        "warehouse/new.html", choices=choices, chosen=chosen, errors=errors or {}, values=values,
        slip_id=values.get(warehouse.OPENED, {}).get("slip_id") or str(uuid.uuid4()),
        workshops=list(db.session.execute(select(Workshop.code).order_by(Workshop.code)).scalars()),
        owners=list(db.session.execute(select(SlipBook.owner).distinct().order_by(SlipBook.owner)).scalars()),
        products=list(db.session.execute(select(Product).order_by(Product.code)).scalars()),
        work_orders=list(db.session.execute(select(WorkOrder.number).where(WorkOrder.status != "closed")
                                            .order_by(WorkOrder.number)).scalars())), status


@bp.post("/warehouse/slips")
@requires(Can.USE_FLOOR)
def open_slip():
    """Fill in a slip: the server numbers it in its book at once; then its page."""
    _allow(warehouse.ROLES[warehouse.OPENED])
    form = request.form.to_dict()
    codes = [c for c in SPLIT_CODES.split(form.pop("bin_codes", "")) if c]
    fixed = {"slip_id": form.get("slip_id") if re.fullmatch(warehouse.UUID, form.get("slip_id", "")) else
             str(uuid.uuid4())}
    if codes:
        fixed["bin_codes"] = codes
    try:
        payload = forms.read_form(warehouse.OPENED, form, fixed)
        if not rules.may_fill(payload["kind"], payload["source"], current_user.role):
            raise FormInvalid({"source": PayloadInvalid("source", "role may not fill", "role")})
    except FormInvalid as exc:
        errors = forms.messages(warehouse.OPENED, exc)
        if "source" in exc.errors and exc.errors["source"].rule == "role":
            errors["source"] = _("Your role may not fill in this kind of slip.")
        typed = {**request.form.to_dict(), "slip_id": fixed["slip_id"]}
        return _new_form(422, errors={warehouse.OPENED: errors}, values={warehouse.OPENED: typed})
    found = warehouse_slips.slip(payload["slip_id"])
    if found is not None and not found["provisional"]:  # the same form posted again (a double tap, a reload)
        flash(_("This slip was already filled in: %(number)s.", number=found["display_number"]), "ok")
        return redirect(url_for("warehouse.slip_page", slip_id=found["slip_id"]), code=303)
    result = record_locally(current_user, warehouse.OPENED, payload)
    found = warehouse_slips.slip(payload["slip_id"])
    if result["status"] != "stored" or found is None or found["provisional"]:
        flash(_("Kept for office review."), "warn")
        return redirect(url_for("warehouse.index"), code=303)
    flash(_("Slip %(number)s filled in.", number=found["display_number"]), "ok")
    return redirect(url_for("warehouse.slip_page", slip_id=found["slip_id"]), code=303)


@bp.get("/warehouse/slips/<slip_id>")
@requires(Can.USE_WAREHOUSE)
def slip_page(slip_id: str):
    """Show a slip as one of its four copies (?copy=): its number, content, signatures in order, and flags."""
    return _show(_slip_or_404(slip_id))


def _show(slip: dict, status: int = 200, errors: dict | None = None, values: dict | None = None):
    role = current_user.role
    copy = None if slip["provisional"] else rules.copy_for(slip["kind"], slip["source"], role,
                                                            request.args.get("copy"))
    step = slip.get("next_step")
    may_sign = step is not None and rules.may_sign(slip["kind"], step, role)
    badge_only = step in rules.BADGE_STEPS and not may_sign  # this device collects the buyer's badge and PIN
    can_sign = may_sign or badge_only
    can_void = (not slip["provisional"] and slip["status"] != "void"
                and rules.may_void(slip["kind"], slip["source"], role))
    return render_template(
        "warehouse/slip.html", slip=slip, copy=copy, errors=errors or {}, values=values or {},
        copy_number=(lambda c: rules.copy_number(slip["kind"], slip["source"], c)) if copy else None,
        can_sign=can_sign, badge_only=badge_only, can_void=can_void), status


@bp.get("/warehouse/slips/<slip_id>.pdf")
@requires(Can.USE_WAREHOUSE)
def slip_pdf(slip_id: str):
    """One copy of the slip on paper (A4 PDF), in the reader's language, with the drawn signatures."""
    from webapp.services.warehouse_pdf import warehouse_slip_pdf

    slip = _slip_or_404(slip_id)
    if slip["provisional"]:
        abort(404)
    copy = rules.copy_for(slip["kind"], slip["source"], current_user.role, request.args.get("copy"))
    locale = "zh_Hans_CN" if str(get_locale()).startswith("zh") else "en"
    body = warehouse_slip_pdf(slip, copy, locale, current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{slip["display_number"]}-{copy}.pdf"'})


@bp.post("/warehouse/slips/<slip_id>/sign")
@requires(Can.USE_FLOOR)
def sign(slip_id: str):
    """Record a signature posted without JavaScript (the drawing needs it: the device's form saves offline)."""
    return _record(slip_id, warehouse.SIGNED, _("Signature recorded."))


@bp.post("/warehouse/slips/<slip_id>/void")
@requires(Can.USE_FLOOR)
def void(slip_id: str):
    """Void a slip with a reason: it keeps its number, marked void; the number is never given again."""
    _allow(warehouse.ROLES[warehouse.VOIDED])
    slip = _slip_or_404(slip_id)
    if slip["provisional"] or not rules.may_void(slip["kind"], slip["source"], current_user.role):
        abort(403)
    return _record(slip_id, warehouse.VOIDED, _("The slip is void. It keeps its number."), slip)


def _record(slip_id: str, event_type: str, saved: str, slip: dict | None = None):
    _allow(warehouse.ROLES[event_type])
    slip = slip or _slip_or_404(slip_id)
    return post_record(event_type, {"slip_id": slip["slip_id"]},
                       lambda errors, values: _show(slip, 422, errors, values),
                       url_for("warehouse.slip_page", slip_id=slip["slip_id"]), saved)


@bp.get("/warehouse/books/<int:book_id>")
@requires(Can.USE_WAREHOUSE)
def book_page(book_id: int):
    """A book's slips by number (200 a page, up to ?upto=): none missing, voids shown with their reason."""
    found = warehouse_slips.book(book_id, request.args.get("upto", type=int))
    if found is None:
        abort(404)
    return render_template("warehouse/book.html", book=found)


@bp.get("/warehouse/outsourced")
@requires(Can.USE_WAREHOUSE)
def outsourced():
    """What is out with outside factories (外协): with whom, how many, since when."""
    return render_template("warehouse/outsourced.html", found=warehouse_slips.out_with_outsourcers())


@bp.get("/api/v1/warehouse-slips/<slip_id>")
@requires(Can.USE_WAREHOUSE)
def api_slip(slip_id: str):
    """Return a slip as the server has it: its number (null while provisional), status, content, signatures."""
    found = warehouse_slips.slip(slip_id) if re.fullmatch(warehouse.UUID, slip_id) else None
    if found is None:
        return json_error(404, "unknown_warehouse_slip", _("No such warehouse slip."))
    return found
