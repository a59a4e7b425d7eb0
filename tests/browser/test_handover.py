"""The transfer slip's handover in a real Chromium: opened on the bin page, signed four times on one
tablet, refused, and the §3.3 mix-up of similar parts stopped before anything is saved.

The clerk is signed in on the tablet; the inspector, the operator and the receiver sign with their
staff badge, shown to Chromium's fake camera (a Y4M still of the badge's QR, written again before
each of them: the camera reads the file when it starts), and the demo PIN. Offline is the server
process stopped: Playwright's set_offline does not reach the service worker's fetches.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import fake_camera
from tests.browser.phone import (DECODE_MS, PHONE, READ_STORE, SYNC_MS, TABLET, Phone, launch_with_camera,
                                 phone_context)
from webapp.services.demo import DEMO_PIN

pytestmark = pytest.mark.browser

NEXT_SIGNER = "[data-slip-sign] [data-next-signer]"


# --- the demo plant, as the server has it ------------------------------------------------------------

def plant_facts(server) -> dict:
    """The demo's bins (part, where, the route's first and last operation there) and the staff badges' QR texts."""
    from sqlalchemy import select

    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db
    from webapp.models import Bin, User
    from webapp.services import signers

    folder = server.instance
    app = create_app(TestConfig(database_url=f"sqlite:///{folder / 'shopfloor.sqlite3'}", instance=folder))
    with app.app_context():
        bins = []
        for b in db.session.execute(select(Bin).order_by(Bin.code)).scalars():
            if b.product is None or b.location is None or b.location.kind != "operation" or b.product.route is None:
                continue
            route = [s.operation_id for s in b.product.route.steps]
            bins.append({"code": b.code, "part": b.product.code, "quantity": b.quantity,
                         "first": route[0] == b.location.operation_id, "last": route[-1] == b.location.operation_id})
        badges = {u.username: signers.badge_text(signers.current_badge(u.id))
                  for u in db.session.execute(select(User)).scalars() if signers.current_badge(u.id)}
        db.engine.dispose()
    return {"bins": bins, "badges": badges}


def a_bin(facts: dict, part: str, inner: bool = True) -> dict:
    """A bin of `part` at an operation of its route (with `inner`, neither the first nor the last)."""
    return next(b for b in facts["bins"] if b["part"] == part and (not inner or not (b["first"] or b["last"])))


def show_badge(video: Path, text: str) -> None:
    """Put the staff badge with QR `text` before the camera: the next time it starts, it plays this still."""
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=6)
    qr.add_data(text)
    qr.make(fit=True)
    card = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    written = fake_camera.still(video.with_suffix(".new.y4m"), fake_camera.frame(card))
    os.replace(written, video)  # whole, never half-written under the camera


# --- what people do on the tablet ---------------------------------------------------------------------

def open_slip(page, to: str | None = None, extra: str = "") -> None:
    """Open a slip from the bin page (its default destination unless `to`), as the clerk does."""
    form = page.locator("#open-slip-form")
    if form.count() == 0:  # the bin page links to the form (the offline bin shell holds it)
        page.locator("[data-action=transfer]").click()
        page.wait_for_url("**/transfer")
    expect(form).to_have_attribute("data-opener-ready", "", timeout=SYNC_MS)
    if to:
        form.locator("select[name=to]").select_option(to)
    if extra:
        form.locator("input[name=extra_bins]").fill(extra)
    issue_slip = form.locator("input[name=issue_slip]")
    if issue_slip.is_visible():  # leaving cutting (§3.1)
        issue_slip.fill("CK-W1-000123")
    form.locator("button[type=submit]").click()


def draw_signature(page) -> None:
    """Sign on the pad with the pointer: a few strokes across the canvas."""
    pad = page.locator("#sign-form [data-signature-pad]")
    expect(pad).to_have_attribute("data-signature-state", "empty")
    canvas = page.locator("#sign-form canvas[data-signature-canvas]")
    canvas.evaluate("(c) => c.scrollIntoView({block: 'center'})")  # clear of the sticky header on a phone
    box = canvas.bounding_box()
    assert box and box["width"] > 100
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    for start, points in (((.1, .7), [(.2, .3), (.3, .75), (.4, .35), (.5, .7)]), ((.55, .5), [(.7, .4), (.9, .6)])):
        page.mouse.move(x + start[0] * w, y + start[1] * h)
        page.mouse.down()
        for px, py in points:
            page.mouse.move(x + px * w, y + py * h, steps=6)
        page.mouse.up()
    expect(pad).to_have_attribute("data-signature-state", "drawn")


