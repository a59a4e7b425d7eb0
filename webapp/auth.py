"""Authorisation on every route: each view declares who may use it; undeclared views are closed."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import validate_csrf

from webapp.domain.roles import Can, may


def public(view: Callable) -> Callable:
    """Mark a view as open to anyone, signed in or not."""
    view._public = True  # type: ignore[attr-defined]
    return view


def requires(capability: Can) -> Callable[[Callable], Callable]:
    """Let only users whose role has `capability` use this view."""

    def mark(view: Callable) -> Callable:
        view._capability = capability  # type: ignore[attr-defined]
        return view

    return mark


def api_user():
    """Return the user of an API call (device token or session), or None."""
    return getattr(g, "api_user", None) or (current_user if current_user.is_authenticated else None)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _deny(status: int):
    if _wants_json():
        message = _("Sign in first.") if status == 401 else _("Your role may not do this.")
        response = jsonify(error="unauthorized" if status == 401 else "forbidden", message=message)
        response.status_code = status
        abort(response)
    if status == 401:
        abort(redirect(url_for("auth.login", next=request.full_path.rstrip("?"))))
    abort(403)


def check_access() -> None:
    """Before every request: allow public views, require sign-in and the view's capability."""
    if request.endpoint is None:
        return  # 404 follows
    view = current_app.view_functions.get(request.endpoint)
    if request.endpoint == "static" or getattr(view, "_public", False):
        return
    capability = getattr(view, "_capability", None)
    user = api_user()
    if user is None:
        _deny(401)
    if capability is None or not may(user.role, capability):
        _deny(403)


def view_capabilities(app) -> dict[str, Can | str]:
    """Map every endpoint to its capability or 'public' (for the route × role test)."""
    result: dict[str, Can | str] = {}
    for endpoint, view in app.view_functions.items():
        if endpoint == "static" or getattr(view, "_public", False):
            result[endpoint] = "public"
        else:
            result[endpoint] = getattr(view, "_capability", "closed")
    return result



def json_error(status: int, code: str, message: str, **extra):
    """Return a JSON error the device can act on."""
    response = jsonify(error=code, message=message, **extra)
    response.status_code = status
    return response


def authenticate_api():
    """Before API calls (and before `check_access`): accept a device's bearer token, or the session
    cookie with an X-CSRFToken header."""
    from webapp.services import devices

    if not request.path.startswith("/api/"):
        return None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        try:
            found = devices.device_for_token(header[7:].strip())
        except devices.DeviceRevoked:
            return json_error(403, "device_revoked", _("This device was revoked. Its records stay on it: "
                                                       "export them and give the file to the office."))
        if found is None:
            return json_error(401, "sign_in_again",
                              _("Sign in again to keep syncing. Nothing on this device is lost."))
        g.device, g.api_user = found
        return None
    if current_user.is_authenticated and request.method not in ("GET", "HEAD", "OPTIONS"):
        try:
            validate_csrf(request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token"))
        except Exception:  # flask_wtf raises ValidationError; any failure is a refusal
            return json_error(400, "csrf", _("Missing or expired CSRF token. Reload the page."))
    return None
