"""Shopfloor: the app factory. `flask --app webapp run` finds `create_app`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, g, request, session
from flask_babel import format_datetime, format_timedelta, get_locale
from flask_login import current_user

from sync.db import configure_sqlite
from webapp import names
from webapp.config import Config
from webapp.domain.roles import OFFICE_ROLES
from webapp.extensions import babel, csrf, db, limiter, login_manager, migrate
from webapp.extensions import htmx as htmx_extension  # webapp.htmx is our HX-* module
from webapp.models.types import from_ms, utcnow

HERE = Path(__file__).resolve().parent
# Babel knows Simplified Chinese as zh_Hans_CN; its catalogue lives in translations/zh_Hans_CN.
LOCALES = {"zh_CN": "zh_Hans_CN", "en": "en"}


def select_locale() -> str:
    """Pick the user's chosen language, else the best match for Accept-Language."""
    choice = session.get("locale")
    if choice not in LOCALES:
        user = getattr(g, "api_user", None) or (current_user if current_user.is_authenticated else None)
        choice = getattr(user, "locale", None)
    if choice not in LOCALES:
        best = request.accept_languages.best_match(["zh_CN", "zh", "en"], default="en")
        choice = "zh_CN" if best.startswith("zh") else "en"
    return LOCALES[choice]


def static_build_id(static: Path) -> str:
    """Hash the static files: a new build id whenever the device-side code changes."""
    digest = hashlib.sha256()
    for path in sorted(static.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(static).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def create_app(config: object | None = None) -> Flask:
    """Create the Shopfloor app from the environment (or a test config)."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config or Config())
    app.config["BUILD"] = static_build_id(HERE / "static")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(HERE / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(HERE / "translations"))
    csrf.init_app(app)
    htmx_extension.init_app(app)
    limiter.init_app(app)

    with app.app_context():
        configure_sqlite(db.engine)
    from webapp.services import changes

    changes.install()

    from webapp.auth import authenticate_api, check_access
    from webapp.models import User

    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None

    app.before_request(authenticate_api)  # first: who is calling the API, then may they
    app.before_request(check_access)

    from webapp.routes import admin, api, auth, blobs, floor, office, pwa

    for module in (auth, floor, office, admin, pwa, api, blobs):
        app.register_blueprint(module.bp)
    csrf.exempt(api.bp)  # the API checks X-CSRFToken itself for cookie calls; bearer calls need none
    csrf.exempt(blobs.bp)

    from webapp import cli, errors

    cli.register(app)
    errors.register(app)

    @app.context_processor
    def inject_globals():
        return {"build": app.config["BUILD"], "current_locale": str(get_locale()),
                "office_roles": OFFICE_ROLES, "role_name": names.role_name, "local_name": names.local_name,
                "kind_names": names.LOCATION_KINDS, "outcome_names": names.COUNT_OUTCOMES,
                "exception_names": names.EXCEPTION_CODES}

    @app.template_filter("when")
    def when(value) -> str:
        """Format a datetime or epoch milliseconds in the plant's time zone and the user's language."""
        if value is None:
            return ""
        if isinstance(value, int):
            value = from_ms(value)
        return format_datetime(value, "short")

    @app.template_filter("ago")
    def ago(value) -> str:
        """Say how long ago a datetime was, in the user's language."""
        if value is None:
            return ""
        return format_timedelta(value - utcnow(), add_direction=True)

    return app
