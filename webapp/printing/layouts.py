"""Label layouts and where everything goes on a label, in millimetres from the label's top-left corner.

Every label: the QR (with its 4-module quiet zone) at the top left, the code in large type under
it, and beside the QR the workshop or plant name (Chinese, then English when different) and
the bin type. One placement serves the PDF, PNG and ZPL renderers, so they print alike.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from webapp.printing import qr as qrmod
from webapp.printing.fonts import LabelFont

MM_PER_INCH = 25.4
THERMAL_DPI = 203  # the coarsest common thermal printer (Zebra, Brother, Dymo at 8 dots/mm)
MIN_MODULE_MM = 0.25  # 2 dots at 203 dpi: smaller modules blur on a thermal print head
LINE_HEIGHT = 1.2  # em
MIN_TEXT_MM = 1.6  # em size below which text is cut rather than shrunk (about 4.5 pt)


class LabelError(ValueError):
    """A label that cannot be printed as asked (say, a URL too long for the label size)."""


@dataclass(frozen=True)
class Layout:
    """A label size and how labels sit on a page: sheets of stickers or one label per page."""

    name: str
    page_w: float
    page_h: float
    cols: int
    rows: int
    cell_w: float
    cell_h: float
    left: float  # first label's top-left corner on the page
    top: float
    pad_x: float  # blank margin inside each label
    pad_y: float
    code_band: float  # height of the code line under the QR
    text_mm: float  # em size of the name beside the QR (shrunk to fit)
    thermal: bool

    @property
    def per_page(self) -> int:
        """Return how many labels fit on one page."""
        return self.cols * self.rows

    def origin(self, slot: int) -> tuple[float, float]:
        """Return the top-left corner (mm) of the label in `slot` (row by row) on its page."""
        row, col = divmod(slot, self.cols)
        return self.left + col * self.cell_w, self.top + row * self.cell_h


A4 = (210.0, 297.0)
LAYOUTS: dict[str, Layout] = {
    # 3 x 8 stickers of 70 x 37 mm (e.g. Avery 3474, Herma 4453): 0.5 mm top and bottom
    "a4-24": Layout("a4-24", *A4, cols=3, rows=8, cell_w=70, cell_h=37, left=0, top=0.5, pad_x=5, pad_y=3,
                    code_band=7, text_mm=4.2, thermal=False),
    # 4 x 10 stickers of 52.5 x 29.7 mm (e.g. Avery 3651), edge to edge
    "a4-40": Layout("a4-40", *A4, cols=4, rows=10, cell_w=52.5, cell_h=29.7, left=0, top=0, pad_x=4, pad_y=2.5,
                    code_band=6, text_mm=3, thermal=False),
    # one label per page for thermal printers (Brother QL/TD, Dymo, Zebra in PDF mode)
    "50x30": Layout("50x30", 50, 30, cols=1, rows=1, cell_w=50, cell_h=30, left=0, top=0, pad_x=1.5, pad_y=1.5,
                    code_band=6.5, text_mm=3, thermal=True),
    "60x40": Layout("60x40", 60, 40, cols=1, rows=1, cell_w=60, cell_h=40, left=0, top=0, pad_x=2, pad_y=2,
                    code_band=8.5, text_mm=3.6, thermal=True),
}


@dataclass(frozen=True)
class Label:
    """What one label says: the code, the URL its QR encodes, names and the bin type."""

    code: str
    url: str
    title: str = ""  # workshop or plant name, Chinese
    subtitle: str = ""  # the same in English, when it differs
    bin_type: str = ""


@dataclass(frozen=True)
class Text:
    """A line of text: left end of its baseline (mm from the label's top-left) and em size (mm)."""

    x: float
    baseline: float
    size: float
    text: str
    bold: bool = False


@dataclass(frozen=True)
class Placed:
    """A label laid out: the QR's top-left corner (quiet zone included), module size, texts."""

    label: Label
    qr: qrmod.QR
    qr_x: float
    qr_y: float
    module: float
    texts: list[Text] = field(default_factory=list)

    @property
    def qr_side(self) -> float:
        """Return the QR's side in mm, quiet zone included."""
        return self.qr.size_with_quiet_zone * self.module


def module_size(layout: Layout, modules_with_quiet_zone: int) -> float:
    """Return the module size (mm) for a QR of this many modules; whole 203-dpi dots on thermal labels."""
    box = layout.cell_h - 2 * layout.pad_y - layout.code_band
    module = box / modules_with_quiet_zone
    if layout.thermal:
        dot = MM_PER_INCH / THERMAL_DPI
        module = math.floor(module / dot + 1e-9) * dot
    if module < MIN_MODULE_MM - 1e-9:
        raise LabelError(f"the QR needs {modules_with_quiet_zone} modules: too many for a {layout.name} label "
                         f"(a shorter PUBLIC_URL makes it smaller)")
    return module


_TOKEN = re.compile(r"[A-Za-z0-9_.\-/()#+]+|\s+|.", re.S)


def wrap(font: LabelFont, text: str, size: float, width: float) -> list[str]:
    """Break text into lines no wider than `width` mm at em size `size`: between Chinese characters or words."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(" ".join(text.split())):
        candidate = line + token
        if not line or font.width(candidate.rstrip()) * size <= width:
            line = candidate if line or not token.isspace() else ""
            continue
        lines.append(line.rstrip())
        line = "" if token.isspace() else token
    if line.strip():
        lines.append(line.rstrip())
    # A single word wider than the column is cut to fit.
    return [_cut(font, ln, size, width) for ln in lines]


def _cut(font: LabelFont, text: str, size: float, width: float, ellipsis: str = "") -> str:
    while text and font.width(text + ellipsis) * size > width:
        text = text[:-1]
    return text + ellipsis if ellipsis and text else text


@lru_cache(maxsize=512)  # a batch's labels mostly share their names: lay the column out once
def _fit_column(font: LabelFont, parts: tuple[tuple[str, float], ...], width: float, height: float,
                start: float) -> tuple[float, tuple[tuple[str, float], ...]]:
    """Return the largest em size (≤ start) at which the parts fit, and their lines with sizes."""
    size = start
    while True:
        lines = [(ln, size * scale) for text, scale in parts if text for ln in wrap(font, text, size * scale, width)]
        if sum(s * LINE_HEIGHT for _, s in lines) <= height or size <= MIN_TEXT_MM:
            break
        size = max(MIN_TEXT_MM, size * 0.9)
    kept, used = [], 0.0
    for text, s in lines:  # still too tall at the smallest size: keep what fits, mark the cut
        if used + s * LINE_HEIGHT > height + 1e-6:
            if kept:
                last, last_size = kept[-1]
                kept[-1] = (_cut(font, last, last_size, width, "…"), last_size)
            break
        kept.append((text, s))
        used += s * LINE_HEIGHT
    return size, tuple(kept)


def arrange(label: Label, layout: Layout, font: LabelFont, qr: qrmod.QR | None = None) -> Placed:
    """Lay out one label: QR top left, the code under it, names and bin type beside it."""
    qr = qr or qrmod.make(label.url)
    module = module_size(layout, qr.size_with_quiet_zone)
    side = qr.size_with_quiet_zone * module
    qr_x, qr_y = layout.pad_x, layout.pad_y
    content_right = layout.cell_w - layout.pad_x
    texts: list[Text] = []

    # The code: as large as the band under the QR and the label's width allow, flush with the dark modules.
    code_x = qr_x + qrmod.QUIET * module
    code_size = min(layout.code_band * 0.92 / (font.cap_height + 0.02),
                    (content_right - code_x) / max(font.width(label.code), 0.1))
    band_top = qr_y + side
    band_h = layout.cell_h - layout.pad_y - band_top
    texts.append(Text(code_x, band_top + (band_h + font.cap_height * code_size) / 2, code_size, label.code, bold=True))

    # Beside the QR, top aligned with its dark modules: names, then the bin type.
    col_x = qr_x + side
    col_w = content_right - col_x
    col_top = qr_y + qrmod.QUIET * module
    col_h = band_top - col_top
    subtitle = label.subtitle if label.subtitle and label.subtitle != label.title else ""
    parts = ((label.title, 1.0), (subtitle, 0.72), (label.bin_type, 0.72))
    if col_w > 3 and any(text for text, _ in parts):
        _size, lines = _fit_column(font, parts, col_w, col_h, layout.text_mm)
        y = col_top
        for i, (text, size) in enumerate(lines):
            # Cap height on the first line's top edge; later lines at the line height.
            y += font.cap_height * size if i == 0 else size * LINE_HEIGHT
            texts.append(Text(col_x, y, size, text))
    return Placed(label, qr, qr_x, qr_y, module, texts)


def pages(count: int, layout: Layout) -> int:
    """Return how many pages `count` labels take."""
    return max(1, math.ceil(count / layout.per_page))
