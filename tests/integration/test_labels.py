"""Bin labels end to end: the CLI on an empty database, gapless minting under concurrency,
replacing and retiring, and the admin page."""

import io
import re
import threading
import zipfile

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from sync import schema
from webapp.domain.label_codes import mint
from webapp.extensions import db
from webapp.models import Bin, BinLabel, Plant, Workshop
from webapp.services import labels

URL = "https://shopfloor.test"


@pytest.fixture
def public(app):
    """The app with PUBLIC_URL set, as on a plant's server."""
    app.config["PUBLIC_URL"] = URL
    return app


def pdf_urls(data: bytes, dpi: int = 200) -> list[list[str]]:
    document = pdfium.PdfDocument(data)
    try:
        return [sorted(r.text for r in zxingcpp.read_barcodes(page.render(scale=dpi / 72).to_pil()))
                for page in document]
    finally:
        document.close()


def png_urls(data: bytes) -> list[str]:
    return sorted(r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(data))))


def label_rows(app) -> list[tuple[int, str, str]]:
    with app.app_context():
        return [tuple(r) for r in db.session.execute(
            select(BinLabel.id, BinLabel.code, Bin.code).join(Bin, Bin.id == BinLabel.bin_id).order_by(BinLabel.id))]


# The command line.

def test_the_cli_mints_and_prints_on_an_empty_migrated_database(public, runner, tmp_path):
    out = tmp_path / "sheet.pdf"
    result = runner.invoke(args=["labels", "--new", "24", "--out", str(out)])
    assert result.exit_code == 0, result.output
    codes = [mint(n) for n in range(1, 25)]
    assert "B00001Z" in result.output and codes[-1] in result.output
    assert pdf_urls(out.read_bytes()) == [sorted(f"{URL}/b/{c}" for c in codes)]
    assert label_rows(public) == [(n, mint(n), mint(n)) for n in range(1, 25)]
    with public.app_context():
        # No plant existed: a default one was made, and it names the bins on their labels.
        plant = db.session.execute(select(Plant)).scalar_one()
        assert (plant.code, plant.name_zh, plant.name_en) == ("PLANT", "工厂", "Plant")
        assert db.session.execute(select(func.count()).select_from(Bin)).scalar() == 24
        changed = {row.key for row in db.session.execute(select(schema.changes.c.key)
                                                         .where(schema.changes.c.entity == "bin"))}
    assert changed == set(codes)  # devices hear of the new bins through pull


def test_the_cli_prints_thermal_labels_png_and_zpl_and_reprints(public, runner, tmp_path):
    with public.app_context():
        db.session.add(Plant(code="P", name_zh="测试厂", name_en="Test works"))
        db.session.flush()
        db.session.add(Workshop(plant_id=db.session.execute(select(Plant.id)).scalar(), code="W2",
                                name_zh="机加工车间", name_en="Machining shop"))
        db.session.commit()
    result = runner.invoke(args=["labels", "--new", "2", "--layout", "50x30", "--format", "png", "--workshop", "W2",
                                 "--bin-type", "铁框 steel crate", "--out", str(tmp_path / "new.png")])
    assert result.exit_code == 0, result.output
    pages = sorted(tmp_path.glob("new-*.png"))  # one PNG per thermal label
    assert [p.name for p in pages] == ["new-001.png", "new-002.png"]
    assert [png_urls(p.read_bytes()) for p in pages] == [[f"{URL}/b/B00001Z"], [f"{URL}/b/B00002X"]]
    with public.app_context():
        assert {b.workshop.code for b in db.session.execute(select(Bin)).scalars()} == {"W2"}
        assert {b.bin_type for b in db.session.execute(select(Bin)).scalars()} == {"铁框 steel crate"}

    zpl = tmp_path / "again.zpl"
    result = runner.invoke(args=["labels", "--codes", "B00002X,b00001z", "--layout", "60x40", "--format", "zpl",
                                 "--out", str(zpl)])
    assert result.exit_code == 0, result.output
    text = zpl.read_text()
    assert text.count("^XA") == 2 and f"^FDMA,{URL}/b/B00002X^FS" in text and "^GFA," in text
    assert len(label_rows(public)) == 2  # reprinting mints nothing

    single = tmp_path / "one.pdf"
    result = runner.invoke(args=["labels", "--codes", "B00001Z", "--layout", "a4-40", "--out", str(single)])
    assert result.exit_code == 0 and pdf_urls(single.read_bytes()) == [[f"{URL}/b/B00001Z"]]


