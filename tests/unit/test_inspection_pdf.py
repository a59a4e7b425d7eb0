"""The inspection report as an A4 PDF: plan, checklist, defects with their photos and the markup drawn over them,
decision and signatures, in English or Chinese; and the markup laid out as the device draws it."""

import io
import math
from datetime import UTC, datetime, timedelta

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image, ImageDraw

from webapp import create_app
from webapp.config import TestConfig
from webapp.services.inspection_pdf import MarkedPhoto, report_pdf
from webapp.services.inspection_reports import MARK_COLOUR, markup_geometry

STARTED = datetime(2026, 3, 14, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
UID = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
PHOTO, OTHER, SIG_QC, SIG_OP = "a" * 64, "b" * 64, "c" * 64, "d" * 64


@pytest.fixture(scope="module")
def babel_app(tmp_path_factory):
    """An app for its translations: the report never reads the database."""
    return create_app(TestConfig(database_url="sqlite://", instance=tmp_path_factory.mktemp("report")))


def jpeg(size=(800, 600), colour=(150, 150, 150)) -> bytes:
    image = Image.new("RGB", size, colour)
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def drawn() -> bytes:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 150), (200, 40), (400, 160), (580, 50)], fill=(20, 40, 160, 255), width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


SHAPES = [{"kind": "circle", "x": 0.5, "y": 0.5, "r": 0.1},
          {"kind": "arrow", "x1": 0.1, "y1": 0.9, "x2": 0.4, "y2": 0.6},
          {"kind": "text", "x": 0.6, "y": 0.2, "text": "裂纹 here"}]


def make_report(**changes) -> dict:
    plans = [
        {"class": "critical", "aql": "0", "code_letter": "J", "plan_letter": "J", "sample_size": 80, "accept": 0,
         "reject": 1, "inspect_all": False, "found": 0, "accepted": True},
        {"class": "major", "aql": "2.5", "code_letter": "J", "plan_letter": "J", "sample_size": 80, "accept": 5,
         "reject": 6, "inspect_all": False, "found": 6, "accepted": False},
        {"class": "minor", "aql": "4.0", "code_letter": "J", "plan_letter": "J", "sample_size": 80, "accept": 7,
         "reject": 8, "inspect_all": False, "found": 1, "accepted": True},
    ]
    report = {
        "uid": UID, "kind": "final", "status": "failed", "decision": "rejected", "verdict": "fail",
        "note": "返工后复检", "work_order": "WO-2026-0314", "order_quantity": 800, "customer": "ACME",
        "supplier": "Factory A", "product": {"code": "HS-01", "name_zh": "半轴", "name_en": "Half-shaft"},
        "operation": None, "bin_code": None,
        "template": {"code": "STD-FINAL", "name_zh": "尾查（AQL 抽检）", "name_en": "Final inspection (AQL)"},
        "lot_size": 700, "level": "II", "severity": "tightened", "severity_reason": "two_of_five_rejected",
        "aqls": {"critical": "0", "major": "2.5", "minor": "4.0"}, "sample_size": 80, "units": 5,
        "cartons": [3, 7, 12], "plans": plans,
        "checklist": [{"key": "length", "label_zh": "总长", "label_en": "Overall length", "group": "size",
                       "type": "measure", "nominal": "420.0", "minus": "0.5", "plus": "0.5", "unit": "mm",
                       "values": [{"unit": 1, "value": "420.1", "ok": True},
                                  {"unit": 2, "value": "421.2", "ok": False}],
                       "out": 1},
                      {"key": "workmanship", "label_zh": "做工", "label_en": "Workmanship", "group": "workmanship",
                       "type": "check", "nominal": None, "minus": None, "plus": None, "unit": None,
                       "values": [{"unit": 1, "value": "pass", "ok": True}], "out": 0}],
        "out_of_tolerance": 1, "found": {"critical": 0, "major": 6, "minor": 1},
        "defects": [
            {"defect_id": "d1", "class": "major", "type": "D-RUST", "type_zh": "锈蚀", "type_en": "Rust",
             "description": None, "location": "flange 法兰", "count": 6, "unit": 3, "note": "carton 7",
             "photos": [{"sha256": PHOTO, "shapes": SHAPES, "width": 800, "height": 600, "held": True},
                        {"sha256": OTHER, "shapes": [], "width": None, "height": None, "held": False}],
             "recorded_by": "李检", "recorded_at": STARTED + timedelta(minutes=20), "event_id": "e1"},
            {"defect_id": "d2", "class": "minor", "type": None, "type_zh": None, "type_en": None,
             "description": "loose thread", "location": None, "count": 1, "unit": None, "note": None, "photos": [],
             "recorded_by": "李检", "recorded_at": STARTED + timedelta(minutes=25), "event_id": "e2"}],
        "signatures": [
            {"event_id": "s1", "step": "inspector", "signer": "李检", "role": "inspector",
             "verification": "device_user", "signed_at": STARTED + timedelta(minutes=40), "device_id": "dev-1",
             "signature_sha256": SIG_QC, "note": None},
            {"event_id": "s2", "step": "factory", "signer": "Wang Chang", "role": "operator",
             "verification": "badge_pin", "signed_at": STARTED + timedelta(minutes=45), "device_id": "dev-1",
             "signature_sha256": SIG_OP, "note": "agreed"}],
        "cosigners_missing": [], "flags": [{"event_id": "e9", "code": "verdict_disagrees"}],
        "started_by": "李检", "started_at": STARTED, "started_device": "dev-1", "started_note": None,
        "completed_at": STARTED + timedelta(minutes=40), "reinspects": None,
        "rework": {"status": "open", "opened_at": STARTED + timedelta(minutes=40), "closed_at": None,
                   "reinspection_uid": None, "reason": "major: 6"},
        "reinspections": [],
    }
    return report | changes


