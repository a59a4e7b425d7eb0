"""Quality settings (directors, admins): the plant's rules, quality plans, checklists, the defect catalogue."""

import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import DefectType, Inspection, InspectionTemplate, WorkOrder


@pytest.fixture
def director(client, auth, make_user, inspection_plant):
    user = make_user("director")
    assert auth.login(user.username).status_code == 303
    return auth


def post(client, auth, path, data, **kw):
    return client.post(path, data={"csrf_token": auth.csrf("/admin/quality"), **data}, **kw)


SETTINGS = {"inspection_level": "II", "aql_critical": "0", "aql_major": "2.5", "aql_minor": "4.0",
            "first_piece_gate": "block", "mid_every_days": "2-5", "mid_reports": "1000:2,3000:4,5000:6,10000:8;5000:2",
            "final_offer_percent": "80", "reinspections_count": "1"}


def test_settings_change_what_devices_pull_about_orders(app, client, director):
    assert client.get("/admin/quality").status_code == 200
    reply = post(client, director, "/admin/quality/settings", SETTINGS)
    assert reply.status_code == 303
    with app.app_context():
        order = db.session.execute(select(WorkOrder).where(WorkOrder.number == "WO-1")).scalar_one()
        assert order.quality["first_piece_gate"] == "block"


@pytest.mark.parametrize(("key", "value"), [("mid_reports", "1000:2,500:1"), ("aql_major", "3"),
                                            ("mid_every_days", "6-3"), ("first_piece_gate", "maybe")])
def test_a_wrong_setting_is_named_and_nothing_is_saved(app, client, director, key, value):
    reply = post(client, director, "/admin/quality/settings", {**SETTINGS, key: value})
    assert reply.status_code == 422 and f'data-error-for="{key}"' in reply.text
    with app.app_context():
        order = db.session.execute(select(WorkOrder).where(WorkOrder.number == "WO-1")).scalar_one()
        assert (order.quality or {}).get("first_piece_gate") != "block"


def test_a_product_plan_changes_the_final_plan(app, client, director, signed_in_device):
    reply = post(client, director, "/admin/quality/plans", {"product": "HS-01", "customer": "", "level": "II",
                                                            "aql_critical": "0", "aql_major": "1.0",
                                                            "aql_minor": "4.0"})
    assert reply.status_code == 303
    inspector = signed_in_device("inspector")
    uid = str(uuid.uuid4())
    event = inspector.event("inspection.started", {"inspection_id": uid, "kind": "final", "work_order": "WO-1",
                                                   "lot_size": 700})
    assert inspector.push([event]).json["results"][0]["status"] == "stored"
    with app.app_context():
        plans = db.session.execute(select(Inspection.plans).where(Inspection.uid == uid)).scalar_one()
    # Code letter J, AQL 1.0 normal: n = 80, Ac 2, Re 3.
    assert (plans["major"]["sample_size"], plans["major"]["accept"], plans["major"]["reject"]) == (80, 2, 3)


def test_a_checklist_is_written_one_item_a_line(app, client, director):
    items = "len | 长度 | Length | size | 100 | 0.2 | 0.2 | mm\nlook | 外观 | Look | workmanship"
    data = {"code": "HS-01-MID", "kind": "mid_production", "product": "HS-01", "name_zh": "中期",
            "name_en": "Mid", "units": "5", "items": items, "active": "1"}
    assert post(client, director, "/admin/quality/checklists", data).status_code == 303
    with app.app_context():
        t = db.session.execute(select(InspectionTemplate).where(InspectionTemplate.code == "HS-01-MID")).scalar_one()
        assert [(i["key"], i["type"], i["nominal"]) for i in t.items] == [("len", "measure", "100"),
                                                                          ("look", "check", None)]
    bad = post(client, director, "/admin/quality/checklists", {**data, "items": "len | 长度 | Length | colour"})
    assert bad.status_code == 422 and 'data-error-for="checklist"' in bad.text


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "PNG")
    return out.getvalue()


def test_a_defect_type_gets_its_reference_photo_and_a_non_image_is_refused(app, client, director):
    data = {"code": "D-DENT", "product": "", "name_zh": "凹痕", "name_en": "Dent", "class": "major"}
    ok = post(client, director, "/admin/quality/defects", {**data, "photo": (io.BytesIO(png_bytes()), "dent.png")},
              content_type="multipart/form-data")
    assert ok.status_code == 303
    with app.app_context():
        d = db.session.execute(select(DefectType).where(DefectType.code == "D-DENT")).scalar_one()
        assert d.default_class == "major" and d.reference_sha256
    bad = post(client, director, "/admin/quality/defects",
               {**data, "code": "D-X", "photo": (io.BytesIO(b"<svg/>"), "x.png")}, content_type="multipart/form-data")
    assert bad.status_code == 422 and 'data-error-for="defect"' in bad.text


def test_a_clerk_may_not_change_quality_settings(client, auth, make_user, inspection_plant):
    auth.login(make_user("clerk").username)
    assert client.get("/admin/quality").status_code == 403


@pytest.mark.parametrize(("path", "data"), [
    ("/admin/quality/plans", {"product": "NOPE", "level": "II", "aql_critical": "0", "aql_major": "2.5",
                              "aql_minor": "4.0"}),
    ("/admin/quality/plans", {"product": "", "customer": "", "level": "II", "aql_critical": "0",
                              "aql_major": "2.5", "aql_minor": "4.0"}),  # neither product nor customer
    ("/admin/quality/plans", {"product": "HS-01", "level": "IV", "aql_critical": "0", "aql_major": "2.5",
                              "aql_minor": "4.0"}),
    ("/admin/quality/checklists", {"code": "X", "kind": "final", "product": "", "name_zh": "x", "name_en": "x",
                                   "units": "many", "items": "a | 甲 | A | size"}),
    ("/admin/quality/checklists", {"code": "X", "kind": "final", "product": "NOPE", "name_zh": "x",
                                   "name_en": "x", "units": "1", "items": "a | 甲 | A | size"}),
    ("/admin/quality/defects", {"code": "D-X", "product": "", "name_zh": "x", "name_en": "x", "class": "fatal"}),
])
def test_a_wrong_form_is_refused_with_its_reason_never_a_500(client, director, path, data):
    reply = post(client, director, path, data)
    assert reply.status_code == 422 and 'role="alert"' in reply.text
