"""Labels as PNG with Pillow: one image per page (a thermal label, or a whole sticker sheet)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from webapp.printing import qr as qrmod
from webapp.printing.fonts import LabelFont
from webapp.printing.layouts import MM_PER_INCH, Layout, Placed

BOLD_STROKE = 0.034  # em, as in the PDF
_GREY = bytes.maketrans(b"01", b"\xff\x00")  # light modules white, dark black


def _qr_image(qr: qrmod.QR, module_px: int) -> Image.Image:
    """Return the QR (no quiet zone) with square modules of a whole number of pixels."""
    n = qr.size
    small = Image.frombytes("L", (n, n), "".join(qr.rows).encode().translate(_GREY))
    return small.resize((n * module_px, n * module_px), Image.Resampling.NEAREST)


def draw_label(image: Image.Image, placed: Placed, left: float, top: float, dpi: float, font: LabelFont) -> None:
    """Draw one placed label with its top-left corner at (left, top) mm on the image."""
    px = dpi / MM_PER_INCH
    # Whole pixels per module keep every module the same size; the QR shrinks a little to fit.
    module_px = max(1, int(placed.module * px + 1e-6))
    slack = (placed.module * px - module_px) * placed.qr.size / 2
    qx = round((left + placed.qr_x + qrmod.QUIET * placed.module) * px + slack)
    qy = round((top + placed.qr_y + qrmod.QUIET * placed.module) * px + slack)
    image.paste(_qr_image(placed.qr, module_px), (qx, qy))
    draw = ImageDraw.Draw(image)
    for t in placed.texts:
        size_px = max(1, round(t.size * px))
        face = font.pillow(size_px)
        stroke = round(BOLD_STROKE * size_px / 2) if t.bold else 0
        draw.text(((left + t.x) * px, (top + t.baseline) * px), t.text, fill=0, font=face, anchor="ls",
                  stroke_width=stroke, stroke_fill=0)


def render_page(placed: list[Placed], layout: Layout, dpi: float, font: LabelFont) -> Image.Image:
    """Return one page of labels as a greyscale image at `dpi`."""
    px = dpi / MM_PER_INCH
    image = Image.new("L", (round(layout.page_w * px), round(layout.page_h * px)), 255)
    for slot, p in enumerate(placed):
        left, top = layout.origin(slot)
        draw_label(image, p, left, top, dpi, font)
    return image


def render(placed: list[Placed], layout: Layout, dpi: float, font: LabelFont) -> list[bytes]:
    """Return one PNG per page of labels."""
    out = []
    for start in range(0, max(len(placed), 1), layout.per_page):
        image = render_page(placed[start:start + layout.per_page], layout, dpi, font)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", dpi=(dpi, dpi), optimize=False)
        out.append(buffer.getvalue())
    return out