IMAGES = {PHOTO: jpeg(), SIG_QC: drawn(), SIG_OP: drawn()}


def render(app, report, locale="en", images=None) -> bytes:
    with app.app_context():
        return report_pdf(report, locale, "Asia/Shanghai", images=(images or IMAGES).get)


def text_of(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return " ".join(" ".join(page.get_textpage().get_text_range().split()) for page in document)
    finally:
        document.close()


def image_count(data: bytes) -> int:
    document = pdfium.PdfDocument(data)
    try:
        return sum(len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))) for page in document)
    finally:
        document.close()


def red_pixels(data: bytes) -> int:
    """Count the pixels of the markup's red on the rendered pages."""
    document = pdfium.PdfDocument(data)
    try:
        count = 0
        for page in document:
            raw = page.render(scale=1).to_pil().convert("RGB").tobytes()
            count += sum(1 for i in range(0, len(raw), 3) if raw[i] > 200 and raw[i + 1] < 60 and raw[i + 2] < 70)
        return count
    finally:
        document.close()


def test_the_english_report_has_the_order_the_plan_the_findings_and_the_decision(babel_app):
    data = render(babel_app, make_report())
    assert data.startswith(b"%PDF-")
    text = text_of(data)
    for expected in ("Inspection report", "Final inspection (AQL sampling)", "6F1C2B3A", "Lot rejected",
                     "WO-2026-0314", "HS-01 Half-shaft", "Factory A", "Lot size", "700", "Cartons drawn", "3, 7, 12",
                     "Tightened inspection", "2 of 5", "Major", "2.5", "reject", "Overall length", "421.2",
                     "Out of tolerance: 1", "Rust × 6", "flange 法兰", "loose thread", "Photo waiting to upload",
                     "李检", "Wang Chang", "badge and PIN", "Rework open", "differs from the sampling plan", UID):
        assert expected in text, expected
    # Two photos' boxes (one held), two drawn signatures.
    assert image_count(data) == 3


def test_the_chinese_report_is_labelled_in_chinese_with_the_data_as_given(babel_app):
    text = text_of(render(babel_app, make_report(), "zh_Hans_CN"))
    for expected in ("终检（AQL 抽样）", "生产订单", "HS-01 半轴", "客户", "签字", "锈蚀", "总长", "李检",
                     "返工后复检"):
        assert expected in text, expected
    assert "Half-shaft" not in text and "Overall length" not in text


