"""Inspection reports (page and PDF), the office's list of inspections with its filters, the switching series and
their settings, the defect library and the orders' quality: who may see each, and what they show after real
inspections pushed through the sync API (or recorded as a form would record them)."""

import hashlib
import io
import re
import time
import uuid

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import DefectType, SamplingSeries, User, WorkOrder

MARKUP = [{"kind": "circle", "x": 0.5, "y": 0.4, "r": 0.08},
          {"kind": "arrow", "x1": 0.1, "y1": 0.9, "x2": 0.45, "y2": 0.45, "color": "#00a0ff"},
          {"kind": "text", "x": 0.55, "y": 0.2, "text": "锈 rust"}]


@pytest.fixture(autouse=True)
def reports_registered(app):
    """The blueprint, until webapp/__init__.py registers it."""
    from webapp.routes import inspection_reports

    if "inspection_reports" not in app.blueprints:
        app.register_blueprint(inspection_reports.bp)


class Inspector:
    """An inspector's phone: starts, measures, records defects, completes and signs inspections, in order."""

    def __init__(self, device):
        self.device = device
        # A second between records from now (the phone registered a moment ago): the log's order is the push order.
        self.clock = int(time.time() * 1000)

    def push(self, type_, payload):
        self.clock += 1000
        result = self.device.push([self.device.event(type_, payload, occurred_at=self.clock)]).json["results"][0]
        assert result["status"] == "stored", result
        return result

    def start(self, kind="final", order="WO-1", **fields):
        uid = str(uuid.uuid4())
        payload = {"inspection_id": uid, "kind": kind, "work_order": order, **fields}
        if kind == "final":
            payload.setdefault("lot_size", 700)
        self.push("inspection.started", payload)
        return uid

    def defect(self, uid, cls="major", count=1, type_="D-RUST", **fields):
        return self.push("inspection.defect_recorded", {"inspection_id": uid, "defect_id": str(uuid.uuid4()),
                                                        "class": cls, "type": type_, "count": count, **fields})

    def measure(self, uid, unit, **values):
        return self.push("inspection.measured", {"inspection_id": uid, "unit": unit, "values": values})

    def complete(self, uid, verdict="pass", note=None):
        payload = {"inspection_id": uid, "verdict": verdict, "signature_sha256": self.upload(signature())}
        if note:
            payload["note"] = note
        return self.push("inspection.completed", payload)

    def final(self, found=(), verdict=None, **fields):
        """A final inspection of WO-1 with defects (class, count), completed with the verdict its plan gives."""
        uid = self.start("final", **fields)
        for cls, count in found:
            self.defect(uid, cls, count)
        self.complete(uid, verdict or ("fail" if any(c == "critical" or n >= 6 for c, n in found) else "pass"))
        return uid

    def pack(self, cartons=14, per_carton=50, order="WO-1"):
        return self.push("packing.recorded", {"work_order": order, "cartons": cartons, "per_carton": per_carton})

    def upload(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        reply = self.device.client.put(f"/api/v1/blobs/{sha}", data=data,
                                       headers={**self.device.headers, "Content-Type": "image/jpeg"})
        assert reply.status_code in (200, 201), reply.text
        return sha


def photo(colour=(120, 130, 140)) -> bytes:
    image = Image.new("RGB", (640, 480), colour)
    ImageDraw.Draw(image).rectangle([(300, 180), (340, 220)], fill=(90, 60, 30))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def signature() -> bytes:
    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(10, 80), (150, 20), (290, 70)], fill=(0, 0, 0, 255), width=5)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def qc(signed_in_device, inspection_plant):
    """An inspector with a phone; the test's client is signed in as the same person."""
    return Inspector(signed_in_device("inspector"))


def as_role(client, auth, make_user, role):
    """Sign the test's client in as a new person of `role` (signing out whoever was signed in)."""
    client.post("/logout", data={"csrf_token": auth.csrf("/login")})
    user = make_user(role)
    assert auth.login(user.username).status_code == 303
    return user


