"""One copy of a warehouse slip (入库单 / 出库单, 一式四联) as an A4 PDF, in Chinese or English.

The copy's number and receiver at the top right (第四联 保管员 …), the slip's number and status,
its content, one row per step with the valid signature (drawn image included) or an empty line
to sign on paper, the void and the flags; the content hash in the footer. Text is set as the
transfer slip's PDF sets it (`webapp.services.slip_pdf`: a TrueType font made per document from
the label font's glyphs, so Chinese prints without an installed font).
"""

from __future__ import annotations

import io
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from webapp.domain import warehouse as rules
from webapp.names import role_name
from webapp.services import blobs
from webapp.services.slip_pdf import (ALERT, Sheet, DASH, FONT, INK, RULE, SHADE,
                                      SMALL, SPLIT_MIN, STATUS, STATUS_COLOURS, TITLE, WIDTH, _signature)
from webapp.services.warehouse_slips import (COPY_NAMES, COPY_ORDINALS, KIND_NAMES, SOURCE_NAMES, STATUS_NAMES,
                                             STEP_NAMES)


def _image(sha256: str | None) -> bytes | None:
    """Return a drawn signature's bytes from the blob store, or None when it has not arrived."""
    served = blobs.open_image(sha256) if sha256 else None
    if served is None:
        return None
    with served.file as file:
        return file.read()


class _Copy(Sheet):
    """One copy of a warehouse slip: its flowables in the current language."""

    def __init__(self, slip: dict[str, Any], copy: str, zone: ZoneInfo) -> None:
        super().__init__(slip, zone)
        self.copy, self.number = copy, slip["display_number"]

    def story(self) -> list[Flowable]:
        story: list[Flowable] = [self.title(), Spacer(0, 4 * mm), self.header(), Spacer(0, 5 * mm), self.steps()]
        notes = self.notes()
        if notes is not None:
            story += [Spacer(0, 5 * mm), notes]
        return story

    def title(self) -> Table:
        slip = self.slip
        number = rules.copy_number(slip["kind"], slip["source"], self.copy)
        left = [self.text(str(KIND_NAMES[slip["kind"]]), SMALL), self.text(slip["display_number"], TITLE)]
        colour = STATUS_COLOURS.get(slip["status"], "#b00020")
        right = [self.text(f"{COPY_ORDINALS[number]} · {COPY_NAMES[self.copy]}", STATUS),
                 self.text(str(STATUS_NAMES.get(slip["status"], slip["status"])), STATUS,
                           f'<font color="{colour}">{{}}</font>')]
        table = Table([[left, right]], colWidths=[WIDTH * 0.6, WIDTH * 0.4])
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                                   ("RIGHTPADDING", (-1, 0), (-1, 0), 0), ("LINEBELOW", (0, 0), (-1, 0), 1, INK)]))
        return table

    def header(self) -> Table:
        slip = self.slip
        product = slip["product"]
        named = f'{product["code"]} {product["name_zh"]} / {product["name_en"]}' if product else None
        rows = [
            [self.text(_("Parts"), SMALL), self.value(str(SOURCE_NAMES[slip["source"]])),
             self.text(_("Book"), SMALL), self.value(slip["book"]["owner"])],
            [self.text(_("Product"), SMALL), self.value(named),
             self.text(_("Quantity"), SMALL), self.value(slip["quantity"])],
            [self.text(_("Work order"), SMALL), self.value(slip["work_order"]),
             self.text(_("From or to"), SMALL), self.value(slip["party"])],
            [self.text(_("Bins"), SMALL), self.value(", ".join(slip["bin_codes"]) or None), "", ""],
            [self.text(_("Filled in"), SMALL), self.value((slip["created_by"] or {}).get("name")),
             self.text(_("Time"), SMALL), self.value(self.time(slip["created_at"]))],
        ]
        table = Table(rows, colWidths=[22 * mm, WIDTH / 2 - 22 * mm] * 2)
        table.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("SPAN", (1, 3), (3, 3)),
            ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("INNERGRID", (0, 0), (-1, -1), 0.3, RULE),
            ("BACKGROUND", (0, 0), (0, -1), SHADE), ("BACKGROUND", (2, 0), (2, 2), SHADE),
            ("BACKGROUND", (2, 4), (2, 4), SHADE),
        ]))
        return table

    def steps(self) -> Table:
        heads = (_("Step"), _("Signer"), _("Quantity"), _("Time"), _("Signature"))
        rows: list[list[Any]] = [[self.text(head, SMALL) for head in heads]]
        for item in self.slip["steps"]:
            sig = item["signature"]
            name = self.text(str(STEP_NAMES[item["step"]]))
            if sig is None:
                rows.append([name, self.text(_("not signed"), SMALL), "", "", ""])
                continue
            signer = [self.text((sig["signer"] or {}).get("name") or DASH)]
            role = (sig["signer"] or {}).get("role")
            if role:
                signer.append(self.text(role_name(role), SMALL))
            image = _signature(_image(sig["signature_sha256"]))
            rows.append([name, signer, self.value(sig["quantity"]), self.text(self.time(sig["signed_at"]), SMALL),
                         image if image is not None else self.text(_("no image"), SMALL)])
        widths = [40 * mm, 45 * mm, 20 * mm, 28 * mm]
        table = Table(rows, colWidths=[*widths, WIDTH - sum(widths)], repeatRows=1, splitInRow=SPLIT_MIN,
                      rowHeights=[None] + [18 * mm] * (len(rows) - 1))
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                                   ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("INNERGRID", (0, 0), (-1, -1), 0.3, RULE),
                                   ("ALIGN", (-1, 1), (-1, -1), "CENTER")]))
        return table

    def notes(self) -> Table | None:
        slip = self.slip
        rows = []
        if slip["void"]:
            void = slip["void"]
            rows.append([_("Void"), [self.text(void["reason"] or DASH, ALERT),
                                     self.text(f'{(void["by"] or {}).get("name") or DASH} · {self.time(void["at"])}',
                                               SMALL)]])
        if slip["note"]:
            rows.append([_("Note"), [self.text(slip["note"])]])
        if slip["flags"]:
            from webapp.areas import flag_name

            rows.append([_("Flags"), [self.text(f"• {flag_name(f['code'])}") for f in slip["flags"]]])
        return self.labelled(rows)


def warehouse_slip_pdf(slip: dict[str, Any], copy: str, locale: str, tz: str = "Asia/Shanghai") -> bytes:
    """Return one copy of a warehouse slip (as `warehouse_slips.slip` gives it) as an A4 PDF."""
    zone = ZoneInfo(tz)
    pdfmetrics.registerFontFamily(FONT)
    out = io.BytesIO()
    with force_locale(locale):
        _Copy(slip, copy, zone).build(out, f"{KIND_NAMES[slip['kind']]} {slip['display_number']}", slip["slip_id"])
    return out.getvalue()
