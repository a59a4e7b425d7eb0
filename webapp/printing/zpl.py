"""Labels as ZPL II for Zebra printers: the QR as a native ^BQ field, Chinese text as ^GF graphics.

Zebra printers have no CJK font unless one is loaded, so any line with a character outside
ASCII is rendered with Pillow from the label font into a 1-bit ^GF graphic; ASCII lines and
the code use the printer's scalable font 0. The printer encodes the QR itself (model 2, level
M, automatic mode) with a whole number of dots per module; the quiet zone is left blank around it.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw

from webapp.printing import qr as qrmod
from webapp.printing.fonts import LabelFont
from webapp.printing.layouts import MM_PER_INCH, Layout, Placed, Text


def _escape(text: str) -> str:
    """Keep field data from ending the field: ^ and ~ are ZPL command prefixes."""
    return text.replace("^", " ").replace("~", " ")


@lru_cache(maxsize=256)
def graphic(text: str, size_px: int, font: LabelFont) -> tuple[str, int, int]:
    """Return text as a ^GF field body (ASCII hex), its bytes per row and its height in dots."""
    face = font.pillow(size_px)
    left, top, right, bottom = face.getbbox(text, anchor="ls")
    width, height = max(1, right - left), max(1, bottom - top)
    image = Image.new("1", (width, height), 1)
    ImageDraw.Draw(image).text((-left, -top), text, fill=0, font=face, anchor="ls")
    # ZPL: 1 = black; Pillow's mode "1" packs 1 = white, so invert the packed bytes.
    row_bytes = (width + 7) // 8
    packed = bytes(b ^ 0xFF for b in image.tobytes())
    total = row_bytes * height
    return f"^GFA,{total},{total},{row_bytes},{packed.hex().upper()}", -top, height


def _text_field(t: Text, x0: float, dpmm: float, font: LabelFont) -> str:
    size = max(8, round(t.size * dpmm))
    x = round((x0 + t.x) * dpmm)
    if t.text.isascii():
        # Font 0 is sized by its cell height; its caps are about 0.7 of it, Noto's 0.73 em.
        y = round(t.baseline * dpmm - font.cap_height * size)
        return f"^FO{x},{max(0, y)}^A0N,{size},{size}^FD{_escape(t.text)}^FS"
    body, above_baseline, _height = graphic(t.text, size, font)
    y = round(t.baseline * dpmm) - above_baseline
    return f"^FO{x},{max(0, y)}{body}^FS"


def label(placed: Placed, layout: Layout, dpi: int, font: LabelFont) -> str:
    """Return one label as a ^XA … ^XZ format."""
    dpmm = dpi / MM_PER_INCH
    modules = placed.qr.size
    # Whole dots per module, as large as the label's QR area allows.
    magnification = max(1, min(10, int(placed.module * dpmm + 1e-6)))
    slack = (placed.module * dpmm - magnification) * modules / 2
    qx = round((placed.qr_x + qrmod.QUIET * placed.module) * dpmm + slack)
    qy = round((placed.qr_y + qrmod.QUIET * placed.module) * dpmm + slack)
    lines = [
        "^XA", "^CI28", f"^PW{round(layout.cell_w * dpmm)}", f"^LL{round(layout.cell_h * dpmm)}", "^LH0,0",
        f"^FO{qx},{qy}^BQN,2,{magnification},M^FDMA,{_escape(placed.label.url)}^FS",
    ]
    lines += [_text_field(t, 0, dpmm, font) for t in placed.texts]
    lines.append("^PQ1")
    lines.append("^XZ")
    return "\n".join(lines) + "\n"


def render(placed: list[Placed], layout: Layout, dpi: int, font: LabelFont) -> bytes:
    """Return ZPL for every label, one format per label (UTF-8, ^CI28)."""
    return "".join(label(p, layout, dpi, font) for p in placed).encode()
