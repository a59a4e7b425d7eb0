"""Inspections on the floor: what is due per order, the inspection screen, packing.

The inspection screen (`/inspections/new`, `/inspections/<id>`) is the device's: its script
fills it from pulled data and the device's own records, online or offline (the worker serves
the same page as the shell `/offline/inspection`). Reports and the office's lists are in
`webapp/routes/inspection_reports.py`.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.auth import requires
from webapp.domain import inspections as rules
from webapp.domain.roles import Can
from webapp.extensions import db
from webapp.models import Inspection, Operation, ReworkOrder, WorkOrder
from webapp.routes.floor import post_record
from webapp.services import quality

bp = Blueprint("inspections", __name__)


@bp.get("/inspections")
@requires(Can.INSPECT)
def due():
    """Per order in production: first pieces, mid-production reports, the final, rework; open inspections."""
    orders = db.session.execute(select(WorkOrder).where(WorkOrder.status.in_(("planned", "in_progress")))
                                .order_by(WorkOrder.due_date, WorkOrder.number)).scalars().all()
    i = Inspection
    open_ = db.session.execute(select(i).where(i.status == "open", i.uid.is_not(None))
                               .order_by(i.started_at.desc()).limit(50)).scalars().all()
    rework = db.session.execute(select(ReworkOrder).where(ReworkOrder.status == "open")).scalars().all()
    operations = {o.code: o for o in db.session.execute(select(Operation)).scalars()}
    return render_template("inspections/due.html", orders=orders, summaries=quality.current(db.session, orders),
                           open_inspections=open_, rework=rework, operations=operations, kinds=rules.KINDS,
                           offer_percent=quality.setting(db.session, "final_offer_percent",
                                                         str(rules.FINAL_OFFER_PERCENT)))


def _screen(inspection_id: str | None, status: int = 200, **context):
    return render_template("inspections/screen.html", inspection_id=inspection_id, offline_shell=False,
                           **{"kind": None, "order": None, "operation": None, "bin_code": None,
                              "reinspect": None, **context}), status


@bp.get("/inspections/new")
@requires(Can.INSPECT)
def new():
    """The inspection screen for a new inspection of an order (kind, order, operation from the query)."""
    kind = request.args.get("kind", "")
    if kind not in rules.KINDS:
        abort(404)
    order = request.args.get("order", "").strip().upper()
    if db.session.execute(select(WorkOrder.id).where(WorkOrder.number == order)).first() is None:
        abort(404)
    return _screen(str(uuid.uuid4()), kind=kind, order=order,
                   operation=(request.args.get("operation") or "").strip().upper() or None,
                   bin_code=(request.args.get("bin") or "").strip().upper() or None,
                   reinspect=request.args.get("reinspect") or None)


@bp.get("/inspections/<uuid:uid>")
@requires(Can.INSPECT)
def screen(uid):
    """An inspection started on a device: its screen, to go on with it (the device holds what is not synced)."""
    found = db.session.execute(select(Inspection).where(Inspection.uid == str(uid))).scalar()
    if found is None:  # not synced yet: the device that started it fills the page
        return _screen(str(uid))
    return _screen(found.uid, kind=found.kind, order=found.work_order.number,
                   operation=found.operation.code if found.operation else None,
                   bin_code=found.bin.code if found.bin else None, reinspect=found.reinspects)


@bp.route("/orders/<number>/packing", methods=["GET", "POST"])
@requires(Can.RECORD_PACKING)
def packing(number: str):
    """Record cartons packed for an order (packing.recorded): online, offline, or without JavaScript."""
    order = db.session.execute(select(WorkOrder).where(WorkOrder.number == number.upper())).scalar()
    if order is None:
        abort(404)

    def show_again(errors, values):
        return render_template("inspections/packing.html", order=order, errors=errors, values=values), 422

    if request.method == "POST":
        return post_record("packing.recorded", {"work_order": order.number}, show_again,
                           url_for("inspections.packing", number=order.number), _("Packing recorded."))
    return render_template("inspections/packing.html", order=order, errors={}, values={})
