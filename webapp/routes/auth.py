"""Sign in, sign out and the language switch."""

from __future__ import annotations

import hashlib
import math
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from webapp.auth import public, requires
from webapp.domain.roles import Can, home_for
from webapp.extensions import limiter
from webapp.services import accounts, sessions

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Return `target` only if it stays on this site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _user_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_USER"]


def _address_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_ADDRESS"]


def _user_key() -> str:
    """The username tried, from any address (hashed: any text is a safe memcached or Redis key)."""
    name = request.form.get("username", "").strip().lower()
    return "user:" + hashlib.sha256(name.encode()).hexdigest()[:32]


def _address_key() -> str:
    """The client's address, across usernames (behind a proxy: set PROXY_HOPS, or all clients are one)."""
    return f"address:{request.remote_addr or '-'}"


def _failed(response) -> bool:
    """Only a wrong username or password counts: never a success (303) or a refused form (400)."""
    return response.status_code == 422


def _fresh_session() -> None:
    """Start the signed-in session from nothing but the chosen language (no session fixation).

    This drops the CSRF token of the sign-in page too (Flask-WTF keeps the raw token in the
    session and the signed one in `g`): a token seen before sign-in no longer posts anything.
    """
    locale = session.get("locale")
    session.clear()
    if locale is not None:
        session["locale"] = locale
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_user_limit, key_func=_user_key, methods=["POST"], deduct_when=_failed)
@limiter.limit(_address_limit, key_func=_address_key, methods=["POST"], deduct_when=_failed)
@public
def login():
    """Show the sign-in form; sign a person in for one shift."""
    error = None
    if request.method == "POST":
        user = accounts.authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            error = _("Wrong username or password.")
        else:
            sessions.end_current("replaced")  # someone signing in over an open session ends it first
            _fresh_session()
            session.permanent = True  # lasts a shift: PERMANENT_SESSION_LIFETIME
            login_user(user)
            sessions.begin(user)  # the server's record of this sign-in: sign-out ends it for real
            return redirect(_safe_next(request.args.get("next")) or url_for(home_for(user.role)), code=303)
    demo_users = accounts.demo_users() if accounts.demo_mode() else []
    status = 422 if error else 200
    return render_template("auth/login.html", error=error, demo_users=demo_users), status


@bp.errorhandler(429)
def too_many_sign_ins(exc):
    """A limited sign-in: the sign-in page again, saying how long to wait (Retry-After too)."""
    breached = limiter.current_limit
    reset_at = breached.window[0] if breached is not None and breached.breached else time.time() + 60
    seconds = max(1, math.ceil(reset_at - time.time()))
    minutes = math.ceil(seconds / 60)
    error = ngettext("Too many failed sign-ins. Try again in %(num)d minute.",
                     "Too many failed sign-ins. Try again in %(num)d minutes.", minutes)
    demo_users = accounts.demo_users() if accounts.demo_mode() else []
    page = render_template("auth/login.html", error=error, demo_users=demo_users)
    return page, 429, {"Retry-After": str(seconds)}


@bp.post("/logout")
@requires(Can.USE_FLOOR)
def logout():
    """Sign out; the device keeps its unsynced records for the next person."""
    sessions.end_current("signed_out")  # a copy of the cookie, and this browser's device token, stop working
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