def sign_myself(page) -> None:
    draw_signature(page)
    page.click("#sign-form button[type=submit]")


def sign_with_badge(page, video: Path, badge: str, who: str, verdict: str | None = None) -> None:
    """The next signer checks, draws their signature, shows their badge and types their PIN."""
    draw_signature(page)
    if verdict:
        page.locator(f"#sign-form input[name=verdict][value={verdict}]").check()
    show_badge(video, badge)
    panel = page.locator("#sign-form [data-signer]")
    page.click("#sign-form [data-signer-open]")
    expect(panel.locator("[data-signer-who]")).to_have_text(who, timeout=DECODE_MS)
    expect(panel).to_have_attribute("data-signer-state", "pin")
    panel.locator("[data-signer-pin]").fill(DEMO_PIN)
    page.click("#sign-form button[type=submit]")


def ready_with_plant(clerk: Phone, code: str) -> None:
    """The clerk's bin page works offline, and the device holds the people, parts and places it needs."""
    clerk.ready_offline(code)
    clerk.sync_now()
    clerk.wait_for_row("users", "(person) => person.username === 'receiver' && person.pin_salt")
    for store in ("products", "locations", "bins"):
        clerk.wait_for_row(store)


# --- tests -----------------------------------------------------------------------------------------------

def test_four_people_sign_a_slip_on_one_tablet_offline_and_the_server_completes_it(playwright, server, office,
                                                                                  tmp_path):
    facts = plant_facts(server)
    badges = facts["badges"]
    b = a_bin(facts, "GR-01")  # a part of no similar-specification group: nothing else on the way can stop it
    video = tmp_path / "badge.y4m"
    show_badge(video, badges["inspector"])
    context = phone_context(launch_with_camera(playwright, video), server.url, TABLET)
    try:
        clerk = Phone(context.new_page())
        page = clerk.page
        ready_with_plant(clerk, b["code"])

        server.stop()  # the handover happens where the Wi-Fi does not reach
        open_slip(page)
        page.wait_for_url("**/slips/*")
        tid = page.url.rsplit("/", 1)[1]
        expect(page.locator("[data-slip-shell]")).to_be_attached()  # the worker's shell: the server is down
        expect(page.locator("[data-slip-field=bins]")).to_have_text(b["code"])
        expect(page.locator("[data-slip-field=quantity]")).to_have_text(str(b["quantity"]))
        expect(page.locator(NEXT_SIGNER)).to_have_text("Transfer clerk: quantity")
        expect(page.locator("#sign-form input[name=quantity]")).to_have_value(str(b["quantity"]))
        # Landscape tablet: the slip on the left, the signing (its pad large) on the right.
        head = page.locator("[data-slip] > section").first.bounding_box()
        sign = page.locator("[data-slip-sign]").bounding_box()
        assert sign["x"] >= head["x"] + head["width"] and sign["width"] > 600
        assert clerk.scroll_width() <= TABLET["width"]
        assert clerk.small_targets("#sign-form :is(input[name=quantity], button)") == 0

        sign_myself(page)
        expect(page.locator(NEXT_SIGNER)).to_have_text("Inspector: quality")
        expect(page.locator("#sign-form [data-save-status]")).to_have_attribute("data-state", "saved")
        # The inspector is not the person signed in: no badge, no signature.
        draw_signature(page)
        page.locator("#sign-form input[name=verdict][value=pass]").check()
        page.click("#sign-form button[type=submit]")
        expect(page.locator("#sign-form [data-sign-problem]")).to_contain_text("staff badge")
        page.click("#sign-form [data-signature-clear]")

        sign_with_badge(page, video, badges["inspector"], "李强 Li Qiang · Inspector", verdict="pass")
        expect(page.locator(NEXT_SIGNER)).to_have_text("Upstream operator: releases")
        sign_with_badge(page, video, badges["operator"], "张伟 Zhang Wei · Operator")
        expect(page.locator(NEXT_SIGNER)).to_have_text("Downstream receiver: accepts")
        sign_with_badge(page, video, badges["receiver"], "刘洋 Liu Yang · Receiver")
        expect(page.locator("[data-slip-state]")).to_have_attribute("data-state", "complete")
        expect(page.locator("[data-slip-sign]")).to_be_hidden()
        expect(page.locator("[data-signatures] li[data-state=valid]")).to_have_count(4)
        expect(clerk.unsynced).to_have_text("5")

        server.start()
        clerk.tap_sync_until_synced()
        clerk.wait_until(f"async () => (await ({READ_STORE})('blobs')).every((b) => b.state === 'confirmed')")
        slip = office.get(f"/api/v1/transfers/{tid}").json()
        assert slip["status"] == "complete" and slip["flags"] == []
        signatures = slip["signatures"]
        assert [s["step"] for s in signatures] == ["clerk", "inspector", "operator", "receiver"]
        assert all(s["state"] == "valid" and s["content_hash"] == slip["content_hash"] for s in signatures)
        assert [s["verification"] for s in signatures] == ["device_user", "badge_pin", "badge_pin", "badge_pin"]
        assert [s["signer"]["role"] for s in signatures] == ["clerk", "inspector", "operator", "receiver"]
        assert signatures[1]["verdict"] == "pass"
        for s in signatures:
            blob = office.get(f"/api/v1/blobs/{s['signature_sha256']}")
            assert blob.status_code == 200 and blob.headers["Content-Type"].startswith("image/png")
    finally:
        context.close()


