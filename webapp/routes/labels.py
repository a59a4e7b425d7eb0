"""Administration: print bin labels (new or again), replace a damaged label, retire a bin."""

from __future__ import annotations

import io
import zipfile

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from webapp.auth import requires
from webapp.domain.roles import Can
from webapp.printing import LAYOUTS, Label, LabelError, LabelFontMissing, Output, render
from webapp.services import labels

bp = Blueprint("labels", __name__, url_prefix="/admin/labels")

MAX_WEB_LABELS = 1000
LAYOUT_NAMES = {
    "a4-24": _l("A4 sheet, 3 × 8 stickers of 70 × 37 mm"),
    "a4-40": _l("A4 sheet, 4 × 10 stickers of 52.5 × 29.7 mm"),
    "50x30": _l("Thermal printer, 50 × 30 mm labels"),
    "60x40": _l("Thermal printer, 60 × 40 mm labels"),
}
FORMAT_NAMES = {"pdf": _l("PDF (print from the browser)"), "png": _l("PNG images"),
                "zpl": _l("ZPL for Zebra printers (thermal sizes)")}
PREVIEW_DPI = {True: 300, False: 100}  # thermal label, A4 sheet


class PrintForm(FlaskForm):
    """What to print: new bins (how many, workshop, bin type) or existing codes; layout and format."""

    class Meta:
        csrf = False  # the app's CSRFProtect checks every POST already; the preview is a GET

    count = IntegerField(_l("How many new bins"), validators=[Optional(), NumberRange(1, MAX_WEB_LABELS)])
    codes = TextAreaField(_l("Or reprint these codes"), validators=[Optional(), Length(max=20_000)])
    workshop = SelectField(_l("Workshop of the new bins"), default="")
    bin_type = StringField(_l("Bin type"), validators=[Optional(), Length(max=40)])
    layout = SelectField(_l("Layout"), default="a4-24",
                         choices=[SelectChoice(value, name) for value, name in LAYOUT_NAMES.items()])
    format = SelectField(_l("Format"), default="pdf",
                         choices=[SelectChoice(value, name) for value, name in FORMAT_NAMES.items()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.workshop.choices = [SelectChoice("", _("None: the label names the plant"))] + [
            SelectChoice(w.code, f"{w.code} · {w.name_zh} {w.name_en}") for w in labels.workshops()]

    @property
    def code_list(self) -> list[str]:
        return labels.split_codes(self.codes.data or "")

    def check(self) -> bool:
        """Validate fields and the rules between them (codes or a count; ZPL needs a thermal size)."""
        ok = self.validate()
        if ok and not self.code_list and not self.count.data:
            self.count.errors.append(_("Enter how many new bins, or the codes to reprint."))
            ok = False
        if ok and len(self.code_list) > MAX_WEB_LABELS:
            self.codes.errors.append(_("At most %(n)d labels at a time.", n=MAX_WEB_LABELS))
            ok = False
        if ok and self.format.data == "zpl" and not LAYOUTS[self.layout.data].thermal:
            self.format.errors.append(_("ZPL is for thermal printers: choose a 50 × 30 or 60 × 40 mm layout."))
            ok = False
        return ok


class BinActionForm(FlaskForm):
    """A bin code and why: for replacing its label or retiring it."""

    class Meta:
        csrf = False  # checked by the app's CSRFProtect

    code = StringField(_l("Bin code"), validators=[InputRequired(), Length(max=40)])
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(max=labels.MAX_REASON)])


def _base_url() -> str:
    return current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")


def _page(form: PrintForm, replace: BinActionForm | None = None, retire: BinActionForm | None = None,
          preview: str | None = None, status: int = 200):
    return render_template("admin/labels.html", form=form, replace=replace or BinActionForm(prefix="replace"),
                           retire=retire or BinActionForm(prefix="retire"), preview=preview,
                           public_url=current_app.config.get("PUBLIC_URL"), base_url=_base_url(),
                           rows=labels.recent(), per_page=labels.layouts_per_page()), status


def _refused(form, refused: labels.LabelRefused) -> None:
    field = getattr(form, refused.field, None) or getattr(form, "codes", None) or form.code
    field.errors = [*field.errors, str(refused.message)]


def _preview_labels(form: PrintForm) -> list[Label]:
    per_page = LAYOUTS[form.layout.data].per_page
    if form.code_list:
        return labels.labels_for(labels.bins_for_codes(form.code_list[:per_page]), _base_url())
    return labels.sample_labels(min(form.count.data, per_page), form.workshop.data or None, form.bin_type.data,
                                _base_url())


