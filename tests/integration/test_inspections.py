"""Inspections (`inspection.*`) and packing (`packing.recorded`) through the sync API: plans, decisions,
rework and re-inspection, switching to tightened, the first piece and its gate on transfers, co-signers
proven by badge and PIN, late records, what devices pull, hostile payloads kept and flagged."""

import hashlib
import io
import uuid

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from tests.integration.test_change_log import pull_all
from tests.integration.test_signers import PIN, device_side_proof, salt_of
from webapp.extensions import db
from webapp.models import Defect, Inspection, ReworkOrder, Signature, WorkOrder
from webapp.services import signers


def png(text="sig") -> str:
    img = Image.new("RGB", (300, 100), "white")
    ImageDraw.Draw(img).line([(10, 80), (150, 20), (290, 70)], fill="black", width=5)
    ImageDraw.Draw(img).text((10, 10), text, fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return hashlib.sha256(buf.getvalue()).hexdigest()


def codes(result) -> list[str]:
    return sorted(f["code"] for f in result["exceptions"])


def push_one(device, type_, payload, **fields):
    result = device.push([device.event(type_, payload, **fields)]).json["results"][0]
    assert result["status"] == "stored", result
    return result


def row(app, uid):
    with app.app_context():
        found = db.session.execute(select(Inspection).where(Inspection.uid == uid)).scalar_one()
        db.session.expunge(found)
        return found


def quality(app, number="WO-1"):
    with app.app_context():
        from webapp.services import quality as summaries

        order = db.session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()
        return summaries.current(db.session, [order])[order.id]


@pytest.fixture
def inspector(signed_in_device, inspection_plant):
    return signed_in_device("inspector")


def pack(device, cartons=14, per_carton=50, order="WO-1"):
    return push_one(device, "packing.recorded", {"work_order": order, "cartons": cartons, "per_carton": per_carton})


def final(device, lot_size=700, found=(), verdict="pass", **start):
    """Start, record defects (class, count) and complete a final inspection; return its id and the results."""
    uid = str(uuid.uuid4())
    results = [push_one(device, "inspection.started", {"inspection_id": uid, "kind": "final", "work_order": "WO-1",
                                                       "lot_size": lot_size, **start})]
    for cls, count in found:
        results.append(push_one(device, "inspection.defect_recorded", {
            "inspection_id": uid, "defect_id": str(uuid.uuid4()), "class": cls, "type": "D-SCRATCH",
            "count": count, "location": "flange"}))
    results.append(push_one(device, "inspection.completed", {"inspection_id": uid, "verdict": verdict,
                                                             "signature_sha256": png("qc")}))
    return uid, results


def test_packing_offers_the_final_inspection_at_80_percent(app, inspector):
    pack(inspector, cartons=10, per_carton=50)  # 500 of 800: 62%
    q = quality(app)
    assert q["packed"] == 500 and q["cartons"] == 10 and q["final"]["offered"] is False
    pack(inspector, cartons=3, per_carton=50)  # 650: 81%
    q = quality(app)
    assert q["packed"] == 650 and q["cartons"] == 13 and q["final"]["offered"] is True


def test_a_final_lot_is_decided_by_its_plan_per_class(app, inspector):
    pack(inspector)
    # 700 pieces, level II: code letter J, n = 80; major AQL 2.5 accepts 5, minor 4.0 accepts 7, any critical rejects.
    uid, results = final(inspector, found=[("major", 2), ("minor", 3)])
    assert all(codes(r) == [] for r in results)
    found = row(app, uid)
    assert found.status == "passed" and found.decision == "accepted"
    assert found.plans["major"]["code_letter"] == "J" and found.plans["major"]["sample_size"] == 80
    assert (found.plans["major"]["accept"], found.plans["major"]["reject"]) == (5, 6)
    assert (found.plans["minor"]["accept"], found.plans["minor"]["reject"]) == (7, 8)
    assert (found.plans["critical"]["accept"], found.plans["critical"]["reject"]) == (0, 1)
    assert found.found == {"critical": 0, "major": 2, "minor": 3}
    assert quality(app)["final"]["status"] == "passed"


def test_a_critical_defect_rejects_and_a_wrong_verdict_is_flagged_not_taken(app, inspector):
    pack(inspector)
    uid, results = final(inspector, found=[("critical", 1)], verdict="pass")
    assert codes(results[-1]) == ["verdict_disagrees"]
    found = row(app, uid)
    assert found.status == "failed" and found.decision == "rejected" and found.verdict == "pass"


def test_a_rejected_lot_goes_to_rework_and_its_reinspection_closes_it(app, inspector):
    pack(inspector)
    uid, _ = final(inspector, found=[("major", 6)], verdict="fail")
    assert row(app, uid).rework_status == "open"
    with app.app_context():
        rework = db.session.execute(select(ReworkOrder).where(ReworkOrder.inspection_uid == uid)).scalar_one()
        assert rework.status == "open" and rework.quantity == 700
    assert quality(app)["final"]["rework"] == {"inspection_id": uid, "status": "open"}
    again, _ = final(inspector, found=[("major", 1)], reinspection_of=uid)
    assert row(app, again).status == "passed"
    assert row(app, uid).rework_status == "reinspected"
    with app.app_context():
        rework = db.session.execute(select(ReworkOrder).where(ReworkOrder.inspection_uid == uid)).scalar_one()
        assert rework.status == "reinspected" and rework.reinspection_uid == again


def test_two_rejected_lots_switch_the_series_to_tightened(app, inspector):
    pack(inspector)
    final(inspector, found=[("major", 6)], verdict="fail")
    assert quality(app)["series"]["severity"] == "normal"
    final(inspector, found=[("major", 7)], verdict="fail")
    series = quality(app)["series"]
    assert series["severity"] == "tightened"
    # The device did not know yet: it used normal inspection. The server's plan holds, and says so.
    uid, results = final(inspector, found=[], severity="normal", sample_size=80)
    assert codes(results[0]) == ["plan_differs"]
    found = row(app, uid)
    assert found.severity == "tightened"
    # Tightened, code letter J, AQL 2.5: n = 80, Ac 3, Re 4 (Table 2-B).
    assert (found.plans["major"]["accept"], found.plans["major"]["reject"]) == (3, 4)


@pytest.fixture
def operator_badge(app, make_user):
    operator = make_user("operator")
    with app.app_context():
        text = signers.issue_badge(operator.id)
        signers.set_pin(operator.id, PIN)
        db.session.commit()
    return operator, text


def first_piece(device, values_by_unit, verdict="pass", operation="OP10"):
    uid = str(uuid.uuid4())
    results = [push_one(device, "inspection.started", {"inspection_id": uid, "kind": "first_piece",
                                                       "work_order": "WO-1", "operation": operation, "units": 2})]
    for unit, values in enumerate(values_by_unit, start=1):
        results.append(push_one(device, "inspection.measured", {"inspection_id": uid, "unit": unit,
                                                                "values": values}))
    results.append(push_one(device, "inspection.completed", {"inspection_id": uid, "verdict": verdict,
                                                             "signature_sha256": png("qc")}))
    return uid, results


def test_a_first_piece_out_of_tolerance_and_the_operator_signing_with_badge_and_pin(app, inspector, operator_badge):
    operator, badge = operator_badge
    uid, results = first_piece(inspector, [
        {"length": "420.2", "diameter": "38.09", "workmanship": "pass"},  # diameter 38.00 ± 0.05: out
        {"length": "419.4", "diameter": "38.01", "workmanship": "fail"},  # length 420.0 ± 0.5: out
    ], verdict="fail")
    found = row(app, uid)
    assert found.template_code == "HS-01-FIRST" and found.status == "failed"
    assert found.out_of_tolerance == 3  # two sizes and a failed check
    assert found.results["diameter"] == {"1": "38.09", "2": "38.01"}
    event = inspector.event("inspection.signed", {"inspection_id": uid, "step": "operator",
                                                  "signature_sha256": png("op")})
    event["payload"]["signer"] = device_side_proof(badge, PIN, salt_of(app, operator.id), event)
    result = inspector.push([event]).json["results"][0]
    assert result["status"] == "stored" and codes(result) == []
    with app.app_context():
        sigs = db.session.execute(select(Signature.step, Signature.user_id, Signature.verification)
                                  .where(Signature.inspection_id == found.id).order_by(Signature.id)).all()
    assert [tuple(s) for s in sigs] == [("inspector", inspector.user.id, "device_user"),
                                        ("operator", operator.id, "badge_pin")]
    # Its findings are the focus of the mid-production checks.
    focus = quality(app)["focus"]
    assert {p["item"] for p in focus} >= {"length", "diameter"}


def test_passing_a_first_piece_out_of_tolerance_is_flagged(app, inspector):
    _, results = first_piece(inspector, [{"length": "421.0", "diameter": "38.00", "workmanship": "pass"}])
    assert codes(results[-1]) == ["passed_out_of_tolerance"]


def test_a_transfer_before_the_first_piece_passed_is_flagged_for_a_directors_override(
        app, inspector, signed_in_device, inspection_plant, client, auth, make_user):
    clerk = signed_in_device("clerk")
    code = inspection_plant["codes"][0]

    def open_slip():
        return push_one(clerk, "transfer.opened", {"transfer_id": str(uuid.uuid4()), "bin_codes": [code],
                                                   "to": {"next": True}, "quantity": 10,
                                                   "issue_slip": "CK-W1-000001"})

    assert "first_piece_pending" in codes(open_slip())
    assert quality(app)["first_piece"] == {}
    first_piece(inspector, [{"length": "420.0", "diameter": "38.00", "workmanship": "pass"}])
    assert quality(app)["first_piece"] == {"OP10": "passed"}
    assert "first_piece_pending" not in codes(open_slip())


def test_only_a_director_overrides_the_first_piece_gate(app, inspector, signed_in_device, inspection_plant):
    from sync import schema

    clerk = signed_in_device("clerk")
    push_one(clerk, "transfer.opened", {"transfer_id": str(uuid.uuid4()), "bin_codes": [inspection_plant["codes"][0]],
                                        "to": {"next": True}, "quantity": 10, "issue_slip": "CK-W1-000001"})
    with app.app_context():
        flag = db.session.execute(select(schema.exceptions.c.id).where(
            schema.exceptions.c.code == "first_piece_pending")).scalar_one()
    office = signed_in_device("office")
    result = office.push([office.event("exception.resolved", {"exception_id": flag, "note": "go"})]).json
    assert codes(result["results"][0]) == ["override_not_allowed"]
    director = signed_in_device("director")
    result = director.push([director.event("exception.resolved", {"exception_id": flag, "note": "sample ok"})]).json
    assert codes(result["results"][0]) == []
    with app.app_context():
        closed = db.session.execute(select(schema.exceptions.c.resolved_by).where(
            schema.exceptions.c.id == flag)).scalar_one()
    assert closed == director.user.id


def test_a_record_before_its_start_is_flagged_until_the_start_arrives(app, inspector):
    uid = str(uuid.uuid4())
    started = inspector.event("inspection.started", {"inspection_id": uid, "kind": "mid_production",
                                                     "work_order": "WO-1"})
    measured = inspector.event("inspection.measured", {"inspection_id": uid, "unit": 1,
                                                       "values": {"size": "pass"}})
    # Pushed out of order (another device's start is late); the log orders them by time.
    result = inspector.push([measured]).json["results"][0]
    assert codes(result) == ["unknown_inspection"]
    assert inspector.push([started]).json["results"][0]["status"] == "stored"
    from sync.flags import flags_of

    with app.app_context():
        assert flags_of(db.session, [measured["id"]]) == {}
    assert row(app, uid).results == {"size": {"1": "pass"}}


def test_a_defect_with_photos_and_markup_is_kept_with_its_layer(app, inspector):
    uid = str(uuid.uuid4())
    push_one(inspector, "inspection.started", {"inspection_id": uid, "kind": "mid_production", "work_order": "WO-1"})
    photo = "a" * 64
    markup = [{"photo": photo, "shapes": [{"kind": "circle", "x": 0.5, "y": 0.4, "r": 0.1},
                                          {"kind": "arrow", "x1": 0.1, "y1": 0.1, "x2": 0.45, "y2": 0.35},
                                          {"kind": "text", "x": 0.1, "y": 0.9, "text": "毛刺 burr"}]}]
    defect_id = str(uuid.uuid4())
    push_one(inspector, "inspection.defect_recorded", {
        "inspection_id": uid, "defect_id": defect_id, "class": "minor", "type": "D-BURR", "count": 2,
        "location": "spline end", "photos": [photo], "markup": markup}, attachments=[photo])
    with app.app_context():
        d = db.session.execute(select(Defect).where(Defect.defect_uid == defect_id)).scalar_one()
        assert (d.severity, d.type_code, d.quantity, d.location, d.photos) == ("minor", "D-BURR", 2, "spline end",
                                                                               [photo])
        assert d.markup == markup


@pytest.mark.parametrize("payload", [
    {"markup": [{"photo": "a" * 64, "shapes": [{"kind": "circle", "x": 5, "y": 0.4, "r": 0.1}]}]},
    {"markup": [{"photo": "a" * 64, "shapes": [{"kind": "polygon"}]}]},
    {"markup": "<svg onload=alert(1)>"},
    {"class": "cosmetic"},
    {"count": 0},
])
def test_a_hostile_defect_is_kept_in_quarantine_never_a_500(app, inspector, payload):
    event = inspector.event("inspection.defect_recorded", {
        "inspection_id": str(uuid.uuid4()), "defect_id": str(uuid.uuid4()), "class": "minor", "count": 1,
        **payload})
    reply = inspector.push([event])
    assert reply.status_code == 200
    assert reply.json["results"][0]["status"] == "quarantined"


@pytest.mark.parametrize("values", [{"length": "1e9"}, {"length": "NaN"}, {"": "1"}, {"length": 42}, {}])
def test_hostile_measurements_are_quarantined(app, inspector, values):
    event = inspector.event("inspection.measured", {"inspection_id": str(uuid.uuid4()), "unit": 1,
                                                    "values": values})
    assert inspector.push([event]).json["results"][0]["status"] == "quarantined"


def test_a_clerk_may_not_record_an_inspection(app, signed_in_device, inspection_plant):
    clerk = signed_in_device("clerk")
    event = clerk.event("inspection.started", {"inspection_id": str(uuid.uuid4()), "kind": "mid_production",
                                               "work_order": "WO-1"})
    result = clerk.push([event]).json["results"][0]
    assert result["status"] == "quarantined" and codes(result) == ["forbidden"]


def test_devices_pull_the_tables_the_checklists_the_catalogue_and_each_orders_quality(app, inspector):
    pack(inspector)
    rows, _gone, _cursor = pull_all(inspector, None)
    aql_row = next(r for r in rows["references"] if r["key"] == "aql")
    assert "tables" in aql_row and aql_row["tables"]
    assert {t["code"] for t in rows["inspection_templates"]} >= {"STD-FINAL", "HS-01-FIRST"}
    assert {d["code"] for d in rows["defect_types"]} >= {"D-CRACK", "D-BURR"}
    order = next(o for o in rows["work_orders"] if o["number"] == "WO-1")
    assert order["quality"]["packed"] == 700 and order["quality"]["final"]["offered"] is True
    assert order["quality"]["aqls"] == {"critical": "0", "major": "2.5", "minor": "4.0"}


def test_packing_without_javascript_checks_its_fields(app, client, auth, make_user, inspection_plant):
    user = make_user("clerk")
    auth.login(user.username)
    page = client.get("/orders/WO-1/packing")
    assert page.status_code == 200
    token = auth.csrf("/orders/WO-1/packing")
    bad = client.post("/orders/WO-1/packing", data={"csrf_token": token, "cartons": "0", "per_carton": "50"})
    assert bad.status_code == 422 and "data-error-for=\"cartons\"" in bad.text
    ok = client.post("/orders/WO-1/packing", data={"csrf_token": token, "cartons": "2", "per_carton": "50"})
    assert ok.status_code == 303
    assert quality(app)["packed"] == 100


def test_the_floor_list_says_what_is_due_per_order(app, inspector, client):
    page = client.get("/inspections")
    assert page.status_code == 200
    assert 'data-first-piece="OP10" data-state="none"' in page.text
    assert 'data-final data-state="not_yet"' in page.text
    pack(inspector)
    first_piece(inspector, [{"length": "420.0", "diameter": "38.00", "workmanship": "pass"}])
    page = client.get("/inspections")
    assert 'data-first-piece="OP10" data-state="passed"' in page.text
    assert 'data-final data-state="offered"' in page.text
    assert "/inspections/new?kind=final&amp;order=WO-1" in page.text


@pytest.mark.parametrize(("type_", "payload"), [
    ("inspection.started", {"kind": "final", "work_order": "WO-NOPE", "lot_size": 100}),
    ("inspection.started", {"kind": "first_piece", "work_order": "WO-1", "operation": "OP99"}),
    ("inspection.started", {"kind": "final", "work_order": "WO-1"}),  # a final needs its lot size
    ("inspection.started", {"kind": "final", "work_order": "WO-1", "lot_size": 1}),
    ("inspection.started", {"kind": "audit", "work_order": "WO-1"}),
    ("inspection.started", {"kind": "final", "work_order": "WO-1", "lot_size": 100, "aqls": {"major": "3"}}),
    ("inspection.completed", {"verdict": "maybe", "signature_sha256": "a" * 64}),
    ("inspection.signed", {"step": "boss", "signature_sha256": "a" * 64}),
    ("packing.recorded", {"work_order": "WO-NOPE", "cartons": 2, "per_carton": 5}),
    ("packing.recorded", {"work_order": "WO-1", "cartons": 0, "per_carton": 5}),
])
def test_hostile_starts_verdicts_and_packing_are_kept_in_quarantine(app, inspector, type_, payload):
    if type_.startswith("inspection."):
        payload = {"inspection_id": str(uuid.uuid4()), **payload}
    reply = inspector.push([inspector.event(type_, payload)])
    assert reply.status_code == 200 and reply.json["results"][0]["status"] == "quarantined"


def test_unknown_pages_answer_404_not_500(app, client, auth, make_user, inspection_plant):
    auth.login(make_user("inspector").username)
    assert client.get("/inspections/new?kind=audit&order=WO-1").status_code == 404
    assert client.get("/inspections/new?kind=final&order=WO-NOPE").status_code == 404
    assert client.get("/orders/WO-NOPE/packing").status_code == 404
    assert client.get("/inspections/not-a-uuid").status_code == 404
    assert client.get("/inspections/00000000-0000-4000-8000-000000000000/report").status_code == 404