def test_offline_the_bin_shell_opens_a_slip_and_the_clerk_refuses_it_with_a_photo(phone, server, office, tmp_path):
    from PIL import Image

    facts = plant_facts(server)
    b = a_bin(facts, "GR-01")
    photo = tmp_path / "stacked.jpg"
    Image.new("RGB", (640, 480), (180, 120, 60)).save(photo, "JPEG")
    clerk = Phone(phone.new_page())
    page = clerk.page
    clerk.ready_offline()  # on the scan page: the bin's own page was never seen
    clerk.sync_now()
    for store in ("users", "products", "locations", "operations", "bins"):
        clerk.wait_for_row(store)

    server.stop()
    clerk.open_bin(b["code"])  # the offline bin shell, filled from the pulled data
    expect(page.locator("[data-offline-bin] h1")).to_contain_text(b["code"])
    form = page.locator("#open-slip-form")
    expect(form).to_be_visible()
    expect(form).to_have_attribute("data-opener-ready", "")
    expect(form.locator("select[name=to] option[value=next]")).to_contain_text("Next operation: ")
    expect(form.locator("input[name=quantity]")).to_have_value(str(b["quantity"]))
    assert clerk.small_targets("#open-slip-form :is(select, input, button)") == 0
    open_slip(page, to="warehouse")
    page.wait_for_url("**/slips/*")
    tid = page.url.rsplit("/", 1)[1]
    expect(page.locator("[data-slip-shell]")).to_be_attached()
    expect(page.locator(NEXT_SIGNER)).to_have_text("Transfer clerk: quantity")
    expect(page.locator("[data-slip-field=to]")).to_have_text("Warehouse")
    assert page.locator("[data-slip-sign]").bounding_box()["height"] >= PHONE["height"]  # a phone: a step a screen

    refuse = page.locator("#refuse")
    expect(refuse).to_be_visible()
    assert clerk.scroll_width() <= PHONE["width"]
    expect(refuse.locator("input[name=step]")).to_have_value("clerk")
    refuse.locator("input[name=reason]").fill("Stacked so they cannot be counted")
    refuse.locator("input[name=photo]").set_input_files(str(photo))
    refuse.locator("button[type=submit]").click()
    expect(refuse.locator("[data-save-status]")).to_have_attribute("data-state", "saved")
    expect(page.locator("[data-slip-state]")).to_have_attribute("data-state", "refused")
    expect(page.locator("[data-slip-state]")).to_contain_text("Stacked so they cannot be counted")
    expect(page.locator("[data-slip-sign]")).to_be_hidden()
    expect(refuse).to_be_hidden()
    expect(clerk.unsynced).to_have_text("2")

    server.start()
    clerk.tap_sync_until_synced()
    clerk.wait_until(f"async () => (await ({READ_STORE})('blobs')).every((b) => b.state === 'confirmed')")
    slip = office.get(f"/api/v1/transfers/{tid}").json()
    assert slip["status"] == "refused" and slip["to"]["kind"] == "warehouse"
    assert slip["refusal"]["text"] == "Stacked so they cannot be counted" and slip["refusal"]["step"] == "clerk"
    [sha] = slip["refusal"]["photos"]
    assert office.get(f"/api/v1/blobs/{sha}").status_code == 200