def pdf_text(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return " ".join(" ".join(page.get_textpage().get_text_range().split()) for page in document)
    finally:
        document.close()


def tag(page: str, attribute: str) -> str:
    """The opening tag carrying an attribute (attribute="value" or a bare one)."""
    found = re.search(rf'<[^<>]*\b{attribute}[^<>]*>', page)
    assert found, attribute
    return found.group(0)


# --- The report ------------------------------------------------------------------------------------

def test_a_rejected_final_shows_its_plan_findings_photos_with_markup_decision_and_rework(app, client, qc):
    qc.pack()  # 700 of 800 packed: the final is offered
    uid = qc.start("final", cartons=[2, 5, 9], level="II", severity="normal", sample_size=80)
    picture = qc.upload(photo())
    qc.defect(uid, "major", 4, location="flange 法兰", note="carton 5", photos=[picture],
              markup=[{"photo": picture, "shapes": MARKUP}])
    qc.defect(uid, "major", 2, type_="D-SIZE")
    qc.defect(uid, "minor", 1, type_=None, description="loose thread")
    qc.complete(uid, "fail", note="rework the flange")

    page = client.get(f"/inspections/{uid}/report")
    assert page.status_code == 200
    text = page.text
    assert 'data-decision="rejected"' in text and "Lot rejected" in text
    # 700 pieces, level II: code letter J, n = 80; major AQL 2.5: Ac 5, Re 6; 6 found, the lot is rejected.
    major = re.search(r'<tr data-plan-class="major".*?</tr>', text, re.S).group(0)
    assert 'data-accepted="false"' in major
    assert re.search(r"data-code-letter>J<", major) and re.search(r"data-n>80", major)
    assert re.search(r"data-ac>5<", major) and re.search(r"data-re>6<", major)
    assert re.search(r"data-found>6<", major) and "reject" in major
    minor = re.search(r'<tr data-plan-class="minor".*?</tr>', text, re.S).group(0)
    assert 'data-accepted="true"' in minor and re.search(r"data-ac>7<", minor)
    critical = re.search(r'<tr data-plan-class="critical".*?</tr>', text, re.S).group(0)
    assert re.search(r"data-ac>0<", critical) and re.search(r"data-re>1<", critical)
    assert 'data-field="cartons">2, 5, 9<' in text and 'data-field="lot_size">700<' in text
    assert 'data-severity="normal"' in text and 'data-severity-reason="start"' in text
    # What was found: the catalogue's names, where, the note; the photo with its markup as a layer over it.
    assert "Rust" in text and "Out of size" in text and "loose thread" in text and "flange 法兰" in text
    figure = re.search(rf'<figure class="marked-photo" data-photo="{picture}".*?</figure>', text, re.S).group(0)
    assert f'src="/api/v1/blobs/{picture}?thumb=1"' in figure
    assert 'viewBox="0 0 640 480"' in figure and 'preserveAspectRatio="none"' in figure
    assert re.search(r'<circle cx="320.0" cy="192.0" r="51.2"[^>]*stroke="#e8171f"', figure)
    assert re.search(r'<line x1="64.0" y1="432.0" x2="288.0" y2="216.0"[^>]*stroke="#00a0ff"', figure)
    assert "<polygon" in figure and re.search(r'<text x="352.0" y="96.0"[^>]*>锈 rust</text>', figure)
    assert 'data-markup-shapes="3"' in figure
    # The decision, the inspector's signature, the rework order the rejection opened.
    assert "rework the flange" in text and 'data-rework="open"' in text
    assert tag(text, 'data-step="inspector"') and "signed in on this device" in text
    assert "PDF English" in text and f"/inspections/{uid}/report.pdf?lang=zh" in text


def test_a_reinspection_links_both_ways(client, qc):
    qc.pack()
    failed = qc.final(found=[("major", 6)])
    again = qc.final(found=[("major", 1)], reinspection_of=failed)
    first = client.get(f"/inspections/{failed}/report").text
    assert 'data-rework="reinspected"' in first and f"/inspections/{again}/report" in first
    second = client.get(f"/inspections/{again}/report").text
    assert f'href="/inspections/{failed}/report" data-reinspects' in second
    assert 'data-decision="accepted"' in second


def test_a_first_piece_shows_each_value_in_or_out_of_tolerance_and_the_missing_operator(client, auth, qc):
    uid = qc.start("first_piece", operation="OP10", units=2)
    qc.measure(uid, 1, length="420.1", diameter="38.09", workmanship="pass")
    qc.measure(uid, 2, length="419.2", diameter="38.01", workmanship="fail")
    qc.measure(uid, 1, diameter="38.02")  # a later value of the same unit replaces the earlier one
    qc.complete(uid, "fail")
    text = client.get(f"/inspections/{uid}/report").text
    assert 'data-decision="failed"' in text and 'data-out-of-tolerance="2"' in text
    length = re.search(r'<li data-item="length".*?</ul>', text, re.S).group(0)
    assert re.search(r'data-unit="1" data-within="true"><span class="hint">#1</span> 420.1', length)
    assert re.search(r'data-unit="2" data-within="false"><span class="hint">#2</span> 419.2', length)
    diameter = re.search(r'<li data-item="diameter".*?</ul>', text, re.S).group(0)
    assert "38.09" not in diameter and 'data-unit="1" data-within="true"' in diameter
    workmanship = re.search(r'<li data-item="workmanship".*?</ul>', text, re.S).group(0)
    assert 'data-within="false"' in workmanship and "Not OK" in workmanship
    assert "Overall length" in text and "420.0 −0.5/+0.5 mm" in text
    assert 'data-missing-step="operator"' in text  # the first piece is co-signed by the operator
    client.post("/language", data={"locale": "zh_CN", "csrf_token": auth.csrf("/scan")})
    chinese = client.get(f"/inspections/{uid}/report").text
    assert "总长" in chinese and "Overall length" not in chinese and "首件检验" in chinese and "OP10 工序1" in chinese


def test_a_verdict_the_plan_contradicts_and_another_plan_are_flagged_on_the_report_and_in_review(
        client, auth, make_user, qc):
    qc.pack()
    uid = qc.final(found=[("critical", 1)], verdict="pass", severity="tightened", sample_size=125)
    text = client.get(f"/inspections/{uid}/report").text
    assert tag(text, "data-report-flags")
    assert 'data-flag="verdict_disagrees"' in text and 'data-flag="plan_differs"' in text
    verdict = re.search(r"<p data-verdict-disagrees>.*?</p>", text, re.S).group(0)
    assert "Pass" in verdict and "Lot rejected" in verdict and "Critical 1" in verdict
    plan = re.search(r"<p data-plan-differs>.*?</p>", text, re.S).group(0)
    assert "Tightened inspection" in plan and "Normal inspection" in plan and "125" in plan and "80" in plan
    as_role(client, auth, make_user, "office")
    review = client.get("/office/review").text
    assert "data-verdict-disagrees" in review and "data-plan-differs" in review
    assert f'href="/inspections/{uid}/report"' in review


def test_a_mid_production_check_recorded_like_a_form_shows_its_note(app, client, inspection_plant, make_user, auth):
    from webapp.services.sync_service import record_locally

    user = as_role(client, auth, make_user, "follower")
    uid = str(uuid.uuid4())
    with app.test_request_context():
        person = db.session.get(User, user.id)
        for type_, payload in (
                ("inspection.started", {"inspection_id": uid, "kind": "mid_production", "work_order": "WO-1",
                                        "note": "packed goods too"}),
                ("inspection.completed", {"inspection_id": uid, "verdict": "pass", "note": "all good",
                                          "signature_sha256": "e" * 64})):
            assert record_locally(person, type_, payload)["status"] == "stored"
    text = client.get(f"/inspections/{uid}/report").text
    assert "Mid-production inspection" in text and "packed goods too" in text and "all good" in text
    assert 'data-decision="passed"' in text and "follower person" in text


def test_the_report_pdf_prints_in_english_and_in_chinese(client, qc):
    qc.pack()
    uid = qc.start("final")
    picture = qc.upload(photo())
    qc.defect(uid, "major", 6, location="flange", photos=[picture], markup=[{"photo": picture, "shapes": MARKUP}])
    qc.complete(uid, "fail")
    english = client.get(f"/inspections/{uid}/report.pdf?lang=en")
    assert english.status_code == 200 and english.mimetype == "application/pdf"
    assert english.data.startswith(b"%PDF-") and "inline" in english.headers["Content-Disposition"]
    text = pdf_text(english.data)
    for expected in ("Inspection report", "Lot rejected", "WO-1", "HS-01 Half-shaft", "Rust × 6", "flange",
                     "Major", "80", "inspector person", uid):
        assert expected in text, expected
    chinese = client.get(f"/inspections/{uid}/report.pdf?lang=zh")
    assert chinese.status_code == 200 and chinese.data.startswith(b"%PDF-")
    text = pdf_text(chinese.data)
    for expected in ("生产订单", "HS-01 半轴", "锈蚀", "签字"):
        assert expected in text, expected
    assert "Half-shaft" not in text


def test_an_unknown_or_malformed_inspection_is_not_found(client, qc):
    assert client.get(f"/inspections/{uuid.uuid4()}/report").status_code == 404
    assert client.get("/inspections/not-an-id/report").status_code == 404
    assert client.get(f"/inspections/{uuid.uuid4()}/report.pdf").status_code == 404


# --- Who may see what ----------------------------------------------------------------------------------

OFFICE_PAGES = ("/office/inspections", "/office/inspections/series", "/office/orders/quality")


@pytest.mark.parametrize(("role", "report", "office", "library"), [
    ("clerk", 403, 403, 200),
    ("operator", 403, 403, 200),
    ("inspector", 200, 403, 200),
    ("follower", 200, 200, 200),
    ("office", 200, 200, 200),
    ("director", 200, 200, 200),
    ("accountant", 200, 200, 200),
])
def test_each_role_sees_the_pages_its_work_needs(client, auth, make_user, qc, role, report, office, library):
    uid = qc.final()
    as_role(client, auth, make_user, role)
    assert client.get(f"/inspections/{uid}/report").status_code == report
    assert client.get(f"/inspections/{uid}/report.pdf").status_code == report
    for path in OFFICE_PAGES:
        assert client.get(path).status_code == office, path
    assert client.get("/products/HS-01/defects").status_code == library


def test_the_office_pages_need_signing_in(client, inspection_plant):
    for path in (*OFFICE_PAGES, "/products/HS-01/defects", f"/inspections/{uuid.uuid4()}/report"):
        reply = client.get(path)
        assert reply.status_code == 302 and "/login" in reply.headers["Location"], path


# --- The office's list ------------------------------------------------------------------------------

def test_the_office_list_filters_by_kind_status_order_product_inspector_and_date(app, client, auth, make_user, qc):
    qc.pack()
    accepted = qc.final()
    rejected = qc.final(found=[("major", 6)])
    first = qc.start("first_piece", operation="OP10")
    as_role(client, auth, make_user, "office")

    def listed(**args) -> set[str]:
        page = client.get("/office/inspections", query_string=args)
        assert page.status_code == 200
        return set(re.findall(r'data-inspection-row="([0-9a-f-]{36})"', page.text))

    assert listed() == {accepted, rejected, first}
    assert listed(kind="final") == {accepted, rejected}
    assert listed(kind="first_piece") == {first}
    assert listed(status="failed") == {rejected}
    assert listed(status="open") == {first}
    assert listed(order="wo-") == {accepted, rejected, first} and listed(order="WO-9") == set()
    assert listed(product="hs-01") == {accepted, rejected, first}
    assert listed(product="半轴") == {accepted, rejected, first}
    assert listed(product="HH") == set()
    with app.app_context():
        inspector_id = db.session.execute(select(User.id).where(User.role == "inspector")).scalar()
    assert listed(inspector=str(inspector_id)) == {accepted, rejected, first}
    assert listed(inspector="999999") == set()
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))  # the plant's day (Asia/Shanghai)
    assert listed(**{"from": today, "to": today}) == {accepted, rejected, first}
    assert listed(**{"from": "2000-01-01", "to": "2000-01-02"}) == set()
    assert listed(kind="nonsense", status="nonsense", **{"from": "yesterday"}) == {accepted, rejected, first}
    page = client.get("/office/inspections", query_string={"status": "failed"}).text
    row = re.search(rf'<tr data-inspection-row="{rejected}".*?</tr>', page, re.S).group(0)
    assert f'href="/inspections/{rejected}/report"' in row and "Lot rejected" in row and "Rework open" in row
    assert "0 / 6 / 0" in row


