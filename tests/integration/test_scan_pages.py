"""The scan screen as the server sends it: what the device needs to scan, online and offline."""

import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "webapp" / "static"
WASM = "vendor/zxing-wasm-3.1.3/zxing_reader.wasm"


def test_the_scan_screen_knows_the_label_address_and_the_https_port(app, client, auth, make_user):
    app.config["PUBLIC_URL"] = "https://shopfloor.plant.example"
    auth.login(make_user("clerk").username)
    page = client.get("/scan").text
    assert '<meta name="shopfloor-public-url" content="https://shopfloor.plant.example">' in page
    assert f'data-https-port="{app.config["HTTPS_PORT"]}"' in page
    assert "data-scan-input" in page and 'autocapitalize="characters"' in page


def test_pages_preload_every_module_the_app_loads(client):
    page = client.get("/offline/bin").text
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/v/[0-9a-f]+/([^"]+)"', page))
    assert {"js/behaviours/scan-screen.js", "js/scan/codes.js", "js/offline/db.js", "vendor/idb-8.0.4.js"} <= preloaded
    assert "js/scan/decoder-worker.js" not in preloaded  # the worker loads it, on the scan screen only
    assert all((STATIC / module).is_file() for module in preloaded)


def test_the_scan_shell_and_the_decoder_are_kept_for_offline_use(client):
    shell = client.get("/offline/scan")
    assert shell.status_code == 200 and "data-scan-screen" in shell.text and "data-code-entry" in shell.text
    worker = client.get("/sw.js").text
    assert '"/offline/scan"' in worker
    assert re.search(rf'"/static/v/[0-9a-f]+/{re.escape(WASM)}"', worker)
    assert re.search(r'"/static/v/[0-9a-f]+/js/scan/decoder-worker.js"', worker)


def test_the_vendored_wasm_is_the_build_the_decoder_expects(client, app):
    wasm = client.get(f"/static/v/{app.config['BUILD']}/{WASM}")
    assert wasm.status_code == 200 and wasm.mimetype == "application/wasm"  # streaming compile needs it
    digest = hashlib.sha256(wasm.data).hexdigest()
    wasm.close()
    worker = (STATIC / "js/scan/decoder-worker.js").read_text()
    assert f'WASM_SHA256 = "{digest}"' in worker
    assert f'"{digest}"' in (STATIC / "vendor/barcode-detector-3.2.2/zxing-exported.js").read_text()
    for name in ("barcode-detector-3.2.2.LICENSE", "zxing-wasm-3.1.3.LICENSE"):
        assert (STATIC / "vendor" / name).is_file()


def _open_work(app, plant):
    """An open transfer slip and an open final inspection on the plant's first bin."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Bin, Inspection, Location, Transfer, User, WorkOrder

    with app.app_context():
        someone = db.session.execute(select(User)).scalars().first()
        b = db.session.execute(select(Bin).where(Bin.code == plant["codes"][0])).scalar_one()
        order = db.session.execute(select(WorkOrder)).scalar_one()
        to = db.session.execute(select(Location).where(Location.code == "L-OP20")).scalar_one()
        db.session.add_all([
            Transfer(number="ZX-00042", bin=b, work_order=order, quantity=48, from_location=b.location,
                     to_location=to, created_by=someone.id),
            Transfer(number="ZX-00041", bin=b, work_order=order, quantity=50, status="complete", created_by=someone.id),
            Inspection(kind="final", work_order=order, bin_id=b.id, lot_size=800, sample_size=80, aql="2.5",
                       inspector_id=someone.id),
        ])
        db.session.commit()


def test_what_a_scan_opens_lists_the_bins_open_slips_and_inspections(app, client, auth, make_user, plant):
    auth.login(make_user("clerk").username)
    code = plant["codes"][0]
    assert "Nothing open for this bin." in client.get(f"/b/{code}").text
    _open_work(app, plant)
    page = client.get(f"/b/{code}").text
    slips = page[page.index("data-open-transfers"):page.index("data-open-inspections")]
    assert "ZX-00042" in slips and "Op 1 → Op 2" in slips and "48 pcs" in slips
    assert "ZX-00041" not in page  # a completed slip is not open
    inspections = page[page.index("data-open-inspections"):page.index("data-open-none")]
    assert "Final inspection (AQL sampling)" in inspections and "sample 80 of 800, AQL 2.5" in inspections
    assert re.search(r'data-open-none\s+hidden', page)
    assert client.get(f"/b/{plant['codes'][1]}").text.count("ZX-00042") == 0  # another bin's page


def test_the_bin_page_offers_the_actions_of_the_signed_in_role(client, auth, make_user, plant):
    code = plant["codes"][0]
    auth.login(make_user("clerk").username)
    actions = re.findall(r'data-action="(\w+)"', client.get(f"/b/{code}").text)
    assert actions == ["count", "move", "transfer", "scan"]
    auth.logout()
    auth.login(make_user("receiver").username)
    assert re.findall(r'data-action="(\w+)"', client.get(f"/b/{code}").text) == ["scan"]


def test_a_replaced_label_points_to_its_bin_and_a_retired_bin_says_so(app, client, auth, make_user, plant):
    from webapp.services.labels import replace_label, retire_bin

    old = plant["codes"][0]
    with app.app_context():
        new = replace_label(old, "torn").new_code
        retire_bin(plant["codes"][1], "cracked")
    auth.login(make_user("clerk").username)
    page = client.get(f"/b/{old}").text
    assert "This label was replaced" in page and f'href="/b/{new}"' in page
    assert "This bin is retired" not in page
    retired = client.get(f"/b/{plant['codes'][1]}").text
    assert "This bin is retired" in retired and ": cracked)" in retired  # when, and the reason given
    assert ": torn)" in page
