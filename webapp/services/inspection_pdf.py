"""An inspection report as a printable A4 PDF, in Chinese or English.

What the report page shows (`inspection_reports.report`): the order and the lot, the sampling plan
per defect class (code letter, n, Ac, Re), the checklist results with the values out of tolerance
in red, what was found with the defect photos and their markup drawn over them (the photo as taken,
the shapes drawn by reportlab as the device draws them), the decision, the signatures with their
drawn images, and the flags; a footer with the report's id, when it was printed and the page.
Text is set as the transfer slip's PDF sets it (`webapp.services.slip_pdf.Sheet`: a TrueType font
made per document from the label font's glyphs, so Chinese prints without an installed font).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from PIL import Image
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from webapp.names import role_name
from webapp.services import blobs
from webapp.services.inspection_reports import (CHECK_NAMES, CLASS_NAMES, DECISION_NAMES, KIND_NAMES, REWORK_NAMES,
                                                SEVERITY_NAMES, STEP_NAMES, markup_geometry, reason_text)
from webapp.services.slip_pdf import (ALERT, BODY, DASH, FONT, GREY, INK, MARGIN, RULE, SHADE, SMALL, SPLIT_MIN,
                                      STATUS, TITLE, WIDTH, Sheet, _signature)

PHOTO_COLUMNS = 2
PHOTO_GAP = 4 * mm
PHOTO_WIDTH = (WIDTH - PHOTO_GAP * (PHOTO_COLUMNS - 1)) / PHOTO_COLUMNS
PHOTO_MAX_HEIGHT = 75 * mm
PHOTO_PX = 1400  # a photo is shrunk to this many pixels on its longer side before it is embedded
MAX_PIXELS = 40_000_000  # the blob store holds at most 16 MP; anything larger is not a photo of ours
DECISION_COLOURS = {"accepted": "#1b6e20", "passed": "#1b6e20", "rejected": "#b00020", "failed": "#b00020"}
PENDING = colors.HexColor("#eeeeee")
OUT_MARK = "⚠"  # after a value out of tolerance: the print may be black and white

ImageLoader = Callable[[str], "bytes | None"]


def blob_bytes(sha256: str) -> bytes | None:
    """Return a stored image's bytes (the cleaned copy), or None when it has not arrived."""
    served = blobs.open_image(sha256) if sha256 else None
    if served is None:
        return None
    with served.file as file:
        return file.read()


