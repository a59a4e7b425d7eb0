"""Migrations from an empty database, the models they match, and the demo plant."""

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from tests.conftest import PG_URL
from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_create_exactly_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: run `flask db migrate`: {diff}"


def test_flask_db_upgrade_works_on_an_empty_database(tmp_path):
    url = PG_URL or f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    env = {"DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    if PG_URL:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    flask = [sys.executable, "-m", "flask", "--app", "webapp"]
    done = subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    current = subprocess.run([*flask, "db", "current"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "(head)" in current.stdout


def test_the_demo_plant(app, runner):
    from webapp.models import Bin, Location, Operation, Product, User, WorkOrder, Workshop

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        count = lambda model: db.session.execute(select(func.count()).select_from(model)).scalar()  # noqa: E731
        assert count(Workshop) == 3
        ops = db.session.execute(select(Operation).order_by(Operation.code)).scalars().all()
        assert [o.name_en for o in ops] == ["Cutting", "Turning", "Heat treatment", "Grinding", "Assembly"]
        assert all(o.name_zh for o in ops)
        kinds = {loc.kind for loc in db.session.execute(select(Location)).scalars()}
        assert kinds == {"operation", "waiting", "warehouse"}
        grouped = [p.name_en for p in db.session.execute(select(Product)).scalars() if p.spec_group]
        assert sorted(grouped) == ["Half-shaft", "Half-shaft housing"] and count(Product) >= 3
        assert sorted(w.quantity for w in db.session.execute(select(WorkOrder)).scalars()) == [800, 2500, 6000]
        assert count(Bin) == 40
        users = {u.username: u for u in db.session.execute(select(User)).scalars()}
        roles = ["clerk", "inspector", "operator", "receiver", "office", "director", "keeper", "follower",
                 "accountant", "admin"]
        assert all(users[r].role == r and users[r].check_password("demo") for r in roles)
        from sync import schema

        times = db.session.execute(select(func.min(schema.events.c.received_at),
                                          func.max(schema.events.c.received_at))).one()
        assert (times[1] - times[0]) > 12 * 24 * 3600 * 1000  # about two weeks of history
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and "already" in again.output


def test_the_sign_in_page_lists_demo_users_only_in_demo_mode(client, runner):
    assert "<code>clerk</code>" not in client.get("/login").text
    runner.invoke(args=["demo"])
    assert "<code>clerk</code>" in client.get("/login").text


def test_create_user_makes_a_person_who_can_sign_in(client, runner):
    result = runner.invoke(args=["create-user", "Wang", "--role", "admin", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    assert "wang (admin)" in result.output
    refused = runner.invoke(args=["create-user", "li", "--role", "boss", "--password", "s3cret-pass"])
    assert refused.exit_code != 0 and "boss" in refused.output
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    reply = client.post("/login", data={"username": "wang", "password": "s3cret-pass", "csrf_token": token})
    assert reply.status_code == 303 and "/login" not in reply.headers["Location"]
