"""Sign in, sign out and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from webapp.auth import public, requires
from webapp.domain.roles import Can, home_for
from webapp.extensions import limiter
from webapp.services import accounts

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Return `target` only if it stays on this site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_key() -> str:
    return f"{request.remote_addr}|{request.form.get('username', '').strip().lower()}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_login_key, methods=["POST"])
@public
def login():
    """Show the sign-in form; sign a person in for one shift."""
    error = None
    if request.method == "POST":
        user = accounts.authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            error = _("Wrong username or password.")
        else:
            session.permanent = True  # lasts a shift: PERMANENT_SESSION_LIFETIME
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for(home_for(user.role)), code=303)
    demo_users = accounts.demo_users() if accounts.demo_mode() else []
    status = 422 if error else 200
    return render_template("auth/login.html", error=error, demo_users=demo_users), status


@bp.post("/logout")
@requires(Can.USE_FLOOR)
def logout():
    """Sign out; the device keeps its unsynced records for the next person."""
    logout_user()
    return redirect(url_for("auth.login"), code=303)


@bp.post("/language")
@public
def language():
    """Switch the interface language and go back."""
    choice = request.form.get("locale")
    if choice in current_app.config["LANGUAGES"]:
        session["locale"] = choice
        if current_user.is_authenticated:
            accounts.set_locale(current_user, choice)
    return redirect(_safe_next(request.form.get("next")) or url_for("floor.home"), code=303)
