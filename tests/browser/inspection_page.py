"""The inspection screen on a phone as a page object (`InspectionScreen`), and what its tests need beside it:
the demo plant's facts and the server's copy of an inspection (read from the server's database through the
app, as the office would see it), and the pictures Chromium's fake camera plays (a part with a defect; a
staff badge's QR).

Every wait is on a state the screen shows (data-inspection-stage, data-photos, data-markup-shapes, …).
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.browser import fake_camera
from tests.browser.phone import DECODE_MS, SYNC_MS


# --- what the server holds ---------------------------------------------------------------------------

def _app(server):
    from webapp import create_app
    from webapp.config import TestConfig

    folder = server.instance
    return create_app(TestConfig(database_url=f"sqlite:///{folder / 'shopfloor.sqlite3'}", instance=folder))


def plant_facts(server, order: str) -> dict:
    """The order's product, its route's operation codes and the staff badges' QR texts, by username."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import User, WorkOrder
    from webapp.services import signers

    app = _app(server)
    with app.app_context():
        o = db.session.execute(select(WorkOrder).where(WorkOrder.number == order)).scalar_one()
        route = [s.operation.code for s in o.product.route.steps] if o.product.route else []
        badges = {u.username: signers.badge_text(signers.current_badge(u.id))
                  for u in db.session.execute(select(User)).scalars() if signers.current_badge(u.id)}
        facts = {"product": o.product.code, "route": route, "packed": o.packed, "cartons": o.cartons,
                 "badges": badges}
        db.engine.dispose()
    return facts


