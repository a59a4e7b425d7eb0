"""The transfer slip (转序单) as a printable A4 PDF for the daily paper archive, in Chinese or English.

One page for the normal slip: its number and status, the header fields, the four sign-offs in
order (clerk, inspector, upstream operator, downstream receiver) with the drawn signatures, the
§5.4 explanation, a write-off or a refusal, the flags, and a footer with the content hash the
signatures are bound to. Labels are translated with flask_babel; data and names print as given.

Text is set in the label font (`webapp.printing.fonts`). reportlab embeds TrueType outlines only
and Noto Sans CJK's are CFF, so each slip gets a TrueType font converted (fontTools' cu2qu) from
the label font's glyphs of just the characters it prints, about 0.4 ms a glyph. That font is
registered under one name while the document is built, so slips are built one at a time.
"""

from __future__ import annotations

import io
import threading
from datetime import datetime
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont as SourceFont
from PIL import Image
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus import Image as PdfImage

from webapp.domain.transfers import STEPS
from webapp.names import role_name
from webapp.printing.fonts import label_font

FONT = "ShopfloorSlip"  # the slip's own font, registered under this name while one slip is built
MONO = "Courier"  # the content hash: hex digits only, a PDF standard font
ALWAYS = {chr(c) for c in range(0x20, 0x7F)} | set("→·—•")  # digits, times and separators
MARGIN = 15 * mm
BOTTOM = 20 * mm  # the bottom margin, where the footer is drawn
WIDTH = A4[0] - 2 * MARGIN
SIGNATURE_BOX = (44 * mm, 15 * mm)
SIGNATURE_PX = (520, 180)  # the box at 300 dpi: larger drawings are scaled down before embedding
MAX_PIXELS = 2048 * 2048  # a "signature" larger than this is not one, and would be slow to decode
DASH = "—"
SPLIT_MIN = 12 * mm  # a row taller than the room left on a page is split, parts no shorter than this

INK = colors.black
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#888888")
SHADE = colors.HexColor("#eeeeee")
RED = colors.HexColor("#b00020")
STATUS_COLOURS = {"open": "#000000", "discrepancy": "#a05a00", "refused": "#b00020", "complete": "#1b6e20"}

BODY = ParagraphStyle("slip-body", fontName=FONT, fontSize=9.5, leading=12)
SMALL = ParagraphStyle("slip-small", parent=BODY, fontSize=7.5, leading=9.5, textColor=GREY)
ALERT = ParagraphStyle("slip-alert", parent=SMALL, textColor=RED)
TITLE = ParagraphStyle("slip-title", parent=BODY, fontSize=18, leading=22)
STATUS = ParagraphStyle("slip-status", parent=BODY, fontSize=12, leading=15, alignment=TA_RIGHT)

_building = threading.Lock()  # the font has one name: one slip at a time


@lru_cache(maxsize=1)
def _source() -> SourceFont:
    """Return the label font's file and face opened with fontTools, once per process."""
    font = label_font()
    return SourceFont(str(font.path), fontNumber=font.index, lazy=True)


def _truetype(chars: set[str]) -> io.BytesIO:
    """Return a TrueType font with the label font's glyphs for `chars` (those it has), outlines made quadratic."""
    source = _source()
    cmap = source.getBestCmap()
    glyph_set = source.getGlyphSet()
    mapping = {ord(c): cmap[ord(c)] for c in chars if ord(c) in cmap}
    order = [".notdef", *sorted(set(mapping.values()) - {".notdef"})]
    outlines = {}
    for name in order:
        pen = TTGlyphPen(None)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        outlines[name] = pen.glyph()
    builder = FontBuilder(source["head"].unitsPerEm, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(mapping)
    builder.setupGlyf(outlines)
    glyf = builder.font["glyf"]
    builder.setupHorizontalMetrics({name: (glyph_set[name].width, getattr(glyf[name], "xMin", 0)) for name in order})
    hhea, os2, names = source["hhea"], source["OS/2"], source["name"]
    builder.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent)
    builder.setupNameTable({
        "familyName": FONT, "styleName": "Regular", "psName": FONT,
        "copyright": str(names.getDebugName(0) or ""), "licenseDescription": str(names.getDebugName(13) or ""),
    })
    builder.setupOS2(fsType=os2.fsType, sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                     sTypoLineGap=os2.sTypoLineGap, usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent)
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    out.seek(0)
    return out


