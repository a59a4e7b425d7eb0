"""Printing bin labels: layouts, the CJK font, QR matrices, and PDF, PNG and ZPL output.

Plain Python (no Flask, no database): give it `Label`s, get bytes back.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.printing.fonts import LabelFontMissing, label_font
from webapp.printing.layouts import LAYOUTS, Label, LabelError, Layout, arrange, pages

FORMATS = ("pdf", "png", "zpl")
MEDIA_TYPES = {"pdf": "application/pdf", "png": "image/png", "zpl": "application/vnd.zebra.zpl"}
DEFAULT_DPI = {"png": 300, "zpl": 203}

__all__ = ["FORMATS", "LAYOUTS", "Label", "LabelError", "LabelFontMissing", "Layout", "Output", "pages",
           "render"]


@dataclass(frozen=True)
class Output:
    """Rendered labels: one document (PDF, ZPL) or one file per page (PNG)."""

    format: str
    files: list[bytes]
    pages: int

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def render(labels: list[Label], layout: str, fmt: str, dpi: int | None = None) -> Output:
    """Lay out and render labels as PDF, PNG pages or ZPL."""
    if layout not in LAYOUTS:
        raise LabelError(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
    if fmt not in FORMATS:
        raise LabelError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    chosen = LAYOUTS[layout]
    if fmt == "zpl" and not chosen.thermal:
        raise LabelError("ZPL is for thermal printers: use layout 50x30 or 60x40")
    font = label_font()
    placed = [arrange(label, chosen, font) for label in labels]
    dpi = dpi or DEFAULT_DPI.get(fmt, 300)
    if fmt == "pdf":
        from webapp.printing import pdf

        return Output(fmt, [pdf.render(placed, chosen, font)], pages(len(labels), chosen))
    if fmt == "png":
        from webapp.printing import raster

        files = raster.render(placed, chosen, dpi, font)
        return Output(fmt, files, len(files))
    from webapp.printing import zpl

    return Output(fmt, [zpl.render(placed, chosen, dpi, font)], len(labels))
