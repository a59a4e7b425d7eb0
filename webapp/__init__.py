"""Shopfloor: the app factory. `flask --app webapp run` finds `create_app`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Flask, g, render_template, request, session, url_for
from markupsafe import Markup
from flask_babel import format_datetime, format_timedelta, get_locale
from flask_login import current_user

from sync.blobs import limit_decoder
from sync.db import configure_sqlite
from webapp import names, releases, security
from webapp.config import Config
from webapp.domain.roles import Can, may
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


def create_app(config: object | None = None) -> Flask:
    """Create the Shopfloor app from the environment (or a test config)."""
    config = config or Config()
    static = Path(getattr(config, "STATIC_DIR", None) or HERE / "static").resolve()
    app = Flask(__name__, instance_relative_config=False, static_folder=str(static))
    app.config.from_object(config)
    # BUILD names the exact static files (in their URLs); RELEASE orders builds (MIN_BUILD compares it).
    app.config["BUILD"] = releases.static_build_id(static)
    app.config["RELEASE"] = releases.RELEASE
    app.config["DEVICE_BUILD"] = releases.device_build(releases.RELEASE, app.config["BUILD"])
    app.config["MIN_BUILD"] = releases.parse_min_build(app.config.get("MIN_BUILD"))
    app.config["STATIC_RELEASES"] = str(Path(app.config["INSTANCE_DIR"]) / releases.RELEASES_FOLDER)
    releases.keep_static_release(static, Path(app.config["STATIC_RELEASES"]), app.config["BUILD"])

    db.init_app(app)
    migrate.init_app(app, db, directory=str(HERE / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(HERE / "translations"))
    csrf.init_app(app)
    htmx_extension.init_app(app)
    limiter.init_app(app)
    security.install(app)  # PROXY_HOPS, Secure cookies on HTTPS, CSP and the other headers

    with app.app_context():
        configure_sqlite(db.engine)
    # Pillow refuses a decompression bomb in any image this process opens, not only uploads.
    limit_decoder(app.config["BLOB_MAX_PIXELS"])
    from webapp.services import accounts

    accounts.install_role_history()

    from webapp.auth import authenticate_api, check_access

    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        from webapp.services import sessions

        return sessions.live_user(user_id)  # a copied cookie stops working once its session ends

    app.before_request(authenticate_api)  # first: who is calling the API, then may they
    app.before_request(check_access)

    from webapp.routes import (account, admin, api, auth, blobs, counting, floor, moving, office, pwa, stocktaking,
                               transfers)

    for module in (auth, account, floor, counting, moving, transfers, stocktaking, office, admin, pwa, api, blobs):
        app.register_blueprint(module.bp)
    from webapp.routes import labels as label_pages
    app.register_blueprint(label_pages.bp)
    from webapp.routes import warehouse as warehouse_pages
    app.register_blueprint(warehouse_pages.bp)
    from webapp.routes import inspections as inspection_pages
    from webapp.routes import quality_admin
    app.register_blueprint(inspection_pages.bp)
    app.register_blueprint(quality_admin.bp)
    from webapp.routes import inspection_reports
    app.register_blueprint(inspection_reports.bp)
    csrf.exempt(api.bp)  # the API checks X-CSRFToken itself for cookie calls; bearer calls need none
    csrf.exempt(blobs.bp)

    from webapp import cli, errors

    cli.register(app)
    errors.register(app)

    @app.template_global()
    def static_url(filename: str) -> str:
        """Return a static file's URL under this build (cached for good; old builds' files stay servable)."""
        return url_for("pwa.versioned_static", build=app.config["BUILD"], filename=filename)

    from webapp import areas, forms

    def can(capability: Can) -> bool:
        """Say whether the signed-in person may do something (templates: `can(Can.REVIEW)`)."""
        return current_user.is_authenticated and may(current_user.role, capability)

    app.jinja_env.globals.update(
        Can=Can, can=can, limits=forms.limits, field_message=forms.field_message, event_label=areas.event_label,
        event_template=areas.event_template, flag_name=areas.flag_name, flag_template=areas.flag_template,
        with_areas=lambda strings: {**strings, **{f"event:{name}": areas.event_label(name)
                                                  for name, kind in areas.KINDS.items() if kind.on_device},
                                    # The flags a device shows: why the server kept a record in quarantine.
                                    **{f"flag:{f.code}": str(f.label) for f in areas.SYNC.flags}})

    @app.context_processor
    def inject_globals():
        return {"build": app.config["BUILD"], "device_build": app.config["DEVICE_BUILD"],
                "current_locale": str(get_locale()),
                "role_name": names.role_name, "local_name": names.local_name, "step_name": names.step_name,
                "verdict_name": names.verdict_name, "slip_statuses": names.SLIP_STATUSES,
                "signature_states": names.SIGNATURE_STATES, "verifications": names.VERIFICATIONS,
                "kind_names": names.LOCATION_KINDS, "outcome_names": names.COUNT_OUTCOMES,
                "transfer_kind_names": names.TRANSFER_KINDS, "inspection_kind_names": names.INSPECTION_KINDS,
                "inspection_statuses": names.INSPECTION_STATUSES, "defect_classes": names.DEFECT_CLASSES,
                "severity_names": names.SEVERITIES}

    device_strings_by_locale: dict[str, Markup] = {}

    @app.template_global()
    def device_strings() -> Markup:
        """Return the strings device-side code shows, in the reader's language (rendered once per language)."""
        locale = str(get_locale())
        found = device_strings_by_locale.get(locale)
        if found is None:
            found = device_strings_by_locale[locale] = Markup(render_template("_i18n.html"))
        return found

    signer_strings_by_locale: dict[str, Markup] = {}

    @app.template_global()
    def signer_strings() -> Markup:
        """Return the signer panel's strings once a page (the first panel brings them), in the reader's language."""
        if g.get("signer_strings_shown"):
            return Markup("")
        g.signer_strings_shown = True
        locale = str(get_locale())
        found = signer_strings_by_locale.get(locale)
        if found is None:
            found = signer_strings_by_locale[locale] = Markup(render_template("signing/_signer_strings.html"))
        return found

    @app.template_global()
    def person_name(user_id) -> str:
        """Return a person's display name by id (for records that name a person by id)."""
        from webapp.models import User

        person = db.session.get(User, user_id) if isinstance(user_id, int) else None
        return person.display_name if person is not None else "—"

    @app.template_global()
    def signature_reason(reason: str) -> str:
        """Say in the reader's language why a signature was not verified."""
        from webapp.services.signers import reason_text

        return reason_text(reason)

    @app.template_filter("when")
    def when(value) -> str:
        """Format a datetime or epoch milliseconds in the plant's time zone and the user's language."""
        if value is None:
            return ""
        if isinstance(value, int):
            value = from_ms(value)
        return format_datetime(value, "short")

    @app.template_filter("iso_when")
    def iso_when(value: str | None) -> str:
        """Format an ISO 8601 time (as the API gives it) like `when`."""
        return when(datetime.fromisoformat(value)) if value else ""

    @app.template_filter("ago")
    def ago(value) -> str:
        """Say how long ago a datetime was, in the user's language."""
        if value is None:
            return ""
        return format_timedelta(value - utcnow(), add_direction=True)

    return app