def _photo(data: bytes | None) -> Image.Image | None:
    """Return a photo decoded and shrunk for print, or None when `data` is no usable image."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > MAX_PIXELS:
                return None
            picture.draft("RGB", (PHOTO_PX, PHOTO_PX))  # JPEG: decode at a reduced scale when it can
            photo = picture.convert("RGB")
    except Exception:  # bytes a device sent: whatever Pillow makes of them, the report still prints
        return None
    photo.thumbnail((PHOTO_PX, PHOTO_PX))
    return photo


class MarkedPhoto(Flowable):
    """A defect photo with its markup layer drawn over it (circles, arrows, texts), or a box saying it has not
    arrived (with the shapes, so what was marked still shows)."""

    def __init__(self, photo: Image.Image | None, shapes: list[dict[str, Any]], pending: str,
                 width: float = PHOTO_WIDTH, max_height: float = PHOTO_MAX_HEIGHT) -> None:
        super().__init__()
        self.photo, self.pending = photo, pending
        size = photo.size if photo is not None else None
        self.geometry = markup_geometry(shapes, *(size or (None, None)))
        ratio = self.geometry["height"] / self.geometry["width"]
        self.width, self.height = width, width * ratio
        if self.height > max_height:
            self.width, self.height = max_height / ratio, max_height
        self.reader = None
        if photo is not None:
            jpeg = io.BytesIO()
            photo.save(jpeg, "JPEG", quality=82)
            jpeg.seek(0)
            self.reader = ImageReader(jpeg)

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas, g = self.canv, self.geometry
        w, h = self.width, self.height
        if self.reader is not None:
            canvas.drawImage(self.reader, 0, 0, w, h)
        else:
            canvas.setFillColor(PENDING)
            canvas.rect(0, 0, w, h, stroke=0, fill=1)
            canvas.setFillColor(GREY)
            canvas.setFont(FONT, 8)
            canvas.drawCentredString(w / 2, h / 2, self.pending)
        scale = w / g["width"]  # the photo's pixels to points; y runs up on the page, down in the photo
        stroke = g["stroke"] * scale
        canvas.saveState()
        canvas.setLineCap(1)
        canvas.setLineJoin(1)
        for s in g["shapes"]:
            colour = colors.HexColor(s["colour"])
            canvas.setStrokeColor(colour)
            canvas.setFillColor(colour)
            canvas.setLineWidth(stroke)
            if s["kind"] == "circle":
                canvas.circle(s["cx"] * scale, h - s["cy"] * scale, s["r"] * scale, stroke=1, fill=0)
            elif s["kind"] == "arrow":
                canvas.line(s["x1"] * scale, h - s["y1"] * scale, s["x2"] * scale, h - s["y2"] * scale)
                head = canvas.beginPath()
                (x0, y0), *wings = s["head"]
                head.moveTo(x0 * scale, h - y0 * scale)
                for x, y in wings:
                    head.lineTo(x * scale, h - y * scale)
                head.close()
                canvas.setLineWidth(stroke / 2)
                canvas.drawPath(head, stroke=1, fill=1)
            else:
                size = s["size"] * scale
                x, y = s["x"] * scale, h - s["y"] * scale - size * 0.35  # SVG's dominant-baseline: middle
                # A white outline first, as the page's paint-order: stroke. The render mode is graphics state
                # (reportlab does not reset it for the next text object): saved and restored around the outline.
                canvas.saveState()
                outline = canvas.beginText(x, y)
                outline.setFont(FONT, size)
                outline.setTextRenderMode(1)
                canvas.setStrokeColor(colors.white)
                canvas.setLineWidth(stroke / 1.5)
                outline.textOut(s["text"])
                canvas.drawText(outline)
                canvas.restoreState()
                text = canvas.beginText(x, y)
                text.setFont(FONT, size)
                text.textOut(s["text"])
                canvas.drawText(text)
        canvas.restoreState()


class _Report(Sheet):
    """One inspection report's flowables in the current language."""

    def __init__(self, report: dict[str, Any], locale: str, zone: ZoneInfo, images: ImageLoader) -> None:
        super().__init__(report, zone)
        self.r, self.images, self.zh = report, images, locale.startswith("zh")
        self.number = f"{_('Inspection report')} {report['uid'][:8].upper()}"
        self.page_label = _("Page %(page)s", page="{page}")
        self.chars.update(self.number + self.page_label + report["uid"])

    # --- helpers -----------------------------------------------------------------------------------

    def local(self, zh: str | None, en: str | None) -> str | None:
        """Return the Chinese or English of a bilingual value, the other when one is missing."""
        return (zh or en) if self.zh else (en or zh)

    def rich(self, parts: list[tuple[str, str | None]], style=BODY) -> Paragraph:
        """Return a paragraph of text parts, each in its colour (None: the ink)."""
        out = []
        for text, colour in parts:
            self.chars.update(text)
            out.append(f'<font color="{colour}">{escape(text)}</font>' if colour else escape(text))
        return Paragraph("".join(out), style)

    def grid(self, rows: list[list[Any]], widths: list[float], extra: list[tuple] | None = None) -> Table:
        """Return a table with a shaded head row and thin rules."""
        table = Table(rows, colWidths=widths, repeatRows=1, splitInRow=SPLIT_MIN)
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                                   ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("INNERGRID", (0, 0), (-1, -1), 0.3, RULE),
                                   *(extra or [])]))
        return table

    def heading(self, text: str) -> Paragraph:
        return self.text(text, BODY, "<b>{}</b>")

    # --- the story ---------------------------------------------------------------------------------

    def story(self) -> list[Flowable]:
        """Return the report's flowables, top to bottom."""
        story: list[Flowable] = [self.title(), Spacer(0, 4 * mm), self.header()]
        for part in (self.plan(), self.checklist(), self.defects(), self.decision(), self.signatures(),
                     self.flags()):
            if part:
                story += [Spacer(0, 5 * mm), *part]
        return story

    def title(self) -> Table:
        r = self.r
        decision = r["decision"]
        shown = str(DECISION_NAMES.get(decision, decision)) if decision else _("Open: no verdict yet")
        colour = DECISION_COLOURS.get(decision or "", "#000000")
        kind = str(KIND_NAMES.get(r["kind"], r["kind"]))
        left = [self.text(_("Inspection report"), SMALL), self.text(kind, TITLE)]
        right = [self.text(r["uid"][:8].upper(), STATUS),
                 self.text(shown, STATUS, f'<font color="{colour}">{{}}</font>')]
        table = Table([[left, right]], colWidths=[WIDTH * 0.62, WIDTH * 0.38])
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                                   ("RIGHTPADDING", (-1, 0), (-1, 0), 0), ("LINEBELOW", (0, 0), (-1, 0), 1, INK)]))
        return table

    def header(self) -> Table:
        r = self.r
        product = r["product"]
        named = f'{product["code"]} {self.local(product["name_zh"], product["name_en"])}' if product else None
        operation = r["operation"]
        template = r["template"]
        order = r["work_order"]
        if order and r["order_quantity"]:
            order = f'{order} · {r["order_quantity"]} {_("pcs")}'
        pairs = [
            (_("Work order"), order), (_("Product"), named),
            (_("Customer"), r["customer"]), (_("Factory"), r["supplier"] or _("Our plant")),
            (_("Operation"), f'{operation["code"]} {self.local(operation["name_zh"], operation["name_en"])}'
             if operation else None), (_("Bin"), r["bin_code"]),
            (_("Checklist"), self.local(template["name_zh"], template["name_en"]) if template else None),
            (_("Started"), f'{r["started_by"] or DASH} · {self.time(r["started_at"])} ({self.zone.key})'),
            (_("Completed"), self.time(r["completed_at"]) if r["completed_at"] else None),
            (_("Re-inspects"), r["reinspects"][:8].upper() if r["reinspects"] else None),
        ]
        pairs = [p for p in pairs if p[1] not in (None, "")]
        rows = []
        for i in range(0, len(pairs), 2):
            row = []
            for label, value in pairs[i:i + 2]:
                row += [self.text(label, SMALL), self.value(value)]
            rows.append(row + ["", ""] * (2 - len(pairs[i:i + 2])))
        table = Table(rows, colWidths=[22 * mm, WIDTH / 2 - 22 * mm] * 2, splitInRow=SPLIT_MIN)
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                                   ("INNERGRID", (0, 0), (-1, -1), 0.3, RULE),
                                   ("BACKGROUND", (0, 0), (0, -1), SHADE), ("BACKGROUND", (2, 0), (2, -1), SHADE)]))
        return table

    def plan(self) -> list[Flowable]:
        r = self.r
        if not r["lot_size"] and not r["plans"]:
            return []
        rows = [[_("Lot size"), [self.value(r["lot_size"])]]]
        if r["level"]:
            rows.append([_("Inspection level"), [self.value(r["level"])]])
        if r["severity"]:
            severity = [self.text(str(SEVERITY_NAMES.get(r["severity"], r["severity"])))]
            if r["severity_reason"]:
                severity.append(self.text(reason_text(r["severity_reason"]), SMALL))
            rows.append([_("Severity"), severity])
        if r["sample_size"]:
            rows.append([_("Units to pull"), [self.value(r["sample_size"])]])
        if r["cartons"]:
            rows.append([_("Cartons drawn"), [self.value(", ".join(str(c) for c in r["cartons"]))]])
        out: list[Flowable] = [self.heading(_("Lot and sampling plan")), Spacer(0, 2 * mm), self.labelled(rows)]
        if r["plans"]:
            heads = [_("Defect class"), "AQL", _("Code letter"), "n", "Ac", "Re", _("Found"), _("Result")]
            table = [[self.text(h, SMALL) for h in heads]]
            extra = []
            for p in r["plans"]:
                letter = p["code_letter"] or DASH
                if p["plan_letter"] and p["plan_letter"] != p["code_letter"]:
                    letter = f"{letter} → {p['plan_letter']}"
                n = DASH if p["sample_size"] is None else str(p["sample_size"])
                if p["inspect_all"]:
                    n = f"{n} ({_('every unit')})"
                if p["accepted"] is None:
                    result = self.text(DASH)
                elif p["accepted"]:
                    result = self.rich([(_("accept"), "#1b6e20")])
                else:
                    result = self.rich([(_("reject"), "#b00020")])
                    extra.append(("BACKGROUND", (0, len(table)), (-1, len(table)), colors.HexColor("#fdecea")))
                table.append([self.text(str(CLASS_NAMES.get(p["class"], p["class"]))), self.value(p["aql"]),
                              self.text(letter), self.text(n), self.value(p["accept"]), self.value(p["reject"]),
                              self.value(p["found"]), result])
            widths = [30 * mm, 16 * mm, 26 * mm, 30 * mm, 14 * mm, 14 * mm, 18 * mm]
            out += [Spacer(0, 2 * mm), self.grid(table, [*widths, WIDTH - sum(widths)], extra)]
        return out

    def checklist(self) -> list[Flowable]:
        r = self.r
        out: list[Flowable] = [self.heading(_("Checklist results"))]
        if r["out_of_tolerance"]:
            out.append(self.text(f'{_("Out of tolerance")}: {r["out_of_tolerance"]}', ALERT))
        out.append(Spacer(0, 2 * mm))
        if not r["checklist"]:
            return [*out, self.text(_("No checklist items."), SMALL)]
        rows = [[self.text(h, SMALL) for h in (_("Item"), _("Nominal and tolerance"), _("Values per unit"))]]
        for item in r["checklist"]:
            spec = DASH
            if item["nominal"] is not None:
                spec = str(item["nominal"])
                if item["minus"] or item["plus"]:
                    spec += f' −{item["minus"] or 0}/+{item["plus"] or 0}'
                if item["unit"]:
                    spec += f' {item["unit"]}'
            parts: list[tuple[str, str | None]] = []
            for n, v in enumerate(item["values"]):
                shown = str(CHECK_NAMES.get(v["value"], v["value"]))
                bad = v["ok"] is False
                parts += [(", " if n else "", None), (f'#{v["unit"]} ', "#555555"),
                          (f"{shown} {OUT_MARK}" if bad else shown, "#b00020" if bad else None)]
            values = self.rich(parts) if parts else self.text(_("Not measured."), SMALL)
            label = self.local(item["label_zh"], item["label_en"]) or item["key"]
            rows.append([self.rich([(label, "#b00020" if item["out"] else None)]), self.text(spec), values])
        out.append(self.grid(rows, [50 * mm, 36 * mm, WIDTH - 86 * mm]))
        return out

    def defects(self) -> list[Flowable]:
        r = self.r
        found = r["found"] or {}
        summary = " · ".join(f'{CLASS_NAMES[c]}: {found.get(c, 0)}' for c in ("critical", "major", "minor"))
        out: list[Flowable] = [self.heading(_("What was found")), self.text(summary), Spacer(0, 2 * mm)]
        if not r["defects"]:
            return [*out, self.text(_("No defects recorded."), SMALL)]
        pending = _("Photo waiting to upload")
        self.chars.update(pending)
        for d in r["defects"]:
            name = self.local(d["type_zh"], d["type_en"]) or d["description"] or d["type"] or DASH
            rows = [[_("Defect"), [self.rich([(f'{CLASS_NAMES.get(d["class"], d["class"])} · ', "#555555"),
                                              (f'{name} × {d["count"]}', None)])]]]
            if d["description"] and (d["type_zh"] or d["type_en"]):
                rows.append([_("Description"), [self.text(d["description"])]])
            if d["location"]:
                rows.append([_("Where"), [self.text(d["location"])]])
            if d["unit"]:
                rows.append([_("Unit"), [self.text(f'#{d["unit"]}')]])
            if d["note"]:
                rows.append([_("Note"), [self.text(d["note"])]])
            rows.append([_("Recorded"), [self.text(f'{d["recorded_by"] or DASH} · {self.time(d["recorded_at"])}',
                                                   SMALL)]])
            photos = []
            for photo in d["photos"]:
                for shape in photo["shapes"]:
                    if shape.get("kind") == "text":
                        self.chars.update(shape.get("text", ""))
                photos.append(MarkedPhoto(_photo(self.images(photo["sha256"])), photo["shapes"], pending))
            rows_of_photos = [self.photo_row(photos[i:i + PHOTO_COLUMNS]) for i in range(0, len(photos), PHOTO_COLUMNS)]
            # The defect and its first photos stay on one page; more photos may follow on the next.
            out += [KeepTogether([self.labelled(rows), *rows_of_photos[:1]]), *rows_of_photos[1:], Spacer(0, 3 * mm)]
        return out

    def photo_row(self, photos: list[MarkedPhoto]) -> Table:
        """Return one row of photos side by side."""
        row = Table([photos + [""] * (PHOTO_COLUMNS - len(photos))],
                    colWidths=[PHOTO_WIDTH + PHOTO_GAP / 2] * PHOTO_COLUMNS, hAlign="LEFT")
        row.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                 ("RIGHTPADDING", (0, 0), (-1, -1), PHOTO_GAP / 2),
                                 ("TOPPADDING", (0, 0), (-1, -1), 2 * mm), ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
        return row

    def decision(self) -> list[Flowable]:
        r = self.r
        verdicts = {"pass": _("Pass"), "fail": _("Fail")}
        rows = [[_("Inspector's verdict"), [self.value(verdicts.get(r["verdict"], r["verdict"]))]]]
        decision = r["decision"]
        shown = str(DECISION_NAMES.get(decision, decision)) if decision else DASH
        rows.append([_("Decision"), [self.rich([(shown, DECISION_COLOURS.get(decision or ""))])]])
        if r["note"]:
            rows.append([_("Note"), [self.text(r["note"])]])
        if r["rework"]:
            rework = r["rework"]
            text = f'{REWORK_NAMES.get(rework["status"], rework["status"])} · {self.time(rework["opened_at"])}'
            if rework["reinspection_uid"]:
                text += f' · {_("Re-inspection")} {rework["reinspection_uid"][:8].upper()}'
            rows.append([_("Rework"), [self.text(text)]])
        for uid in r["reinspections"]:
            if not r["rework"] or uid != r["rework"]["reinspection_uid"]:
                rows.append([_("Re-inspection"), [self.text(uid[:8].upper())]])
        return [self.heading(_("Decision")), Spacer(0, 2 * mm), self.labelled(rows)]

    def signatures(self) -> list[Flowable]:
        r = self.r
        heads = (_("Step"), _("Signer"), _("Verification"), _("Time"), _("Signature"))
        rows: list[list[Any]] = [[self.text(h, SMALL) for h in heads]]
        methods = {"device_user": _("signed in on this device"), "badge_pin": _("badge and PIN"),
                   "unverified": _("not verified")}
        for s in r["signatures"]:
            signer = [self.text(s["signer"] or DASH)]
            if s["role"]:
                signer.append(self.text(role_name(s["role"]), SMALL))
            if s["note"]:
                signer.append(self.text(s["note"], SMALL))
            how = [self.text(methods.get(s["verification"], s["verification"]),
                             ALERT if s["verification"] == "unverified" else SMALL)]
            if s["device_id"]:
                how.append(self.text(f'{_("Device")} {s["device_id"]}', SMALL))
            image = _signature(self.images(s["signature_sha256"])) if s["signature_sha256"] else None
            rows.append([self.text(str(STEP_NAMES.get(s["step"], s["step"]))), signer, how,
                         self.text(self.time(s["signed_at"]), SMALL),
                         image if image is not None else self.text(_("no image"), SMALL)])
        for step in r["cosigners_missing"]:
            rows.append([self.text(str(STEP_NAMES.get(step, step))), self.text(_("not signed yet"), ALERT), "", "", ""])
        if len(rows) == 1:
            rows.append([self.text(_("No signatures yet."), SMALL), "", "", "", ""])
        widths = [24 * mm, 38 * mm, 40 * mm, 26 * mm]
        return [self.heading(_("Signatures")), Spacer(0, 2 * mm),
                self.grid(rows, [*widths, WIDTH - sum(widths)], [("VALIGN", (0, 1), (-1, -1), "MIDDLE"),
                                                                 ("ALIGN", (-1, 1), (-1, -1), "CENTER")])]

    def flags(self) -> list[Flowable]:
        flags = self.r["flags"]
        if not flags:
            return []
        from webapp.areas import flag_name

        counts: dict[str, int] = {}
        for f in flags:  # one line a flag, with how many records raised it
            counts[f["code"]] = counts.get(f["code"], 0) + 1
        lines = [f"• {flag_name(code)}" + (f" × {n}" if n > 1 else "") for code, n in counts.items()]
        return [self.labelled([[_("Flags"), [self.text(line) for line in lines]]])]

    def footer(self, canvas, document) -> None:
        """Draw the footer on a page: the report, when it was printed, the inspection's id and the page."""
        canvas.saveState()
        canvas.setFillColor(GREY)
        canvas.setFont(FONT, 7.5)
        canvas.drawString(MARGIN, 11 * mm, f"{self.number} · {self.printed}")
        canvas.drawString(MARGIN, 7 * mm, self.r["uid"])
        canvas.drawRightString(MARGIN + WIDTH, 7 * mm, self.page_label.format(page=document.page))
        canvas.restoreState()


def report_pdf(report: dict[str, Any], locale: str, tz: str = "Asia/Shanghai",
               images: ImageLoader = blob_bytes) -> bytes:
    """Return an inspection report (as `inspection_reports.report` gives it) as an A4 PDF, labels in `locale`,
    times in the time zone `tz`; photos and signature images from `images` (the blob store)."""
    zone = ZoneInfo(tz)
    pdfmetrics.registerFontFamily(FONT)  # paragraphs may name the font before it is registered
    out = io.BytesIO()
    with force_locale(locale):
        sheet = _Report(report, locale, zone, images)
        sheet.build(out, f"{_('Inspection report')} {report['uid'][:8].upper()}", report["uid"])
    return out.getvalue()