def stored_inspection(server, uid: str) -> dict | None:
    """The server's inspection `uid` with its defects and signatures (None when it has not got it)."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Defect, Inspection, Signature

    app = _app(server)
    with app.app_context():
        i = db.session.execute(select(Inspection).where(Inspection.uid == uid)).scalar()
        if i is None:
            db.engine.dispose()
            return None
        defects = db.session.execute(select(Defect).where(Defect.inspection_uid == uid)).scalars().all()
        signatures = db.session.execute(select(Signature).where(Signature.inspection_id == i.id)
                                        .order_by(Signature.signed_at)).scalars().all()
        found = {
            "kind": i.kind, "status": i.status, "verdict": i.verdict, "decision": i.decision, "found": i.found,
            "lot_size": i.lot_size, "sample_size": i.sample_size, "severity": i.severity, "results": i.results,
            "out_of_tolerance": i.out_of_tolerance, "cartons": i.cartons, "template": i.template_code,
            "operation": i.operation.code if i.operation else None,
            "defects": [{"class": d.severity, "type": d.type_code, "count": d.quantity, "photos": d.photos,
                         "markup": d.markup, "location": d.location} for d in defects],
            "signatures": [{"step": s.step, "verification": s.verification, "image": s.image_sha256,
                            "role": s.user.role, "username": s.user.username} for s in signatures],
        }
        db.engine.dispose()
    return found


# --- what the fake camera shows ------------------------------------------------------------------------

def defect_video(path: Path) -> Path:
    """A second of a machined part with a scratch, each frame a little different (two photos never match)."""
    from PIL import Image, ImageDraw

    frames = []
    for n in range(30):
        image = Image.new("RGB", (fake_camera.WIDTH, fake_camera.HEIGHT), (96, 104, 112))
        draw = ImageDraw.Draw(image)
        draw.rounded_rectangle((80, 160, 560, 320), radius=40, fill=(190, 192, 196), outline=(60, 60, 60), width=4)
        draw.line((260 + n * 2, 200, 360 + n * 2, 270), fill=(40, 30, 30), width=5)  # the scratch
        draw.text((20, 20), f"frame {n:02d}", fill=(255, 255, 0))
        frames.append(image)
    return fake_camera.write_y4m(path, frames)


def badge_video(path: Path, text: str) -> Path:
    """Put the staff badge with QR `text` before the camera (it plays this still the next time it starts)."""
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=6)
    qr.add_data(text)
    qr.make(fit=True)
    card = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    written = fake_camera.still(path.with_suffix(".new.y4m"), fake_camera.frame(card))
    os.replace(written, path)  # whole, never half-written under the camera
    return path


# --- the screen -------------------------------------------------------------------------------------------

class InspectionScreen:
    """/inspections/new and /inspections/<id> in one page of a phone."""

    def __init__(self, page):
        self.page = page
        self.root = page.locator("[data-inspection]")

    def open_new(self, kind: str, order: str, **query: str) -> None:
        params = "&".join(f"{k}={v}" for k, v in {"kind": kind, "order": order, **query}.items())
        self.page.goto(f"/inspections/new?{params}")
        self.expect_stage("new")

    def expect_stage(self, stage: str, timeout: float = SYNC_MS) -> None:
        expect(self.root).to_have_attribute("data-inspection-stage", stage, timeout=timeout)

    @property
    def id(self) -> str:
        return self.page.url.split("?")[0].rstrip("/").rsplit("/", 1)[1]

    # 1. start

    @property
    def start_form(self):
        return self.page.locator("form[data-insp-start-form]")

    def start(self) -> str:
        """Tap "Start"; return the inspection's id (the address names it once it is started)."""
        self.start_form.locator("button[type=submit]").click()
        self.expect_stage("open")
        self.page.wait_for_url("**/inspections/*-*")
        return self.id

    # 2. the checklist

    def item(self, key: str):
        return self.page.locator(f"form[data-insp-unit-form] [data-item='{key}']")

    def type_value(self, key: str, value: str) -> None:
        self.item(key).locator("input").fill(value)

    def check(self, key: str, value: str) -> None:
        self.item(key).locator(f"[data-check-value={value}]").click()
        expect(self.item(key)).to_have_attribute("data-check", value)

    def check_all(self, value: str = "pass") -> None:
        for row in self.page.locator("form[data-insp-unit-form] [data-item-type=check]").all():
            row.locator(f"[data-check-value={value}]").click()

    def unit_tab(self, unit: int):
        return self.page.locator(f"[data-insp-unit-tabs] [data-unit='{unit}']")

    def save_unit(self, unit: int) -> None:
        """Save the unit shown; wait until its tab says it is saved (in tolerance or not)."""
        self.page.locator("form[data-insp-unit-form] button[type=submit]").click()
        expect(self.unit_tab(unit)).not_to_have_attribute("data-state", "", timeout=SYNC_MS)

    # 3. defects

    @property
    def defect_form(self):
        return self.page.locator("form[data-insp-defect-form]")

    def add_defect(self, type_code: str, location: str = "", count: int = 1) -> None:
        """Open the defect form and fill it in (the type brings its class)."""
        self.page.locator("[data-insp-add-defect]").click()
        expect(self.defect_form).to_be_visible()
        self.defect_form.locator("select[name=type]").select_option(type_code)
        if location:
            self.defect_form.locator("input[name=location]").fill(location)
        self.defect_form.locator("input[name=count]").fill(str(count))

    def take_photo(self) -> None:
        """Take a photo with the page's own camera (Chromium's fake camera)."""
        form = self.defect_form
        before = int(form.get_attribute("data-photos") or 0)
        if form.get_attribute("data-camera-state") != "on":
            form.locator("[data-insp-camera-open]").click()
            expect(form).to_have_attribute("data-camera-state", "on", timeout=DECODE_MS)
        self.page.wait_for_function("() => document.querySelector('[data-insp-camera-video]').videoWidth > 0")
        form.locator("[data-insp-snap]").click()
        expect(form).to_have_attribute("data-photos", str(before + 1), timeout=SYNC_MS)

    def circle_on_photo(self, index: int) -> None:
        """Mark the photo up with a circle dragged out with the pointer, and keep it."""
        self.defect_form.locator("[data-insp-photos] li").nth(index).locator("[data-photo-markup]").click()
        panel = self.page.locator("[data-markup]")
        expect(panel).to_be_visible()
        expect(panel).to_have_attribute("data-markup-tool", "circle")
        stage = panel.locator("svg[data-markup-svg]")
        stage.evaluate("(s) => s.scrollIntoView({block: 'center'})")
        box = stage.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
        cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
        self.page.mouse.move(cx, cy)
        self.page.mouse.down()
        self.page.mouse.move(cx + box["width"] * 0.15, cy + box["height"] * 0.05, steps=8)
        self.page.mouse.up()
        expect(panel).to_have_attribute("data-markup-shapes", "1")
        panel.locator("[data-markup-done]").click()
        expect(panel).to_be_hidden()
        expect(self.defect_form.locator("[data-insp-photos] li").nth(index)).to_have_attribute("data-shapes", "1")

    def save_defect(self) -> None:
        self.defect_form.locator("button[type=submit]").click()
        expect(self.defect_form).to_be_hidden(timeout=SYNC_MS)

    # 4. verdict and signatures

    def draw_signature(self, form: str) -> None:
        """Sign on the form's pad with the pointer: a few strokes across the canvas."""
        pad = self.page.locator(f"{form} [data-signature-pad]")
        expect(pad).to_have_attribute("data-signature-state", "empty")
        canvas = pad.locator("canvas")
        canvas.evaluate("(c) => c.scrollIntoView({block: 'center'})")  # clear of the sticky header
        box = canvas.bounding_box()
        assert box and box["width"] > 100
        x, y, w, h = box["x"], box["y"], box["width"], box["height"]
        strokes = (((.1, .7), [(.2, .3), (.3, .75), (.4, .35), (.5, .7)]), ((.55, .5), [(.7, .4), (.9, .6)]))
        for start, points in strokes:
            self.page.mouse.move(x + start[0] * w, y + start[1] * h)
            self.page.mouse.down()
            for px, py in points:
                self.page.mouse.move(x + px * w, y + py * h, steps=6)
            self.page.mouse.up()
        expect(pad).to_have_attribute("data-signature-state", "drawn")

    def sign_with_badge(self, video: Path, badge: str, who: str) -> None:
        """The co-signer shows their badge to the camera and types their PIN, then signs."""
        from webapp.services.demo import DEMO_PIN

        badge_video(video, badge)
        panel = self.page.locator("#cosign-form [data-signer]")
        self.page.click("#cosign-form [data-signer-open]")
        expect(panel.locator("[data-signer-who]")).to_have_text(who, timeout=DECODE_MS)
        expect(panel).to_have_attribute("data-signer-state", "pin")
        panel.locator("[data-signer-pin]").fill(DEMO_PIN)
        self.page.click("#cosign-form button[type=submit]")