# --- Switching series -------------------------------------------------------------------------------

def test_two_rejected_lots_of_five_switch_the_series_to_tightened_and_the_history_says_why(
        client, auth, make_user, qc):
    qc.pack()
    lots = [qc.final(), qc.final(found=[("major", 6)]), qc.final(), qc.final(found=[("major", 7)]), qc.final()]
    as_role(client, auth, make_user, "office")
    overview = client.get("/office/inspections/series").text
    row = tag(overview, 'data-series="HS-01"')
    assert 'data-severity="tightened"' in row
    assert "2 of 5 or fewer consecutive lots were not accepted" in overview
    page = client.get("/office/inspections/series", query_string={"product": "HS-01"}).text
    history = re.findall(r'<tr data-lot="([0-9a-f-]{36})" data-decision="(\w+)" data-severity="(\w+)"\s*'
                         r'(?:data-switch="(\w+)")?', page)
    assert [h[0] for h in history] == lots
    assert [h[1] for h in history] == ["accepted", "rejected", "accepted", "rejected", "accepted"]
    assert [h[2] for h in history] == ["normal"] * 4 + ["tightened"]
    assert [h[3] for h in history] == ["", "", "", "tightened", ""]
    assert 'data-switch-reason="two_of_five_rejected"' in page and "(lots #2, #4)" in page
    assert 'data-series-history="HS-01"' in page and 'data-severity="tightened"' in page
    # The fifth lot's report says under which severity it was inspected, and why.
    report = client.get(f"/inspections/{lots[4]}/report").text
    assert 'data-severity="tightened"' in report and 'data-severity-reason="two_of_five_rejected"' in report
    assert client.get("/office/inspections/series", query_string={"product": "NOPE"}).status_code == 404