def _signature(data: bytes | None) -> PdfImage | None:
    """Return the drawn signature scaled into the signature box, or None when `data` is no usable image."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > MAX_PIXELS:
                return None
            ink = picture.convert("RGBA")
    except Exception:  # bytes a device sent: whatever Pillow makes of them, the slip still prints
        return None
    paper = Image.new("RGB", ink.size, "white")
    paper.paste(ink, mask=ink)
    paper.thumbnail(SIGNATURE_PX)
    png = io.BytesIO()
    paper.save(png, "PNG")
    png.seek(0)
    scale = min(SIGNATURE_BOX[0] / paper.width, SIGNATURE_BOX[1] / paper.height)
    return PdfImage(png, width=paper.width * scale, height=paper.height * scale)


def _step_names() -> dict[str, str]:
    """Return the four steps' names in the current language."""
    return {"clerk": _("Transfer clerk"), "inspector": _("Inspector"), "operator": _("Upstream operator"),
            "receiver": _("Downstream receiver")}


class Sheet:
    """What every printed slip shares: text that notes its characters (for the font), times in the
    plant's zone, a table of labelled notes, and the footer (number, when printed, content hash).
    `number` is what the footer names the slip by."""

    number: str = ""

    def __init__(self, slip: dict[str, Any], zone: ZoneInfo) -> None:
        self.slip, self.zone = slip, zone
        self.chars: set[str] = set(ALWAYS)
        self.printed = _("Printed at %(time)s", time=f"{self.time(datetime.now(zone))} ({zone.key})")
        self.hash_label = _("Content hash") + ": "
        self.chars.update(self.printed + self.hash_label)

    def text(self, text: str, style: ParagraphStyle = BODY, markup: str = "{}") -> Paragraph:
        """Return plain text as a paragraph, inside `markup` ("{}" is the text), and note its characters."""
        self.chars.update(text)
        return Paragraph(markup.format(escape(text)), style)

    def value(self, value: object) -> Paragraph:
        """Return a data value as given, a dash when there is none."""
        return self.text(DASH if value in (None, "") else str(value))

    def time(self, at: datetime | str | None) -> str:
        """Return a moment (or its ISO text) as date and time in the slip's time zone."""
        if at is None:
            return DASH
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def labelled(self, rows: list[list[Any]]) -> Table | None:
        """Return rows of (label, flowables) as a two-column table, or None when there are none."""
        if not rows:
            return None
        cells = [[self.text(label, SMALL), content] for label, content in rows]
        table = Table(cells, colWidths=[40 * mm, WIDTH - 40 * mm], splitInRow=SPLIT_MIN)
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BACKGROUND", (0, 0), (0, -1), SHADE),
                                   ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("INNERGRID", (0, 0), (-1, -1), 0.3, RULE)]))
        return table

    def story(self) -> list[Flowable]:
        """Return the sheet's flowables, top to bottom."""
        raise NotImplementedError

    def build(self, out, title: str, subject: str) -> None:
        """Write the sheet as an A4 PDF to `out`, with a font made of the characters it prints.

        Sheets are built one at a time per process: the font is registered under one name while it is built.
        """
        story = self.story()
        document = SimpleDocTemplate(out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                                     bottomMargin=BOTTOM, title=title, subject=subject, author="Shopfloor",
                                     creator="Shopfloor")
        with _building:
            font = TTFont(FONT, _truetype(self.chars))
            pdfmetrics.registerFont(font)
            try:
                document.build(story, onFirstPage=self.footer, onLaterPages=self.footer)
            finally:
                font.unregister()

    def footer(self, canvas, document) -> None:
        """Draw the footer on a page: the number, when it was printed, and the content hash."""
        canvas.saveState()
        canvas.setFillColor(GREY)
        canvas.setFont(FONT, 7.5)
        canvas.drawString(MARGIN, 11 * mm, f"{self.number} · {self.printed}")
        canvas.drawString(MARGIN, 7 * mm, self.hash_label)
        canvas.setFont(MONO, 7)
        canvas.drawString(MARGIN + pdfmetrics.stringWidth(self.hash_label, FONT, 7.5), 7 * mm,
                          self.slip["content_hash"])
        canvas.restoreState()


