"""Labels as PDF, PNG and ZPL: every QR decodes to its URL, at printer resolutions; Chinese is real glyphs."""

import ast
import io
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw

from webapp.domain.label_codes import mint
from webapp.printing import LAYOUTS, Label, LabelError, render
from webapp.printing.fonts import label_font
from webapp.printing.layouts import MM_PER_INCH, THERMAL_DPI, arrange, module_size, wrap
from webapp.printing.qr import make

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://shopfloor.plant.example"
LONG_BASE = "https://shopfloor-server.machining-plant.example-group.com.cn:8443"  # 66 characters


def labels(n: int, base: str = BASE, first: int = 1) -> list[Label]:
    return [Label(mint(i), f"{base}/b/{mint(i)}", "华东传动件厂 机加工车间", "East China Driveline Works",
                  "铁框 steel crate") for i in range(first, first + n)]


def pdf_pages(data: bytes, dpi: float) -> list[Image.Image]:
    document = pdfium.PdfDocument(data)
    try:
        return [page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for page in document]
    finally:
        document.close()


def decoded(image: Image.Image) -> list[str]:
    return sorted(r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))


def test_every_qr_on_an_a4_24_sheet_decodes_to_its_url():
    batch = labels(24)
    output = render(batch, "a4-24", "pdf")
    pages = pdf_pages(output.files[0], 300)
    assert len(pages) == 1 and output.pages == 1
    assert decoded(pages[0]) == sorted(label.url for label in batch)


def test_a_sheet_fills_pages_in_order():
    batch = labels(45)
    pages = pdf_pages(render(batch, "a4-40", "pdf").files[0], 200)
    assert len(pages) == 2
    assert decoded(pages[0]) == sorted(label.url for label in batch[:40])
    assert decoded(pages[1]) == sorted(label.url for label in batch[40:])


@pytest.mark.parametrize("layout", ["50x30", "60x40"])
def test_each_thermal_label_is_one_page_whose_qr_decodes(layout):
    batch = labels(3)
    pages = pdf_pages(render(batch, layout, "pdf").files[0], 300)
    assert len(pages) == 3
    spec = LAYOUTS[layout]
    for page, label in zip(pages, batch, strict=True):
        assert page.size[0] == pytest.approx(spec.page_w / MM_PER_INCH * 300, abs=1)
        assert page.size[1] == pytest.approx(spec.page_h / MM_PER_INCH * 300, abs=1)
        assert decoded(page) == [label.url]


@pytest.mark.parametrize("base", [BASE, LONG_BASE])
def test_a_50x30_label_printed_at_203_dpi_still_decodes(base):
    label = labels(1, base, first=4711)[0]
    pdf_page = pdf_pages(render([label], "50x30", "pdf").files[0], THERMAL_DPI)[0]
    png_page = Image.open(io.BytesIO(render([label], "50x30", "png", dpi=THERMAL_DPI).files[0]))
    for page in (pdf_page, png_page):
        assert page.size[0] == pytest.approx(50 / MM_PER_INCH * THERMAL_DPI, abs=1)
        assert page.size[1] == pytest.approx(30 / MM_PER_INCH * THERMAL_DPI, abs=1)
        # A thermal head prints black or nothing: threshold, as the printer would.
        assert decoded(page.convert("L").point(lambda v: 255 if v > 127 else 0)) == [label.url]


@pytest.mark.parametrize("layout", ["50x30", "60x40", "a4-40", "a4-24"])
@pytest.mark.parametrize("base", [BASE, LONG_BASE])
def test_qr_modules_are_at_least_two_dots_at_203_dpi(layout, base):
    """0.25 mm a module at least; on thermal layouts a whole number of 203-dpi dots."""
    symbol = make(f"{base}/b/{mint(12345)}")
    module = module_size(LAYOUTS[layout], symbol.size_with_quiet_zone)
    dots = module / MM_PER_INCH * THERMAL_DPI
    assert dots >= 2
    if LAYOUTS[layout].thermal:
        assert abs(dots - round(dots)) < 1e-6
    assert symbol.error in ("M", "Q", "H")


def test_a_url_too_long_for_the_label_is_refused_not_printed_unreadable():
    with pytest.raises(LabelError, match="modules"):
        render(labels(1, "https://" + "x" * 600 + ".example"), "50x30", "pdf")


def test_png_sheet_qrs_decode_and_every_png_page_is_a_file():
    batch = labels(30)
    output = render(batch, "a4-24", "png", dpi=200)
    assert len(output.files) == output.pages == 2
    pages = [Image.open(io.BytesIO(data)) for data in output.files]
    assert pages[0].info["dpi"][0] == pytest.approx(200, abs=0.01)
    assert decoded(pages[0].convert("L")) == sorted(label.url for label in batch[:24])
    assert decoded(pages[1].convert("L")) == sorted(label.url for label in batch[24:])


def test_the_pdf_holds_each_code_as_searchable_text():
    batch = labels(3)
    document = pdfium.PdfDocument(render(batch, "a4-24", "pdf").files[0])
    text = document[0].get_textpage().get_text_range()
    document.close()
    assert text.split() == [label.code for label in batch]


# Chinese text: real glyphs, not the font's missing-glyph box and not blank.

def _ink(image: Image.Image) -> float:
    histogram = image.convert("L").point(lambda v: 255 if v < 128 else 0).histogram()
    return histogram[255] / (image.width * image.height)