def test_the_office_sets_a_series_reduced_approval_steady_production_and_resumption(
        app, client, auth, make_user, inspection_plant):
    with app.app_context():
        db.session.execute(update(WorkOrder).where(WorkOrder.number == "WO-1").values(factory="Factory A"))
        db.session.commit()
    reviewer = as_role(client, auth, make_user, "office")
    page = client.get("/office/inspections/series", query_string={"product": "HS-01", "supplier": "Factory A"})
    assert page.status_code == 200 and "data-series-settings" in page.text
    token = auth.csrf("/office/inspections/series")
    form = {"csrf_token": token, "product": "HS-01", "supplier": "Factory A", "reduced_approved": "1",
            "resumed": "1"}
    reply = client.post("/office/inspections/series", data=form)
    assert reply.status_code == 303 and "supplier=Factory" in reply.headers["Location"]
    with app.app_context():
        row = db.session.execute(select(SamplingSeries)).scalar_one()
        assert (row.supplier, row.reduced_approved, row.production_steady) == ("Factory A", True, False)
        assert row.resumed_at is not None and row.updated_by == reviewer.id
        resumed = row.resumed_at
    shown = client.get(reply.headers["Location"]).text
    assert "Series settings saved." in shown and re.search(r'name="reduced_approved" value="1" checked', shown)
    client.post("/office/inspections/series", data={**form, "production_steady": "1"})
    with app.app_context():
        row = db.session.execute(select(SamplingSeries)).scalar_one()
        assert row.production_steady is True and row.resumed_at == resumed  # kept while it stays said
    assert client.post("/office/inspections/series", data={**form, "product": "NOPE"}).status_code == 404
    assert client.post("/office/inspections/series", data={k: v for k, v in form.items()
                                                           if k != "csrf_token"}).status_code == 400


