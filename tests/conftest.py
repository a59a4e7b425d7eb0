"""Fixtures: the app on a real database (a SQLite file, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import time
import uuid
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text
from werkzeug.security import generate_password_hash

from webapp import create_app
from webapp.config import TestConfig
from webapp.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> str:
    """Migrate an empty database once: a SQLite template file, or the PostgreSQL test database."""
    folder = tmp_path_factory.mktemp("template")
    url = PG_URL or f"sqlite:///{folder / 'template.sqlite3'}"
    app = create_app(TestConfig(database_url=url, instance=folder))
    with app.app_context():
        if PG_URL:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return url


def _fresh_url(template_url: str, folder: Path) -> str:
    if PG_URL:
        return template_url
    target = folder / "shopfloor.sqlite3"
    shutil.copy(template_url.removeprefix("sqlite:///"), target)
    return f"sqlite:///{target}"


@pytest.fixture
def app(migrated, tmp_path):
    """An app on a fresh, migrated database."""
    app = create_app(TestConfig(database_url=_fresh_url(migrated, tmp_path), instance=tmp_path))
    if PG_URL:
        with app.app_context():
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                # What the migrations seed (0013: the sampling tables devices pull), as on a fresh database.
                conn.execute(text("INSERT INTO reference_tables (key, version) VALUES ('aql', 1)"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_app():
    """Return a factory for extra apps (other settings); their connections are closed afterwards."""
    made = []

    def make(config):
        made.append(create_app(config))
        return made[-1]

    yield make
    for extra in made:
        with extra.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client (a browser without JavaScript)."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """The `flask` command line."""
    return app.test_cli_runner()


@functools.cache
def _test_hash(password: str) -> str:
    return generate_password_hash(password, method="scrypt:1024:8:1")


@pytest.fixture
def make_user(app):
    """Return a factory: make_user(role, username=None, password='pw') creates a user.

    Their password is hashed with scrypt at a lower cost than the app's default (the hash says its
    own parameters, and sign-in checks it as any other): hundreds of tests sign people in.
    """
    from webapp.models import User

    def make(role: str, username: str | None = None, password: str = "pw") -> User:
        with app.app_context():
            user = User(username=username or f"{role}-{uuid.uuid4().hex[:6]}", display_name=f"{role} person",
                        role=role)
            user.password_hash = _test_hash(password)
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return make


@pytest.fixture
def plant(app):
    """A minimal plant: one workshop, two operations with locations, a product, an order, three bins."""
    from datetime import date

    from webapp.domain.label_codes import mint
    from webapp.models import Bin, BinLabel, Location, Operation, Plant, Product, WorkOrder, Workshop

    with app.app_context():
        p = Plant(code="T", name_zh="测试厂", name_en="Test plant")
        w = Workshop(plant=p, code="W1", name_zh="一车间", name_en="Shop 1")
        ops = [Operation(code=f"OP{i}0", name_zh=f"工序{i}", name_en=f"Op {i}", workshop=w) for i in (1, 2)]
        locs = [Location(code=f"L-{o.code}", kind="operation", operation=o, workshop=w, name_zh=o.name_zh,
                         name_en=o.name_en) for o in ops]
        prod = Product(code="HS-01", name_zh="半轴", name_en="Half-shaft")
        order = WorkOrder(number="WO-1", product=prod, quantity=800, due_date=date(2026, 12, 1), customer="C")
        db.session.add_all([p, w, *ops, *locs, prod, order])
        codes = [mint(n) for n in (1, 2, 3)]
        for code in codes:
            b = Bin(code=code, workshop=w, work_order=order, product=prod, quantity=50, location=locs[0])
            db.session.add_all([b, BinLabel(code=code, bin=b)])
        db.session.commit()
        return {"codes": codes, "order": "WO-1", "operations": ["OP10", "OP20"]}


@pytest.fixture
def routed_plant(app, plant):
    """The plant's half-shaft on a route OP10 → OP20 (OP10 is cutting), a housing of the same
    similar-specification group (never transferred together, §3.3), and a waiting area WAIT-1."""
    from sqlalchemy import select

    from webapp.models import Location, Product, Route, RouteStep, SpecGroup

    with app.app_context():
        product = db.session.execute(select(Product).where(Product.code == "HS-01")).scalar_one()
        r = Route(code="R1", name_zh="路线", name_en="Route")
        db.session.add(r)
        db.session.flush()
        for i, op in enumerate(plant["operations"], start=1):
            op_id = db.session.execute(select(Location.operation_id).where(Location.code == f"L-{op}")).scalar()
            db.session.add(RouteStep(route=r, position=i, operation_id=op_id, state_name_zh=f"状态{i}",
                                     state_name_en=f"State {i}"))
        group = SpecGroup(code="SG", name_zh="易混", name_en="Easily mixed")
        product.route, product.spec_group = r, group
        twin = Product(code="HH-01", name_zh="半轴壳", name_en="Housing", route=r, spec_group=group)
        db.session.add_all([group, twin, Location(code="WAIT-1", kind="waiting", name_zh="待料区", name_en="Waiting")])
        db.session.commit()
    return plant


@pytest.fixture
def inspection_plant(app, routed_plant):
    """The routed plant with the plant's default checklists and defect catalogue, the half-shaft's own
    first-piece checklist (length 420.0 ±0.5 mm, diameter 38.00 ±0.05 mm, workmanship pass/fail), and
    order WO-1 (800 pieces)."""
    from webapp.models import InspectionTemplate, Product
    from webapp.services import checklists

    with app.app_context():
        checklists.install_defaults(db.session)
        product = db.session.execute(select(Product).where(Product.code == "HS-01")).scalar_one()
        db.session.add(InspectionTemplate(
            code="HS-01-FIRST", product=product, kind="first_piece", name_zh="半轴首件",
            name_en="Half-shaft first piece", units=2, active=True, items=[
                checklists.measure("length", "总长", "Overall length", "420.0", "0.5", "0.5"),
                checklists.measure("diameter", "轴径", "Shaft diameter", "38.00", "0.05", "0.05"),
                {"key": "workmanship", "label_zh": "做工", "label_en": "Workmanship", "group": "workmanship",
                 "type": "check", "nominal": None, "minus": None, "plus": None, "unit": None}]))
        db.session.commit()
    return {**routed_plant, "product": "HS-01"}


class Auth:
    """Sign a test client in and out, as a person would with the form."""

    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        """Return the CSRF token a page carries."""
        page = self.client.get(path)
        return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)

    def login(self, username: str, password: str = "pw"):
        """Post the sign-in form."""
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": self.csrf()})

    def logout(self):
        """Post the sign-out form."""
        return self.client.post("/logout", data={"csrf_token": self.csrf("/scan")})


@pytest.fixture
def auth(client):
    """Sign-in helper for `client`."""
    return Auth(client)


class Device:
    """A phone as the sync contract sees it: registers, numbers its events, pushes and pulls."""

    def __init__(self, client, auth: Auth, user):
        self.client, self.auth, self.user = client, auth, user
        self.id = str(uuid.uuid4())
        self.secret = secrets.token_urlsafe(32)  # made by the device, proves it holds this id
        self.seq = 0
        self.register()

    def register(self, user=None):
        """(Re)register from the signed-in session, as the app does at sign-in and on a shift change."""
        reply = self.client.post("/api/v1/devices", json={"device_id": self.id, "label": "test phone",
                                                          "device_secret": self.secret},
                                 headers={"X-CSRFToken": self.auth.csrf("/scan")})
        assert reply.status_code == 201, reply.text
        self.token = reply.json["token"]
        if user is not None:
            self.user = user
        return reply

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def event(self, type_: str = "bin.counted", payload: dict | None = None, **fields) -> dict:
        """Make the next event in this device's sequence."""
        self.seq += 1
        event = {"id": str(uuid.uuid4()), "device_id": self.id, "seq": self.seq, "type": type_, "v": 1,
                 "occurred_at": int(time.time() * 1000), "actor_id": self.user.id, "payload": payload or {},
                 "attachments": []}
        event.update(fields)
        return event

    def push(self, events: list, **body):
        """Push events; return the response."""
        return self.client.post("/api/v1/sync/push", json={"device_id": self.id, "build": "test", "events": events,
                                                           **body}, headers=self.headers)

    def pull(self, cursor: str | None = None):
        """Pull one page after `cursor`."""
        return self.client.get("/api/v1/sync/pull", query_string={"cursor": cursor} if cursor else {},
                               headers=self.headers)


@pytest.fixture
def signed_in_device(app, client, auth, make_user):
    """Return a factory: signed_in_device(role) makes a person with a phone of their own, signed in
    and registered, and signs the test's `client` in as the same person (a second session).

    Each phone is its own browser: signing in on one ends only that browser's earlier session
    and the token of the device it registered, as on the floor.
    """

    def make(role: str = "clerk") -> Device:
        user = make_user(role)
        phone = app.test_client()
        phone_auth = Auth(phone)
        assert phone_auth.login(user.username).status_code == 303
        device = Device(phone, phone_auth, user)
        assert auth.login(user.username).status_code == 303
        return device

    return make


@pytest.fixture
def device_and_event(signed_in_device, plant):
    """A device that has pushed one count (stored)."""
    device = signed_in_device("clerk")
    event = device.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 9, "unit": "pcs"}, v=2)
    assert device.push([event]).json["results"][0]["status"] == "stored"
    return device, event


@pytest.fixture
def decoded(monkeypatch):
    """The sizes of the images Pillow decodes in this test (every decoder's load goes through ImageFile.load)."""
    from PIL import ImageFile

    sizes = []
    load = ImageFile.ImageFile.load

    def counting_load(image):
        sizes.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return sizes