def test_similar_parts_never_share_a_slip_nor_go_to_one_place_within_half_an_hour(phone, server, office):
    facts = plant_facts(server)
    shaft, housing = a_bin(facts, "HS-01", inner=False), a_bin(facts, "HH-01", inner=False)
    clerk = Phone(phone.new_page())
    page = clerk.page
    clerk.sign_in("clerk", next_path=f"/b/{shaft['code']}")
    for store in ("products", "bins", "locations"):
        clerk.wait_for_row(store)
    problem = page.locator("#open-slip-form [data-open-problem]")

    # One slip, two similar parts: refused before anything is saved.
    open_slip(page, to="warehouse", extra=housing["code"])
    expect(problem).to_contain_text("similar parts")
    expect(problem).to_contain_text("HH-01")
    assert clerk.device_db()["outbox"] == [] and "/b/" in page.url

    # The half-shaft alone goes; the housing to the same place within 30 minutes does not.
    open_slip(page, to="warehouse", extra=" ")
    page.wait_for_url("**/slips/*")
    expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)
    clerk.open_bin(housing["code"])
    open_slip(page, to="warehouse")
    expect(problem).to_contain_text("HS-01")
    expect(problem).to_contain_text("same place")
    assert "/b/" in page.url
    opened = office.events(type="transfer.opened")
    assert [e["payload"]["bin_codes"] for e in opened] == [[shaft["code"]]]

    # Elsewhere it may go.
    open_slip(page, to="waiting")
    page.wait_for_url("**/slips/*")


def first_piece_not_passed(server, bin_code: str, gate: str) -> None:
    """Forget the first piece of the bin's order at the bin's operation (as if never inspected); set the gate."""
    from sqlalchemy import delete, select

    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db
    from webapp.models import Bin, Inspection, InspectionLog, Location, Setting, Signature
    from webapp.services import inspections

    folder = server.instance
    app = create_app(TestConfig(database_url=f"sqlite:///{folder / 'shopfloor.sqlite3'}", instance=folder))
    with app.app_context():
        b = db.session.execute(select(Bin).where(Bin.code == bin_code)).scalar_one()
        operation = db.session.execute(select(Location.operation_id).where(Location.id == b.location_id)).scalar()
        found = db.session.execute(select(Inspection).where(
            Inspection.work_order_id == b.work_order_id, Inspection.operation_id == operation,
            Inspection.kind == "first_piece")).scalars().all()
        for x in found:
            db.session.execute(delete(Signature).where(Signature.inspection_id == x.id))
            db.session.execute(delete(InspectionLog).where(InspectionLog.inspection_uid == x.uid))
            db.session.delete(x)
        db.session.add(Setting(key="first_piece_gate", value=gate))
        db.session.flush()
        inspections.refresh_quality(db.session, {b.work_order_id})
        db.session.commit()
        db.engine.dispose()


@pytest.mark.parametrize("gate", ["warn", "block"])
def test_before_the_first_piece_passed_the_clerk_is_warned_or_refused(phone, server, office, gate):
    shaft = a_bin(plant_facts(server), "HS-01")
    first_piece_not_passed(server, shaft["code"], gate)
    clerk = Phone(phone.new_page())
    page = clerk.page
    clerk.sign_in("clerk", next_path=f"/b/{shaft['code']}")
    for store in ("products", "bins", "locations", "operations"):
        clerk.wait_for_row(store)
    clerk.wait_for_row("work_orders", "(row) => row.quality && row.quality.first_piece_gate === arg", gate)
    problem = page.locator("#open-slip-form [data-open-problem]")

    open_slip(page, to="waiting")
    expect(problem).to_contain_text("first piece")
    assert clerk.device_db()["outbox"] == [] and "/b/" in page.url
    page.locator("#open-slip-form button[type=submit]").click()  # again
    if gate == "warn":  # the clerk goes on; the server flags it for a director's override
        page.wait_for_url("**/slips/*")
        expect(clerk.unsynced).to_have_text("0", timeout=SYNC_MS)
        [opened] = office.events(type="transfer.opened")
        assert [f["code"] for f in opened["exceptions"]] == ["first_piece_pending"]
    else:
        expect(problem).to_contain_text("director")
        assert clerk.device_db()["outbox"] == [] and "/b/" in page.url
