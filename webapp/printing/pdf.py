"""Labels as PDF with reportlab: the QR as one vector path, text as glyph outlines.

Speed (`make bench-labels`): no font is embedded or subset per document. Every glyph used is
drawn once into a Form XObject from its outline in the label font, and each placement is a
`cm` + `Do`; the QR is one path of rectangles, one per dark run of a row, filled at once (no
hairline seams between modules). An invisible Helvetica copy of each code keeps the PDF
searchable (and lets tests read the codes back).
"""

from __future__ import annotations

import io
import re

from reportlab import rl_config
from reportlab.pdfbase.pdfdoc import xObjectName
from reportlab.pdfgen.canvas import Canvas

from webapp.printing import qr as qrmod
from webapp.printing.fonts import LabelFont
from webapp.printing.layouts import MM_PER_INCH, Layout, Placed

# Binary (deflated) streams: reportlab's ASCII85 wrapping is pure Python and was half the time.
rl_config.useA85 = 0
PT = 72 / MM_PER_INCH  # points per millimetre
_DARK = re.compile("1+")
BOLD_STROKE = 34  # font units: outline stroke that makes the code bolder than the regular face


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def qr_path(qr: qrmod.QR) -> str:
    """Return the QR's dark modules as PDF rectangles in module units, rows counted downwards."""
    stride = qr.size + 1
    parts = []
    for run in _DARK.finditer("|".join(qr.rows)):
        y, x = divmod(run.start(), stride)
        parts.append(f"{x} {-y - 1} {run.end() - run.start()} 1 re")
    return " ".join(parts)


class _Glyphs:
    """Form XObjects of the glyphs in one document, defined before the first page."""

    def __init__(self, canvas: Canvas, font: LabelFont) -> None:
        self.canvas, self.font = canvas, font
        self.defined: dict[str, str] = {}  # form name: its "/Name Do" operator
        self.on_page: set[str] = set()  # forms already in this page's resources

    def new_page(self) -> None:
        self.on_page.clear()

    def _form_name(self, char: str, bold: bool) -> str:
        return ("B" if bold else "R") + self.font.glyph(char).name.replace(".", "_")

    def define(self, text: str, bold: bool) -> None:
        for char in text:
            if char.isspace():
                continue
            glyph = self.font.glyph(char)
            name = self._form_name(char, bold)
            if name in self.defined:
                continue
            u = self.font.units
            self.canvas.beginForm(name, -u, -u, 2 * u, 2 * u)
            paint = f" {BOLD_STROKE} w 1 j B" if bold else " f"
            self.canvas.addLiteral(glyph.path + paint if glyph.path else "")
            self.canvas.endForm()
            self.defined[name] = f"/{xObjectName(name)} Do"

    def draw(self, text: str, x: float, y: float, size: float, bold: bool) -> None:
        """Draw text with its baseline's left end at (x, y) points, em size in points."""
        scale = size / self.font.units
        c = self.canvas
        ops = [f"q {_num(scale)} 0 0 {_num(scale)} {_num(x)} {_num(y)} cm"]
        for char in text:
            if not char.isspace():
                name = self._form_name(char, bold)
                if name not in self.on_page:  # doForm lists the form in the page's resources
                    c.addLiteral(" ".join(ops))
                    ops = []
                    c.doForm(name)
                    self.on_page.add(name)
                else:
                    ops.append(self.defined[name])
            ops.append(f"1 0 0 1 {self.font.glyph(char).advance} 0 cm")
        ops.append("Q")
        c.addLiteral(" ".join(ops))


def render(placed: list[Placed], layout: Layout, font: LabelFont) -> bytes:
    """Return a PDF with the placed labels, `layout.per_page` to a page."""
    out = io.BytesIO()
    page_h = layout.page_h * PT
    c = Canvas(out, pagesize=(layout.page_w * PT, page_h), pageCompression=1, invariant=1)
    c.setTitle("Shopfloor labels")
    c.setCreator("Shopfloor")
    glyphs = _Glyphs(c, font)
    for p in placed:
        for t in p.texts:
            glyphs.define(t.text, t.bold)
    for i, p in enumerate(placed):
        slot = i % layout.per_page
        if slot == 0 and i:
            c.showPage()
            glyphs.new_page()
        ox, oy = layout.origin(slot)
        # QR: module units, origin at the first row's top-left dark-module corner.
        m = p.module * PT
        qx = (ox + p.qr_x + qrmod.QUIET * p.module) * PT
        qy = page_h - (oy + p.qr_y + qrmod.QUIET * p.module) * PT
        c.addLiteral(f"q {_num(m)} 0 0 {_num(m)} {_num(qx)} {_num(qy)} cm {qr_path(p.qr)} f Q")
        for t in p.texts:
            glyphs.draw(t.text, (ox + t.x) * PT, page_h - (oy + t.baseline) * PT, t.size * PT, t.bold)
        # Invisible, searchable copy of the code.
        code = p.texts[0]
        text = c.beginText((ox + code.x) * PT, page_h - (oy + code.baseline) * PT)
        text.setTextRenderMode(3)
        text.setFont("Helvetica", code.size * PT * 0.8)
        text.textOut(p.label.code)
        c.drawText(text)
    c.showPage()
    c.save()
    return out.getvalue()
