"""Staff cards: the person's name, role, a space for their photo and the badge QR, on an ID-1 card.

Drawn with Pillow at 600 dpi (the same font and QR encoder as the bin labels) and wrapped
in a one-page PDF of exactly 85.6 × 54 mm with reportlab, so any printer prints it to size.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from webapp.printing import qr as qrmod
from webapp.printing.fonts import label_font
from webapp.printing.layouts import MM_PER_INCH
from webapp.printing.raster import _qr_image

CARD_MM = (85.6, 54.0)  # ISO/IEC 7810 ID-1
DPI = 600
PT = 72 / MM_PER_INCH


def card_png(name: str, role: str, badge_code: str, badge_text: str, plant: str) -> bytes:
    """Return the staff card as a PNG at 600 dpi."""
    px = DPI / MM_PER_INCH
    w, h = round(CARD_MM[0] * px), round(CARD_MM[1] * px)
    image = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(image)
    font = label_font()
    margin = round(3 * px)
    # The QR on the right, as large as the card's height allows with its quiet zone.
    qr = qrmod.make(badge_text)
    module = max(1, int((h - 2 * margin) / (qr.size + 2 * qrmod.QUIET)))
    side = module * qr.size
    qx, qy = w - margin - side - module * qrmod.QUIET, (h - side) // 2
    image.paste(_qr_image(qr, module), (qx, qy))
    # The photo space on the left, 25 × 32 mm, outlined.
    photo = (margin, margin, margin + round(25 * px), margin + round(32 * px))
    draw.rectangle(photo, outline=0, width=max(2, round(0.2 * px)))
    draw.text(((photo[0] + photo[2]) / 2, (photo[1] + photo[3]) / 2), "照片 / Photo", fill=128,
              font=font.pillow(round(2.6 * px)), anchor="mm")
    room = qx - module * qrmod.QUIET - margin  # text stays left of the QR's quiet zone

    def line(text: str, size_mm: float, baseline_mm: float) -> None:
        size = round(size_mm * px)
        while size > 8 and font.pillow(size).getlength(text) > room:
            size = round(size * 0.9)  # a long name gets smaller, never runs into the QR
        draw.text((margin, photo[3] + round(baseline_mm * px)), text, fill=0, font=font.pillow(size), anchor="ls")

    line(name, 4.6, 5.5)
    line(role, 3.2, 10)
    line(f"{plant} · {badge_code}", 2.4, 14)
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(DPI, DPI), optimize=True)
    return out.getvalue()


def card_pdf(name: str, role: str, badge_code: str, badge_text: str, plant: str) -> bytes:
    """Return the staff card as a one-page PDF of the card's exact size."""
    png = card_png(name, role, badge_code, badge_text, plant)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(CARD_MM[0] * PT, CARD_MM[1] * PT))
    canvas.setTitle(f"{name} {badge_code}")
    canvas.drawImage(ImageReader(io.BytesIO(png)), 0, 0, CARD_MM[0] * PT, CARD_MM[1] * PT)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
