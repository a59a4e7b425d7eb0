"""Authorisation on every route: each view declares who may use it; undeclared views are closed."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

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

