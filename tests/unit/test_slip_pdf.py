"""The transfer slip as an A4 PDF: number, signers and drawn signatures in it, in English or Chinese, on one page."""

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image, ImageDraw
from reportlab.pdfbase import pdfmetrics

from webapp import create_app
from webapp.config import TestConfig
from webapp.services.slip_pdf import FONT, slip_pdf

OPENED = datetime(2025, 3, 14, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
SIGNERS = {"clerk": "王小明", "inspector": "Li Jian", "operator": "张师傅", "receiver": "Zhao Banzhang"}
STEPS = list(SIGNERS)


@pytest.fixture(scope="module")
def babel_app(tmp_path_factory):
    """An app for its translations: the slip never reads the database."""
    return create_app(TestConfig(database_url="sqlite://", instance=tmp_path_factory.mktemp("slip")))


def drawn(seed: int) -> bytes:
    """Return a signature pad's PNG (ink on transparency), a different scribble for each seed."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    points = [(20 + 25 * i, 40 + (i * seed * 37) % 120) for i in range(23)]
    ImageDraw.Draw(image).line(points, fill=(20, 40, 160, 255), width=5)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def signature(step: str, **changes) -> dict:
    i = STEPS.index(step)
    sig = {"step": step, "signer": SIGNERS[step], "role": step, "quantity": 60,
           "verdict": "pass" if step == "inspector" else None, "signed_at": OPENED + timedelta(minutes=10 * i),
           "device_id": "dev-7f3a", "verification": "device_user", "state": "valid", "image": drawn(i + 1),
           "note": None}
    return sig | changes


def make_slip(**changes) -> dict:
    slip = {"number": "ZX-3F2A91C0", "transfer_id": "9b1f7a3c-1d2e-4f50-8a6b-0c1d2e3f4a5b", "status": "complete",
            "part": "HS-01 半轴", "product": "HS-01 半轴 / Half-shaft", "work_order": "WO-2025-0314",
            "bins": [{"code": "B-00012", "quantity": 40}, {"code": "B-00013", "quantity": None}],
            "from_place": "L-OP20 车削 / Turning", "to_place": "L-OP30 磨削 / Grinding", "quantity": 60,
            "opened_by": "王小明", "opened_at": OPENED, "content_hash": "3f" * 32,
            "signatures": [signature(step) for step in STEPS],
            "explanation": None, "written_off": None, "refusal": None, "flags": []}
    return slip | changes


def render(app, slip: dict, locale: str = "en", tz: str = "Asia/Shanghai") -> bytes:
    with app.app_context():
        return slip_pdf(slip, locale, tz)


def page_texts(data: bytes) -> list[str]:
    """Return each page's text, whitespace (line breaks in table cells) as single spaces."""
    document = pdfium.PdfDocument(data)
    try:
        return [" ".join(page.get_textpage().get_text_range().split()) for page in document]
    finally:
        document.close()


def images(data: bytes) -> int:
    """Return how many images the pages draw."""
    document = pdfium.PdfDocument(data)
    try:
        return sum(len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))) for page in document)
    finally:
        document.close()


def test_the_english_slip_is_one_page_with_the_number_the_four_signers_and_local_times(babel_app):
    data = render(babel_app, make_slip())
    assert data.startswith(b"%PDF")
    texts = page_texts(data)
    assert len(texts) == 1
    text = texts[0]
    assert "Transfer slip" in text and "ZX-3F2A91C0" in text and "Complete" in text
    for name in SIGNERS.values():
        assert name in text
    for step in ("Transfer clerk", "Inspector", "Upstream operator", "Downstream receiver"):
        assert step.replace(" ", "") in text.replace(" ", "")  # a narrow cell may break a word
    assert "Pass" in text and "signed in on this device" in text
    assert "2025-03-14 08:30" in text and "2025-03-14 09:00" in text  # opened / clerk, receiver in Shanghai
    assert "3f" * 32 in text  # the content hash in the footer
    assert "no image" not in text


def test_four_drawn_signatures_are_four_embedded_images(babel_app):
    data = render(babel_app, make_slip())
    assert images(data) == 4
    assert data.count(b"/Subtype /Image") == 4


def test_the_chinese_slip_has_the_chinese_names_and_translated_labels(babel_app):
    text = page_texts(render(babel_app, make_slip(), "zh_Hans_CN"))[0]
    assert "HS-01 半轴" in text and "L-OP20 车削 / Turning" in text and "王小明" in text
    assert "零件" in text and "检查员" in text  # "Part" and "Inspector" from the catalogue
    assert "Inspector" not in text