def test_the_markup_is_drawn_over_the_photo_and_the_photo_itself_is_kept(babel_app):
    marked = render(babel_app, make_report())
    bare = make_report()
    bare["defects"][0]["photos"][0]["shapes"] = []
    plain = render(babel_app, bare)
    # The photo is grey and the page has no other red of this shade: the red is the markup's.
    assert red_pixels(marked) > 200
    assert red_pixels(plain) < red_pixels(marked) / 10
    assert image_count(marked) == image_count(plain)  # the photo embedded once, the shapes drawn over it


def test_an_open_inspection_without_a_plan_prints_what_it_has(babel_app):
    report = make_report(kind="first_piece", status="open", decision=None, verdict=None, note=None, lot_size=None,
                         level=None, severity=None, severity_reason=None, sample_size=None, cartons=[], plans=[],
                         defects=[], signatures=[], cosigners_missing=["operator"], flags=[], rework=None,
                         completed_at=None, found={"critical": 0, "major": 0, "minor": 0},
                         operation={"code": "OP10", "name_zh": "下料", "name_en": "Cutting"})
    text = text_of(render(babel_app, report))
    assert "Open: no verdict yet" in text and "First-piece inspection" in text and "OP10 Cutting" in text
    assert "No defects recorded." in text and "not signed yet" in text
    assert "Lot size" not in text


def test_many_defects_run_over_pages_with_the_footer_on_each(babel_app):
    report = make_report()
    photo = report["defects"][0]["photos"][0]
    report["defects"] = [dict(report["defects"][0], defect_id=f"d{i}", photos=[photo] * 4) for i in range(5)]
    data = render(babel_app, report)
    document = pdfium.PdfDocument(data)
    try:
        pages = [" ".join(page.get_textpage().get_text_range().split()) for page in document]
    finally:
        document.close()
    assert len(pages) > 2
    assert all(UID in page for page in pages)
    assert "Page 2" in pages[1]


def test_a_photo_that_is_no_image_prints_as_waiting(babel_app):
    text = text_of(render(babel_app, make_report(), images={PHOTO: b"not an image"}))
    assert text.count("Photo waiting to upload") == 2
    assert "no image" in text  # the signatures' images are missing too


@pytest.mark.parametrize(("shape", "expected"), [
    ({"kind": "circle", "x": 0.5, "y": 0.25, "r": 0.1}, {"cx": 400, "cy": 150, "r": 80}),
    ({"kind": "text", "x": 0.1, "y": 0.5, "text": "毛刺"}, {"x": 80, "y": 300, "size": 43, "text": "毛刺"}),
    ({"kind": "arrow", "x1": 0, "y1": 0, "x2": 0.5, "y2": 0.5}, {"x1": 0, "y1": 0, "x2": 400, "y2": 300}),
])
def test_markup_is_laid_out_in_the_photos_pixels_as_the_device_draws_it(shape, expected):
    g = markup_geometry([shape], 800, 600)
    assert (g["width"], g["height"], g["stroke"]) == (800, 600, 7)  # min(800, 600) / 90, rounded
    [laid] = g["shapes"]
    assert laid["colour"] == MARK_COLOUR
    for key, value in expected.items():
        assert laid[key] == pytest.approx(value) if isinstance(value, int | float) else laid[key] == value


def test_an_arrows_head_points_back_along_the_arrow():
    g = markup_geometry([{"kind": "arrow", "x1": 0, "y1": 0.5, "x2": 1, "y2": 0.5, "color": "#00ff00"}], 900, 900)
    [arrow] = g["shapes"]
    tip, *wings = arrow["head"]
    assert tip == (900, 450) and arrow["colour"] == "#00ff00"
    length = g["stroke"] * 5
    for x, y in wings:
        assert math.hypot(900 - x, 450 - y) == pytest.approx(length)
        assert x < 900
    assert wings[0][1] != wings[1][1]


def test_a_circle_stays_round_on_a_photo_not_yet_arrived():
    g = markup_geometry([{"kind": "circle", "x": 0.5, "y": 0.5, "r": 0.2}], None, None)
    assert g["width"] / g["height"] == pytest.approx(4 / 3)
    assert g["shapes"][0]["r"] == pytest.approx(0.2 * g["width"])


def test_a_marked_photo_keeps_the_photos_proportions_within_its_box():
    photo = MarkedPhoto(Image.new("RGB", (600, 1200)), [], "waiting", width=80, max_height=100)
    assert photo.wrap(500, 500) == (50, 100)