class _Sheet(Sheet):
    """One transfer slip's flowables in the current language."""

    def __init__(self, slip: dict[str, Any], zone: ZoneInfo) -> None:
        super().__init__(slip, zone)
        self.number = slip["number"]
        self.steps = _step_names()

    def byline(self, entry: dict[str, Any]) -> Paragraph:
        """Return who wrote an entry and when."""
        return self.text(f"{entry['by']} · {self.time(entry['at'])}", SMALL)

    def story(self) -> list[Flowable]:
        """Return the slip's flowables, top to bottom."""
        story = [self.title(), Spacer(0, 4 * mm), self.header(), Spacer(0, 5 * mm), self.signatures()]
        notes = self.notes()
        if notes is not None:
            story += [Spacer(0, 5 * mm), notes]
        return story

    def title(self) -> Table:
        """Return the title, the slip's number and its status."""
        status = self.slip["status"]
        names = {"open": _("Waiting for signatures"), "discrepancy": _("Quantity differs: waiting for an explanation"),
                 "refused": _("Refused"), "complete": _("Complete")}
        left = [self.text(_("Transfer slip"), SMALL), self.text(self.slip["number"], TITLE)]
        colour = STATUS_COLOURS.get(status, "#000000")
        right = self.text(names.get(status, status), STATUS, f'<font color="{colour}">{{}}</font>')
        table = Table([[left, right]], colWidths=[WIDTH * 0.4, WIDTH * 0.6])
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                                   ("RIGHTPADDING", (-1, 0), (-1, 0), 0),
                                   ("LINEBELOW", (0, 0), (-1, 0), 1, INK)]))
        return table

    def header(self) -> Table:
        """Return the header fields: part, product, work order, quantity, route, bins, who opened the slip."""
        slip = self.slip
        bins = ", ".join(b["code"] if b["quantity"] is None else f"{b['code']} ({b['quantity']})"
                         for b in slip["bins"])
        route = f"{slip['from_place'] or DASH}  →  {slip['to_place'] or DASH}"
        rows = [
            [self.text(_("Part"), SMALL), self.value(slip["part"]),
             self.text(_("Product"), SMALL), self.value(slip["product"])],
            [self.text(_("Work order"), SMALL), self.value(slip["work_order"]),
             self.text(_("Quantity"), SMALL), self.value(slip["quantity"])],
            [self.text(_("From → to"), SMALL), self.value(route), "", ""],
            [self.text(_("Bins"), SMALL), self.value(bins or None), "", ""],
            [self.text(_("Opened by"), SMALL), self.value(slip["opened_by"]),
             self.text(_("Opened at"), SMALL), self.value(f"{self.time(slip['opened_at'])} ({self.zone.key})")],
        ]
        table = Table(rows, colWidths=[22 * mm, WIDTH / 2 - 22 * mm] * 2)
        table.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("SPAN", (1, 2), (3, 2)), ("SPAN", (1, 3), (3, 3)),
            ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("INNERGRID", (0, 0), (-1, -1), 0.3, RULE),
            ("BACKGROUND", (0, 0), (0, -1), SHADE), ("BACKGROUND", (2, 0), (2, 1), SHADE),
            ("BACKGROUND", (2, 4), (2, 4), SHADE),
        ]))
        return table

    def signatures(self) -> Table:
        """Return the four steps in order, one row per signature (all of them, in the given order)."""
        heads = (_("Step"), _("Signer"), _("Quantity"), _("Verdict"), _("Time"), _("Verification"), _("Signature"))
        rows: list[list[Any]] = [[self.text(head, SMALL) for head in heads]]
        style = [("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                 ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("LINEAFTER", (0, 0), (-2, -1), 0.3, RULE),
                 ("ALIGN", (-1, 1), (-1, -1), "CENTER")]
        for step in STEPS:
            style.append(("LINEABOVE", (0, len(rows)), (-1, len(rows)), 0.6, RULE))
            signed = [sig for sig in self.slip["signatures"] if sig["step"] == step]
            if not signed:
                rows.append([self.text(self.steps[step]), self.text(_("not signed"), SMALL), "", "", "", "", ""])
            for i, sig in enumerate(signed):
                if i:
                    style.append(("LINEABOVE", (1, len(rows)), (-1, len(rows)), 0.3, RULE, None, (1, 2)))
                rows.append([self.text(self.steps[step]) if i == 0 else "", *self.signature_cells(sig)])
                if sig["note"]:  # under the signature, across its cells
                    row = len(rows)
                    style += [("SPAN", (1, row), (-1, row)), ("TOPPADDING", (1, row), (-1, row), 0)]
                    rows.append(["", self.text(sig["note"], SMALL), "", "", "", "", ""])
        widths = [26 * mm, 30 * mm, 17 * mm, 14 * mm, 19 * mm, 26 * mm]
        table = Table(rows, colWidths=[*widths, WIDTH - sum(widths)], repeatRows=1, splitInRow=SPLIT_MIN)
        table.setStyle(TableStyle(style))
        return table

    def signature_cells(self, sig: dict[str, Any]) -> list[Any]:
        """Return one signature's cells after the step; a void or out-of-order one is struck through."""
        struck = "<strike>{}</strike>" if sig["state"] != "valid" else "{}"
        signer = [self.text(sig["signer"], BODY, struck)]
        if sig["role"] != sig["step"]:  # someone standing in (a director for the operator)
            signer.append(self.text(role_name(sig["role"]), SMALL))
        states = {"void": _("void (slip changed after signing)"), "out_of_order": _("out of order")}
        if sig["state"] in states:
            signer.append(self.text(states[sig["state"]], ALERT))
        verdicts = {"pass": _("Pass"), "fail": _("Fail")}
        verdict = self.text(verdicts[sig["verdict"]], BODY, struck) if sig["verdict"] in verdicts else ""
        methods = {"device_user": _("signed in on this device"), "badge_pin": _("badge and PIN"),
                   "unverified": _("not verified")}
        verification = [self.text(methods.get(sig["verification"], sig["verification"]), SMALL)]
        if sig["device_id"]:
            verification.append(self.text(f"{_('Device')} {sig['device_id']}", SMALL))
        image = _signature(sig["image"])
        return [signer, self.text(DASH if sig["quantity"] is None else str(sig["quantity"]), BODY, struck),
                verdict, self.text(self.time(sig["signed_at"]), SMALL, struck), verification,
                image if image is not None else self.text(_("no image"), SMALL)]

    def notes(self) -> Table | None:
        """Return the explanation, write-off, refusal and flags that the slip has, or None."""
        slip = self.slip
        rows = []
        if slip["explanation"]:
            entry = slip["explanation"]
            rows.append([_("Explanation of the difference"), [self.text(entry["text"]), self.byline(entry)]])
        if slip["written_off"]:
            entry = slip["written_off"]
            pieces = ngettext("%(num)d piece", "%(num)d pieces", entry["quantity"])
            rows.append([_("Written off as scrap"), [self.text(pieces), self.text(entry["reason"]),
                                                     self.byline(entry)]])
        if slip["refusal"]:
            entry = slip["refusal"]
            rows.append([_("Refused"), [self.text(self.steps.get(entry["step"], entry["step"])),
                                        self.text(entry["reason"]), self.byline(entry)]])
        if slip["flags"]:
            rows.append([_("Flags"), [self.text(f"• {flag}") for flag in slip["flags"]]])
        return self.labelled(rows)


def slip_pdf(slip: dict[str, Any], locale: str, tz: str = "Asia/Shanghai") -> bytes:
    """Return the transfer slip as an A4 PDF, labels in `locale`, times in the time zone `tz`."""
    zone = ZoneInfo(tz)
    pdfmetrics.registerFontFamily(FONT)  # paragraphs may name the font before it is registered
    out = io.BytesIO()
    with force_locale(locale):
        sheet = _Sheet(slip, zone)
        sheet.build(out, f"{_('Transfer slip')} {slip['number']}", slip["transfer_id"])
    return out.getvalue()