@pytest.mark.parametrize("role", ["follower", "inspector", "clerk"])
def test_only_reviewers_change_a_series(client, auth, make_user, inspection_plant, role):
    as_role(client, auth, make_user, role)
    token = auth.csrf("/scan")
    reply = client.post("/office/inspections/series", data={"csrf_token": token, "product": "HS-01"})
    assert reply.status_code == 403
    page = client.get("/office/inspections/series", query_string={"product": "HS-01"})
    if page.status_code == 200:
        assert "data-series-settings" not in page.text


# --- The defect library ----------------------------------------------------------------------------

def test_the_defect_library_shows_each_type_with_its_reference_photo_and_how_often_it_was_found(
        app, client, auth, make_user, qc):
    reference = qc.upload(photo((200, 200, 200)))
    with app.app_context():
        db.session.execute(update(DefectType).where(DefectType.code == "D-RUST").values(
            reference_sha256=reference, description_en="Red-brown spots on the flange"))
        db.session.commit()
    qc.pack()
    uid = qc.start("final")
    picture = qc.upload(photo())
    qc.defect(uid, "major", 3, photos=[picture], markup=[{"photo": picture, "shapes": MARKUP[:1]}])
    qc.defect(uid, "major", 2)
    qc.complete(uid, "pass")
    as_role(client, auth, make_user, "clerk")
    page = client.get("/products/hs-01/defects")
    assert page.status_code == 200
    rust = re.search(r'<section class="card defect-type" id="type-D-RUST".*?</section>', page.text, re.S).group(0)
    assert "Rust" in rust and "锈蚀" in rust and "Red-brown spots on the flange" in rust
    assert f'data-photo="{reference}"' in rust and f'src="/api/v1/blobs/{reference}"' in rust
    assert 'data-times-found="5"' in rust and "5 pieces found in 1 inspections" in rust
    assert f'data-photo="{picture}"' in rust and "<circle" in rust
    crack = re.search(r'<section class="card defect-type" id="type-D-CRACK".*?</section>', page.text, re.S).group(0)
    assert "data-no-reference" in crack and "Not found on this product yet." in crack
    assert client.get("/products/NOPE/defects").status_code == 404