@bp.get("")
@requires(Can.ADMIN)
def index():
    """Show the label form with a preview of the first label or sheet, recent labels, replace and retire."""
    form = PrintForm(request.args if "layout" in request.args else None)
    if "layout" not in request.args:
        codes = request.args.get("codes")  # "print the new label" after a replacement
        if codes:
            form.codes.data = codes
        else:
            form.count.data = 24  # one A4 sheet
        return _page(form)
    if not form.check():
        return _page(form, status=422)
    try:
        _preview_labels(form)  # refuses unknown or replaced codes before showing a broken image
    except labels.LabelRefused as refused:
        _refused(form, refused)
        return _page(form, status=422)
    return _page(form, preview=url_for("labels.preview", **request.args))


@bp.get("/preview.png")
@requires(Can.ADMIN)
def preview():
    """Return the first label (thermal sizes) or the first sheet (A4) as a PNG."""
    form = PrintForm(request.args)
    if not form.check():
        return _("Nothing to preview: correct the form."), 422
    try:
        output = render(_preview_labels(form), form.layout.data, "png",
                        PREVIEW_DPI[LAYOUTS[form.layout.data].thermal])
    except labels.LabelRefused as refused:
        return str(refused.message), 422
    except (LabelError, LabelFontMissing) as error:
        return str(error), 422
    return output.files[0], 200, {"Content-Type": "image/png", "Cache-Control": "no-store"}


def _download(output: Output, codes: list[str]):
    name = f"labels-{codes[0]}" + (f"-{codes[-1]}" if len(codes) > 1 else "")
    if output.format == "png" and len(output.files) > 1:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNG is compressed already
            for number, data in enumerate(output.files, start=1):
                archive.writestr(f"{name}-{number:03d}.png", data)
        return buffer.getvalue(), 200, {"Content-Type": "application/zip",
                                        "Content-Disposition": f'attachment; filename="{name}.zip"'}
    # PDF opens in the browser (its print dialog); PNG and ZPL are saved for the printer's software.
    disposition = "inline" if output.format == "pdf" else "attachment"
    return output.files[0], 200, {"Content-Type": output.media_type, "Cache-Control": "no-store",
                                  "Content-Disposition": f'{disposition}; filename="{name}.{output.format}"'}


@bp.post("/print")
@requires(Can.ADMIN)
def print_labels():
    """Mint the new bins (or take the codes) and return their labels as PDF, PNG or ZPL."""
    form = PrintForm(request.form)
    if not form.check():
        return _page(form, status=422)
    try:
        if form.code_list:
            codes, output = labels.print_existing(form.code_list, form.layout.data, form.format.data, _base_url())
        else:
            codes, output = labels.print_new(form.count.data, form.layout.data, form.format.data, _base_url(),
                                             form.workshop.data or None, form.bin_type.data,
                                             plant_name=current_app.config.get("PLANT_NAME", ""))
    except labels.LabelRefused as refused:
        _refused(form, refused)
        return _page(form, status=422)
    except (LabelError, LabelFontMissing) as error:
        form.layout.errors = [*form.layout.errors, str(error)]
        return _page(form, status=422)
    return _download(output, codes)


@bp.post("/replace")
@requires(Can.ADMIN)
def replace():
    """Replace a damaged or lost label: the bin gets a new code; the old one still finds it."""
    form = BinActionForm(request.form, prefix="replace")
    if form.validate():
        try:
            done = labels.replace_label(form.code.data, form.reason.data, by=current_user)
        except labels.LabelRefused as refused:
            _refused(form, refused)
        else:
            flash(_("Label %(old)s retired. The bin now carries %(new)s: print its label below.",
                    old=done.old_code, new=done.new_code), "ok")
            return redirect(url_for("labels.index", codes=done.new_code), code=303)
    return _page(PrintForm(), replace=form, status=422)


@bp.post("/retire")
@requires(Can.ADMIN)
def retire():
    """Retire a bin for good: it is no longer used, and gets no new labels."""
    form = BinActionForm(request.form, prefix="retire")
    if form.validate():
        try:
            done = labels.retire_bin(form.code.data, form.reason.data, by=current_user)
        except labels.LabelRefused as refused:
            _refused(form, refused)
        else:
            flash(_("Bin %(code)s retired.", code=done.code), "ok")
            return redirect(url_for("labels.index"), code=303)
    return _page(PrintForm(), retire=form, status=422)

