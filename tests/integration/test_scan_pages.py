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