# --- Orders' quality --------------------------------------------------------------------------------

def test_orders_quality_shows_packing_first_pieces_mid_reports_behind_and_open_rework(
        client, auth, make_user, qc):
    qc.pack()  # 700 of 800: the final is due, and no mid-production report is signed
    first = qc.start("first_piece", operation="OP10")
    qc.measure(first, 1, length="420.0", diameter="38.00", workmanship="pass")
    qc.complete(first, "pass")
    failed = qc.final(found=[("major", 6)])
    as_role(client, auth, make_user, "director")
    page = client.get("/office/orders/quality").text
    row = re.search(r'<tr data-order="WO-1".*?</tr>', page, re.S).group(0)
    assert "data-behind" in row and "data-mid-behind" in row
    assert "the final inspection is due and the minimum is not reached" in row
    assert 'data-mid="0/2"' in row
    assert 'data-packed="700"' in row and "87%" in row and "14 cartons" in row
    assert 'data-first-piece="OP10" data-state="passed"' in row
    assert f'href="/inspections/{failed}/report" data-final="failed"' in row
    assert f'href="/inspections/{failed}/report" data-rework-open' in row


def test_the_records_list_names_inspection_records_and_links_their_report(client, auth, make_user, qc):
    uid = qc.final()
    as_role(client, auth, make_user, "office")
    page = client.get("/office/events").text
    assert f'<a href="/inspections/{uid}/report">{uid[:8]}</a>' in page
    assert "Inspection started" in page and "Final inspection (AQL sampling)" in page
