"""Inspection reports: one inspection's report (page and PDF), the office's list, the switching series,
a product's defect library, and the orders' quality.

Reading only, but for the series' settings the office keeps (reduced inspection approved, production
steady, inspection resumed after a discontinuation). Inspections are recorded on devices
(`inspection.*` events, webapp/services/inspections.py); what is shown here is folded from their logs
(webapp/services/inspection_reports.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth import requires
from webapp.domain.roles import Can, may
from webapp.extensions import db
from webapp.services import inspection_reports as reports
from webapp.services import inspections
from webapp.services.inspection_pdf import report_pdf

bp = Blueprint("inspection_reports", __name__)

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
LANGUAGES = {"zh": "zh_Hans_CN", "en": "en"}


@bp.app_context_processor
def inspection_names():
    """Give every template the names of inspection kinds, statuses, classes, severities and reasons."""
    return {"qc": reports.names()}


@bp.app_template_global()
def markup_geometry(shapes, width, height) -> dict:
    """Lay a photo's markup layer out in its pixels (inspections/_markup.html draws it as SVG)."""
    return reports.markup_geometry(shapes, width, height)


def _may_read_reports() -> bool:
    """Inspectors and followers (who run inspections) and the office read reports; the floor's other roles do not."""
    return may(current_user.role, Can.INSPECT) or may(current_user.role, Can.VIEW_OFFICE)


def _report_or_404(uid: str) -> dict:
    if not _may_read_reports():
        abort(403)
    found = reports.report(uid.lower()) if UUID.fullmatch(uid) else None
    if found is None:
        abort(404)
    return found


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


@bp.get("/inspections/<uid>/report")
@requires(Can.USE_FLOOR)  # and Can.INSPECT or Can.VIEW_OFFICE: checked in the view
def report(uid: str):
    """Show an inspection's report: order, lot, plan, checklist results, defects with photos, decision, signatures."""
    return render_template("inspections/report.html", r=_report_or_404(uid))


@bp.get("/inspections/<uid>/report.pdf")
@requires(Can.USE_FLOOR)  # and Can.INSPECT or Can.VIEW_OFFICE: checked in the view
def report_pdf_page(uid: str):
    """The report as an A4 PDF in Chinese or English (?lang=zh|en; the reader's language without it)."""
    found = _report_or_404(uid)
    locale = LANGUAGES.get(request.args.get("lang", ""))
    if locale is None:
        locale = "zh_Hans_CN" if str(get_locale()).startswith("zh") else "en"
    body = report_pdf(found, locale, current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="inspection-{found["uid"][:8]}-{locale[:2]}.pdf"'})


def _date(name: str):
    try:
        return datetime.strptime(request.args.get(name, ""), "%Y-%m-%d").date()
    except ValueError:
        return None


@bp.get("/office/inspections")
@requires(Can.VIEW_OFFICE)
def office_list():
    """List inspections for the office, filtered by kind, status, order, product, inspector and date."""
    args = request.args
    kind = args.get("kind") if args.get("kind") in reports.KIND_NAMES else None
    status = args.get("status") if args.get("status") in reports.STATUS_NAMES else None
    inspector = int(args["inspector"]) if args.get("inspector", "").isdigit() else None
    filters = {"kind": kind, "status": status, "order": args.get("order", "").strip()[:40] or None,
               "product": args.get("product", "").strip()[:40] or None, "inspector": inspector,
               "date_from": _date("from"), "date_to": _date("to")}
    rows = reports.office_list(**filters, zone=_zone())
    return render_template("inspections/office_list.html", rows=rows, filters=filters,
                           inspectors=reports.inspectors())


@bp.get("/office/inspections/series")
@requires(Can.VIEW_OFFICE)
def series():
    """Every switching series with its severity and why; one series' history of lots with ?product=&supplier=."""
    product = request.args.get("product", "").strip()
    history = reports.series_history(product, request.args.get("supplier", "")) if product else None
    if product and history is None:
        abort(404)
    return render_template("inspections/series.html", series=reports.series_list(), history=history)


@bp.post("/office/inspections/series")
@requires(Can.REVIEW)
def update_series():
    """Set a series' reduced-inspection approval, steady production, and resumption after a discontinuation."""
    form = request.form
    product, supplier = form.get("product", "").strip(), form.get("supplier", "").strip()
    orders = reports.update_series(product, supplier, reduced_approved=form.get("reduced_approved") == "1",
                                   production_steady=form.get("production_steady") == "1",
                                   resumed=form.get("resumed") == "1", by=current_user.id)
    if orders is None:
        abort(404)
    # The orders' quality summaries carry the series' severity to the devices: bring them up to date.
    inspections.refresh_quality(db.session, orders)
    db.session.commit()
    flash(_("Series settings saved."), "ok")
    return redirect(url_for("inspection_reports.series", product=product, supplier=supplier or None), code=303)


@bp.get("/products/<code>/defects")
@requires(Can.USE_FLOOR)
def defect_library(code: str):
    """Show a product's defect library: each defect type with its reference photo, so inspectors judge alike."""
    library = reports.defect_library(code.upper())
    if library is None:
        abort(404)
    return render_template("inspections/defects.html", library=library)


@bp.get("/office/orders/quality")
@requires(Can.VIEW_OFFICE)
def orders_quality():
    """List orders with their quality: packed, first pieces, mid-production reports (behind first), final, rework."""
    everything = request.args.get("all") == "1"
    rows = reports.orders_quality(include_finished=everything, today=datetime.now(_zone()).date())
    rows.sort(key=lambda o: not (o["mid"] or {}).get("behind"))
    return render_template("inspections/orders_quality.html", rows=rows, everything=everything)