@pytest.mark.parametrize(("args", "message"), [
    (["labels"], "either --new N or --codes"),
    (["labels", "--new", "2", "--codes", "B00001Z"], "either --new N or --codes"),
    (["labels", "--codes", "B00001Y"], "check character"),
    (["labels", "--codes", mint(7)], "No bin has the code B00007N"),
    (["labels", "--new", "1", "--format", "zpl"], "ZPL is for thermal printers"),
    (["labels", "--new", "1", "--workshop", "W9"], "No workshop has the code W9"),
    (["labels", "--codes", "B00001Z", "--workshop", "W1"], "apply to new bins"),
])
def test_the_cli_refuses_clearly(public, runner, tmp_path, args, message):
    result = runner.invoke(args=[*args, "--out", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert message in result.output
    assert label_rows(public) == []  # nothing was minted


def test_without_public_url_the_cli_warns_and_uses_the_lan_address(app, runner, tmp_path):
    app.config["PUBLIC_URL"] = ""
    result = runner.invoke(args=["labels", "--new", "1", "--layout", "50x30", "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == 0, result.output
    assert "PUBLIC_URL is not set" in result.output
    (url,), = pdf_urls((tmp_path / "x.pdf").read_bytes(), 300)
    assert url.startswith("https://") and url.endswith(":8443/b/B00001Z")


# Minting: in sequence, no gaps, never twice.

def test_two_sessions_minting_at_once_get_consecutive_codes(public):
    errors, barrier = [], threading.Barrier(2)

    def worker():
        try:
            with public.app_context():
                barrier.wait()
                for _ in range(12):
                    labels.mint_bins(1)
                labels.mint_bins(6)
                db.session.remove()
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert label_rows(public) == [(n, mint(n), mint(n)) for n in range(1, 37)]


def test_a_rolled_back_mint_leaves_no_gap(public):
    with public.app_context():
        with pytest.raises(RuntimeError), labels._minting() as session:
            labels._add_labels(session, [Bin(code="")])
            raise RuntimeError("printer on fire")
        assert [b.code for b in labels.mint_bins(2)] == [mint(1), mint(2)]


def test_minting_continues_after_existing_labels(public, plant):
    with public.app_context():
        assert [b.code for b in labels.mint_bins(2)] == [mint(4), mint(5)]
        # New bins without a workshop print the plant's name.
        label = labels.labels_for([db.session.execute(select(Bin).where(Bin.code == mint(4))).scalar_one()], URL)[0]
    assert (label.title, label.subtitle, label.url) == ("测试厂", "Test plant", f"{URL}/b/{mint(4)}")


# Replacing a damaged label, retiring a bin.

def test_a_replaced_label_still_finds_its_bin_and_says_so(public, plant, client, auth, make_user, signed_in_device):
    old = plant["codes"][0]
    with public.app_context():
        done = labels.replace_label(old, "torn by a forklift")
        assert done == labels.Replaced(old, mint(4))
        retired = db.session.execute(select(BinLabel).where(BinLabel.code == old)).scalar_one()
        assert retired.retired_at is not None and retired.retired_reason == "torn by a forklift"
        assert retired.bin.code == mint(4) and retired.bin.quantity == 50  # same bin, same contents
    device = signed_in_device("clerk")
    page = client.get(f"/b/{old}")
    assert page.status_code == 200
    assert f"This label was replaced. The bin now carries label {mint(4)}." in page.text
    pulled = device.pull().json
    assert mint(4) in {b["code"] for b in pulled["bins"]}
    assert old in pulled["deleted"]["bins"]  # devices drop the old code


def test_replacing_needs_a_reason_and_a_known_active_bin(public, plant):
    with public.app_context():
        with pytest.raises(labels.LabelRefused) as refused:
            labels.replace_label(plant["codes"][0], "  ")
        assert refused.value.field == "reason"
        with pytest.raises(labels.LabelRefused) as refused:
            labels.replace_label(mint(9), "lost")
        assert refused.value.field == "code"
        labels.retire_bin(plant["codes"][1], "cracked")
        with pytest.raises(labels.LabelRefused):
            labels.replace_label(plant["codes"][1], "lost")
    assert len(label_rows(public)) == 3


def test_a_retired_bin_is_marked_for_devices_and_gets_no_new_label(public, plant, signed_in_device):
    code = plant["codes"][1]
    device = signed_in_device("clerk")
    cursor = device.pull().json["cursor"]
    with public.app_context():
        labels.retire_bin(code, "cracked, scrapped")
        b = db.session.execute(select(Bin).where(Bin.code == code)).scalar_one()
        assert b.status == "retired"
        with pytest.raises(labels.LabelRefused, match="codes"):
            labels.print_existing([code], "a4-24", "pdf", URL)
    changed = device.pull(cursor).json["bins"]
    assert [(b["code"], b["retired"]) for b in changed] == [(code, True)]


def test_reprinting_a_replaced_code_points_to_the_new_one(public, plant):
    with public.app_context():
        labels.replace_label(plant["codes"][2], "faded")
        with pytest.raises(labels.LabelRefused) as refused:
            labels.bins_for_codes([plant["codes"][2]])
        assert refused.value.field == "codes"
    with public.test_request_context():
        message = str(refused.value.message)
    assert message == f"Label {plant['codes'][2]} was replaced by {mint(4)}: print {mint(4)} instead."


# The admin page.

@pytest.fixture
def admin(client, auth, make_user):
    user = make_user("admin")
    assert auth.login(user.username).status_code == 303
    return auth


def test_the_admin_page_previews_without_minting(public, plant, client, admin):
    page = client.get("/admin/labels")
    assert page.status_code == 200
    assert 'action="/admin/labels/print"' in page.text and 'target="_blank"' in page.text
    assert 'action="/admin/labels/replace"' in page.text and 'action="/admin/labels/retire"' in page.text
    query = {"count": "30", "codes": "", "workshop": "W1", "bin_type": "铁框", "layout": "a4-24", "format": "pdf"}
    page = client.get("/admin/labels", query_string=query)
    assert page.status_code == 200 and "/admin/labels/preview.png?" in page.text
    image = client.get("/admin/labels/preview.png", query_string=query)
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert png_urls(image.data) == sorted(f"{URL}/b/{mint(n)}" for n in range(4, 28))  # the first sheet of 24
    thermal = client.get("/admin/labels/preview.png", query_string={**query, "layout": "50x30"})
    assert png_urls(thermal.data) == [f"{URL}/b/{mint(4)}"]
    assert len(label_rows(public)) == 3  # previews mint nothing


def test_the_admin_page_prints_pdf_png_and_zpl(public, plant, client, admin):
    token = admin.csrf("/admin/labels")
    form = {"csrf_token": token, "count": "3", "codes": "", "workshop": "", "bin_type": "", "layout": "a4-24",
            "format": "pdf"}
    response = client.post("/admin/labels/print", data=form)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline")  # opens for the browser's print dialog
    assert pdf_urls(response.data) == [sorted(f"{URL}/b/{mint(n)}" for n in (4, 5, 6))]
    assert len(label_rows(public)) == 6

    again = client.post("/admin/labels/print", data={**form, "count": "", "codes": f"{mint(4)}, {mint(5)}",
                                                     "layout": "50x30", "format": "png"})
    assert again.status_code == 200 and again.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(again.data)) as archive:
        assert [png_urls(archive.read(name)) for name in sorted(archive.namelist())] == [
            [f"{URL}/b/{mint(4)}"], [f"{URL}/b/{mint(5)}"]]
    zpl = client.post("/admin/labels/print", data={**form, "count": "", "codes": mint(6), "layout": "60x40",
                                                   "format": "zpl"})
    assert zpl.status_code == 200 and "attachment" in zpl.headers["Content-Disposition"]
    assert f"^FDMA,{URL}/b/{mint(6)}^FS".encode() in zpl.data
    assert len(label_rows(public)) == 6


def test_the_admin_page_refuses_with_the_form_redisplayed(public, plant, client, admin):
    token = admin.csrf("/admin/labels")
    base = {"csrf_token": token, "count": "", "codes": "", "layout": "a4-24", "format": "pdf"}
    nothing = client.post("/admin/labels/print", data=base)
    assert nothing.status_code == 422 and "Enter how many new bins" in nothing.text
    zpl_on_a4 = client.post("/admin/labels/print", data={**base, "count": "2", "format": "zpl"})
    assert zpl_on_a4.status_code == 422 and "ZPL is for thermal printers" in zpl_on_a4.text
    unknown = client.post("/admin/labels/print", data={**base, "codes": mint(99)})
    assert unknown.status_code == 422 and f"No bin has the code {mint(99)}" in unknown.text
    no_csrf = client.post("/admin/labels/print", data={**base, "csrf_token": "", "count": "2"})
    assert no_csrf.status_code == 400
    assert len(label_rows(public)) == 3


def test_replace_and_retire_from_the_admin_page(public, plant, client, admin):
    token = admin.csrf("/admin/labels")
    old = plant["codes"][0]
    done = client.post("/admin/labels/replace", data={"csrf_token": token, "replace-code": old.lower(),
                                                      "replace-reason": "unreadable"})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/admin/labels?codes={mint(4)}")
    page = client.get(done.headers["Location"])
    assert f"Label {old} retired. The bin now carries {mint(4)}" in page.text
    assert re.search(rf">\s*{mint(4)}</textarea>", page.text)  # ready to print the new label
    refused = client.post("/admin/labels/replace", data={"csrf_token": token, "replace-code": old,
                                                         "replace-reason": ""})
    assert refused.status_code == 422
    retired = client.post("/admin/labels/retire", data={"csrf_token": token, "retire-code": plant["codes"][1],
                                                        "retire-reason": "broken"})
    assert retired.status_code == 303
    assert f"Bin {plant['codes'][1]} retired." in client.get("/admin/labels").text
    with public.app_context():
        assert db.session.execute(select(Bin.status).where(Bin.code == plant["codes"][1])).scalar() == "retired"


def test_the_admin_page_speaks_chinese(public, plant, client, admin):
    client.post("/language", data={"csrf_token": admin.csrf("/admin/labels"), "locale": "zh_CN",
                                   "next": "/admin/labels"})
    page = client.get("/admin/labels")
    assert "打印标签" in page.text and "更换损坏的标签" in page.text
