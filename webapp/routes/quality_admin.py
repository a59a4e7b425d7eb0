"""Quality settings (directors, admins): the plant's sampling and inspection rules, quality plans per product
and customer, checklists, and the defect catalogue with reference photos."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, select

from webapp.auth import requires
from webapp.domain import aql
from webapp.domain import inspections as rules
from webapp.domain.roles import Can
from webapp.extensions import db
from webapp.models import DefectType, InspectionTemplate, Product, QualityPlan, Setting, WorkOrder
from webapp.services import blobs, checklists, inspections, quality

bp = Blueprint("quality_admin", __name__, url_prefix="/admin/quality")

# Setting key -> (its default, a check of a typed value).
SETTINGS = {
    "inspection_level": ("II", lambda v: v in aql.LEVELS),
    "aql_critical": ("0", lambda v: v == "0" or _is_aql(v)),
    "aql_major": ("2.5", lambda v: _is_aql(v)),
    "aql_minor": ("4.0", lambda v: _is_aql(v)),
    "first_piece_gate": ("warn", lambda v: v in ("warn", "block")),
    "mid_every_days": ("3-6", lambda v: _every(v)),
    "mid_reports": ("1000:2,3000:4,5000:6,10000:8;5000:2", lambda v: _table(v)),
    "final_offer_percent": (str(rules.FINAL_OFFER_PERCENT), lambda v: v.isdigit() and 1 <= int(v) <= 100),
    "reinspections_count": ("1", lambda v: v in ("0", "1")),
}


def _is_aql(value: str) -> bool:
    try:
        aql.normalise_aql(value)
    except aql.AqlError:
        return False
    return True


def _every(value: str) -> bool:
    low, _, high = value.partition("-")
    return low.isdigit() and high.isdigit() and 1 <= int(low) <= int(high) <= 60


def _table(value: str) -> bool:
    try:
        rules.parse_mid_reports(value)
    except ValueError:
        return False
    return True


def _page(status: int = 200, errors: dict | None = None):
    values = {k: quality.setting(db.session, k, default) for k, (default, _check) in SETTINGS.items()}
    return render_template(
        "inspections/admin.html", settings=values, errors=errors or {}, levels=aql.LEVELS, aqls=aql.AQLS,
        plans=db.session.execute(select(QualityPlan).order_by(QualityPlan.id)).scalars().all(),
        products=db.session.execute(select(Product).order_by(Product.code)).scalars().all(),
        templates=db.session.execute(select(InspectionTemplate).order_by(InspectionTemplate.kind,
                                                                        InspectionTemplate.code)).scalars().all(),
        defects=db.session.execute(select(DefectType).order_by(DefectType.code)).scalars().all(),
        items_text=checklists.items_text, kinds=rules.KINDS, classes=rules.CLASSES), status


def _product(form) -> tuple[Product | None, bool]:
    """The product a form names (none: the plant's, or every product), and whether a code typed is a known one."""
    code = (form.get("product") or "").strip()
    if not code:
        return None, True
    product = db.session.execute(select(Product).where(Product.code == code)).scalar()
    return product, product is not None


def _refresh_orders() -> None:
    """Settings change what is due: every order in production gets its summary again (devices pull it)."""
    ids = set(db.session.execute(select(WorkOrder.id).where(WorkOrder.status.in_(("planned", "in_progress"))))
              .scalars())
    inspections.refresh_quality(db.session, ids)


@bp.get("")
@requires(Can.MANAGE_QUALITY)
def page():
    """The quality settings page."""
    return _page()


@bp.post("/settings")
@requires(Can.MANAGE_QUALITY)
def save_settings():
    """Save the plant's inspection settings; a value that does not fit is named and nothing is saved."""
    typed = {k: (request.form.get(k) or "").strip() for k in SETTINGS}
    errors = {k: _("This value is not allowed here.") for k, v in typed.items() if not SETTINGS[k][1](v)}
    if errors:
        return _page(422, errors)
    have = {s.key: s for s in db.session.execute(select(Setting).where(Setting.key.in_(list(SETTINGS)))).scalars()}
    for key, value in typed.items():
        if key in have:
            have[key].value = value
        else:
            db.session.add(Setting(key=key, value=value))
    db.session.flush()
    _refresh_orders()
    db.session.commit()
    flash(_("Quality settings saved."), "ok")
    return redirect(url_for("quality_admin.page"), code=303)


@bp.post("/plans")
@requires(Can.MANAGE_QUALITY)
def save_plan():
    """Add or replace the level and AQLs of a product and/or a customer (the most specific plan wins)."""
    product, known = _product(request.form)
    customer = (request.form.get("customer") or "").strip()[:120] or None
    level = request.form.get("level", "")
    aqls = {c: (request.form.get(f"aql_{c}") or "").strip() for c in rules.CLASSES}
    if (not known or (product is None and customer is None) or level not in aql.LEVELS
            or not all(v == "0" or _is_aql(v) for v in aqls.values())):
        return _page(422, {"plan": _("Choose a product or a customer (or both), a level and an AQL per class "
                                     "from the tables (0: any defect of the class rejects).")})
    product_id = product.id if product else None
    db.session.execute(delete(QualityPlan).where(QualityPlan.product_id.is_(product_id) if product_id is None
                                                 else QualityPlan.product_id == product_id,
                                                 QualityPlan.customer.is_(customer) if customer is None
                                                 else QualityPlan.customer == customer))
    db.session.add(QualityPlan(product_id=product_id, customer=customer, level=level, aql_critical=aqls["critical"],
                               aql_major=aqls["major"], aql_minor=aqls["minor"]))
    db.session.flush()
    _refresh_orders()
    db.session.commit()
    flash(_("Quality plan saved."), "ok")
    return redirect(url_for("quality_admin.page"), code=303)


@bp.post("/plans/<int:plan_id>/delete")
@requires(Can.MANAGE_QUALITY)
def delete_plan(plan_id: int):
    """Remove a quality plan: the next more general one applies."""
    db.session.execute(delete(QualityPlan).where(QualityPlan.id == plan_id))
    _refresh_orders()
    db.session.commit()
    flash(_("Quality plan removed."), "ok")
    return redirect(url_for("quality_admin.page"), code=303)


@bp.post("/checklists")
@requires(Can.MANAGE_QUALITY)
def save_checklist():
    """Add or change a checklist: code, kind, product (none: the plant's), names, units, items one a line."""
    form = request.form
    code = (form.get("code") or "").strip().upper()[:40]
    kind = form.get("kind", "")
    product, known = _product(form)
    units = form.get("units", "")
    name_zh, name_en = (form.get("name_zh") or "").strip()[:120], (form.get("name_en") or "").strip()[:120]
    try:
        items = checklists.parse_items(form.get("items") or "")
    except checklists.ItemsInvalid as exc:
        return _page(422, {"checklist": _("Line %(line)s is not a checklist item: %(text)s", line=exc.line,
                                          text=exc.text) if exc.line else _("A checklist needs at least one item.")})
    if (not code or kind not in rules.KINDS or not known or not units.isdigit()
            or not 1 <= int(units) <= 500 or not name_zh or not name_en):
        return _page(422, {"checklist": _("Give the checklist a code, a kind, both names and the units to check "
                                          "(1 to 500).")})
    found = db.session.execute(select(InspectionTemplate).where(InspectionTemplate.code == code)).scalar()
    if found is None:
        found = InspectionTemplate(code=code)
        db.session.add(found)
    found.kind, found.product, found.units, found.items = kind, product, int(units), items
    found.name_zh, found.name_en, found.active = name_zh, name_en, form.get("active", "1") == "1"
    db.session.commit()
    flash(_("Checklist saved."), "ok")
    return redirect(url_for("quality_admin.page"), code=303)


@bp.post("/defects")
@requires(Can.MANAGE_QUALITY)
def save_defect():
    """Add or change a defect type of the catalogue, with its reference photo (checked as an image)."""
    form = request.form
    code = (form.get("code") or "").strip().upper()[:40]
    product, known = _product(form)
    name_zh, name_en = (form.get("name_zh") or "").strip()[:120], (form.get("name_en") or "").strip()[:120]
    cls = form.get("class", "")
    if not code or not name_zh or not name_en or cls not in rules.CLASSES or not known:
        return _page(422, {"defect": _("Give the defect type a code, both names and a class.")})
    photo = None
    upload = request.files.get("photo")
    if upload is not None and upload.filename:
        try:
            photo = blobs.store_upload(upload.stream)
        except (blobs.BlobRejected, ValueError):
            return _page(422, {"defect": _("The photo is not a readable JPEG, PNG or WebP image.")})
    found = db.session.execute(select(DefectType).where(DefectType.code == code)).scalar()
    if found is None:
        found = DefectType(code=code)
        db.session.add(found)
    found.product, found.name_zh, found.name_en, found.default_class = product, name_zh, name_en, cls
    found.description_zh = (form.get("description_zh") or "").strip()[:2000] or None
    found.description_en = (form.get("description_en") or "").strip()[:2000] or None
    if photo:
        found.reference_sha256 = photo
    db.session.commit()
    flash(_("Defect type saved."), "ok")
    return redirect(url_for("quality_admin.page"), code=303)