def truncated_png() -> bytes:
    return drawn(3)[:120]


def huge_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (3000, 3000), 255).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("image", [b"not a png", b"", None, truncated_png(), huge_png()],
                         ids=["not-an-image", "empty", "not-uploaded", "truncated", "too-large"])
def test_a_signature_without_a_usable_image_prints_no_image(babel_app, image):
    slip = make_slip()
    slip["signatures"][2]["image"] = image
    data = render(babel_app, slip)
    text = page_texts(data)[0]
    assert text.count("no image") == 1
    assert SIGNERS["operator"] in text
    assert images(data) == 3


def test_void_and_out_of_order_signatures_are_printed_and_marked(babel_app):
    clerk, inspector, operator, receiver = (signature(step) for step in STEPS)
    void = signature("inspector", signer="Old Inspector", verdict="fail", state="void", image=drawn(9))
    early = signature("receiver", signer="Early Bird", state="out_of_order", image=drawn(11))
    data = render(babel_app, make_slip(status="open", signatures=[clerk, void, inspector, operator, receiver, early]))
    texts = page_texts(data)
    assert len(texts) == 1
    text = texts[0]
    assert "Waiting for signatures" in text
    assert text.index("Old Inspector") < text.index("Li Jian")  # both, in the given order
    assert "void (slip changed after signing)" in text and "Fail" in text
    assert text.index("Zhao Banzhang") < text.index("Early Bird") < text.index("out of order")
    assert images(data) == 6


def test_a_step_nobody_signed_yet_says_so(babel_app):
    slip = make_slip(status="open", signatures=[signature("clerk")])
    text = page_texts(render(babel_app, slip))[0]
    assert text.count("not signed") == 3


def test_explanation_write_off_refusal_and_flags_are_printed(babel_app):
    slip = make_slip(
        status="refused",
        signatures=[signature(step, quantity=58) for step in STEPS],
        explanation={"text": "两件在车削时报废", "by": "张师傅", "at": OPENED},
        written_off={"quantity": 2, "reason": "scrapped in turning", "by": "Statistician Liu", "at": OPENED},
        refusal={"step": "receiver", "reason": "数量不符", "by": "Zhao Banzhang", "at": OPENED},
        flags=["混料风险 / Mix-up risk", "Quantity differs"])
    texts = page_texts(render(babel_app, slip))
    assert len(texts) == 1
    text = texts[0]
    assert "Refused" in text.split("Part")[0]  # the status, by the number
    assert "Explanation of the difference" in text and "两件在车削时报废" in text
    assert "Written off as scrap" in text and "2 pieces" in text and "scrapped in turning" in text
    assert "Statistician Liu" in text
    assert "Refused" in text and "数量不符" in text
    assert "混料风险 / Mix-up risk" in text and "Quantity differs" in text


def test_times_are_in_the_time_zone_asked_for(babel_app):
    text = page_texts(render(babel_app, make_slip(), tz="UTC"))[0]
    assert "2025-03-14 00:30" in text and "08:30" not in text


def test_a_long_slip_flows_onto_more_pages_with_the_footer_on_each(babel_app):
    signatures = [signature(step, signer=f"{SIGNERS[step]} {n}", note="说明" * 400)
                  for step in STEPS for n in range(3)]
    texts = page_texts(render(babel_app, make_slip(signatures=signatures, flags=[f"flag {n}" for n in range(40)])))
    assert len(texts) > 1
    assert all("ZX-3F2A91C0" in text and "3f" * 32 in text for text in texts)
    whole = " ".join(texts)
    assert all(sig["signer"] in whole for sig in signatures) and "flag 39" in whole


def test_slips_built_at_the_same_time_are_each_whole(babel_app):
    def build(n: int) -> bytes:
        return render(babel_app, make_slip(number=f"ZX-0000000{n}"), "zh_Hans_CN" if n % 2 else "en")

    with ThreadPoolExecutor(4) as pool:
        built = list(pool.map(build, range(6)))
    for n, data in enumerate(built):
        text = page_texts(data)[0]
        assert f"ZX-0000000{n}" in text and "HS-01 半轴" in text
        assert images(data) == 4
    assert FONT not in pdfmetrics.getRegisteredFontNames()