def _title_crop(label: Label, fmt: str, dpi: int = 600) -> Image.Image:
    layout = LAYOUTS["60x40"]
    placed = arrange(label, layout, label_font())
    title = placed.texts[1]
    if fmt == "pdf":
        page = pdf_pages(render([label], "60x40", "pdf").files[0], dpi)[0]
    else:
        page = Image.open(io.BytesIO(render([label], "60x40", "png", dpi=dpi).files[0])).convert("L")
    px = dpi / MM_PER_INCH
    width = label_font().width(label.title) * title.size
    box = (title.x, title.baseline - title.size * 0.95, title.x + width, title.baseline + title.size * 0.2)
    return page.crop(tuple(round(v * px) for v in box))


@pytest.mark.parametrize("fmt", ["pdf", "png"])
def test_chinese_text_is_drawn_with_real_glyphs(fmt):
    font = label_font()
    title = "华东传动件厂"
    assert not font.missing(title)
    real = _title_crop(Label("B00001Z", f"{BASE}/b/B00001Z", title), fmt)
    # The same number of characters the font lacks: they print as its .notdef box.
    missing = "\ue000" * len(title)
    assert font.missing(missing)
    tofu = _title_crop(Label("B00001Z", f"{BASE}/b/B00001Z", missing), fmt)
    assert real.size == tofu.size
    assert _ink(real) > 0.05, "the title is blank"
    difference = _ink(ImageChops.difference(real, tofu).point(lambda v: 0 if v > 128 else 255))
    assert difference > 0.15, "the Chinese title printed as missing-glyph boxes"
    # An empty box outline (what a font without CJK draws) has ink only on its border.
    empty = Image.new("L", real.size, 255)
    ImageDraw.Draw(empty).rectangle((2, 2, real.width - 3, real.height - 3), outline=0, width=3)
    assert _ink(ImageChops.difference(real, empty).point(lambda v: 0 if v > 128 else 255)) > 0.05
    # And it looks like FreeType's own rendering of the same font: about the same amount of ink.
    reference = Image.new("L", real.size, 255)
    size_px = round(real.height / 1.15)
    ImageDraw.Draw(reference).text((0, size_px * 0.95), title, fill=0, font=font.pillow(size_px), anchor="ls")
    assert _ink(real) == pytest.approx(_ink(reference), rel=0.35)


def test_text_wraps_between_chinese_characters_and_words():
    font = label_font()
    lines = wrap(font, "华东传动件厂 East China Driveline Works", 3.0, 20.0)
    assert len(lines) > 1
    assert all(font.width(line) * 3.0 <= 20.0 + 1e-6 for line in lines)
    assert "".join(lines).replace(" ", "") == "华东传动件厂EastChinaDrivelineWorks"


def test_a_long_name_shrinks_then_is_cut_to_fit_beside_the_qr():
    label = Label("B00001Z", f"{BASE}/b/B00001Z", "很长的车间名称" * 40, "A very long workshop name " * 10, "铁框")
    placed = arrange(label, LAYOUTS["50x30"], label_font())
    qr_bottom = placed.qr_y + placed.qr_side
    assert all(t.baseline <= qr_bottom + 0.01 for t in placed.texts[1:])
    assert placed.texts[-1].text.endswith("…")


# ZPL for Zebra printers.

ZPL_QR = re.compile(r"\^FO(\d+),(\d+)\^BQN,2,(\d+),M\^FDMA,([^\^]+)\^FS")
ZPL_GF = re.compile(r"\^FO(\d+),(\d+)\^GFA,(\d+),(\d+),(\d+),([0-9A-F]+)\^FS")


@pytest.mark.parametrize(("layout", "width", "height"), [("50x30", 400, 240), ("60x40", 480, 320)])
def test_zpl_has_a_native_qr_field_and_chinese_as_graphics(layout, width, height):
    batch = labels(3)
    text = render(batch, layout, "zpl").files[0].decode()
    formats = re.findall(r"\^XA(.*?)\^XZ", text, re.S)
    assert len(formats) == 3
    for body, label in zip(formats, batch, strict=True):
        assert f"^PW{width}" in body and f"^LL{height}" in body and "^CI28" in body
        (x, y, magnification, url), = ZPL_QR.findall(body)
        assert url == label.url
        assert int(magnification) >= 2
        # QR plus its quiet zone fits on the label.
        modules = make(label.url).size + 8
        assert int(x) >= 4 * int(magnification) - 1 and int(x) + (modules - 4) * int(magnification) <= width
        assert f"^FD{label.code}^FS" in body
        graphics = ZPL_GF.findall(body)
        assert len(graphics) >= 2  # the Chinese name (maybe two lines), the bin type
        for _x, _y, total, total_again, row_bytes, data in graphics:
            assert int(total) == int(total_again) == len(data) // 2
            assert int(total) % int(row_bytes) == 0
            rows = int(total) // int(row_bytes)
            bitmap = Image.frombytes("1", (int(row_bytes) * 8, rows), bytes.fromhex(data))
            ink = sum(bin(b).count("1") for b in bytes.fromhex(data)) / (int(total) * 8)
            assert 0.05 < ink < 0.8 and bitmap.size[1] >= 10
        assert re.search(r"\^A0N,\d+,\d+\^FDEast China", body)  # ASCII text in the printer's own font


def test_zpl_is_only_for_thermal_layouts():
    with pytest.raises(LabelError, match="ZPL"):
        render(labels(1), "a4-24", "zpl")


def test_printing_needs_no_flask():
    for path in (ROOT / "webapp/printing").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.startswith(("flask", "webapp.services", "webapp.models")) for n in names), path
