"""Error pages and JSON errors, translated."""

from __future__ import annotations

from flask import Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError


def _json() -> bool:
    return request.path.startswith("/api/")


def _for_a_page() -> bool:
    """Whether a person's page asked (not an image, script or icon the browser fetched for one).

    Only pages get the HTML error page: it carries a CSRF token, and rendering one for a request
    without the session cookie starts a new session. A late answer to such a request (the
    browser's /favicon.ico for a page, say) would then replace the session of a sign-in form
    opened meanwhile, and that form would be refused.
    """
    dest = request.headers.get("Sec-Fetch-Dest")
    if dest is not None:
        return dest in ("document", "iframe", "empty")
    return not request.headers.get("Accept", "").startswith(("image/", "text/css", "font/"))


def register(app) -> None:
    """Answer errors with a page for people and JSON for devices."""

    def page(status: int, title: str, message: str):
        if _json():
            return jsonify(error=title, message=message), status
        if not _for_a_page():
            return Response(f"{status} {title}", status=status, mimetype="text/plain")
        return render_template("errors/error.html", status=status, title=title, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        current_app.logger.warning("CSRF refused %s %s: %s", request.method, request.path, exc.description)
        return page(400, _("Form expired"), _("The form was open too long or came from elsewhere. "
                                             "Reload the page and try again; nothing was saved."))

    @app.errorhandler(403)
    def forbidden(exc):
        return page(403, _("Not allowed"), _("Your role may not open this page."))

    @app.errorhandler(404)
    def not_found(exc):
        return page(404, _("Not found"), _("There is nothing at this address."))

    @app.errorhandler(413)
    def too_large(exc):
        # Werkzeug stops reading at the cap: MAX_CONTENT_LENGTH, or a view's own (webapp/routes/blobs.py).
        mib = (request.max_content_length or 0) >> 20
        if _json():
            from webapp.auth import json_error

            return json_error(413, "request_too_large",
                              _("The request is too large: at most %(mib)d MiB. Send less at once.", mib=mib),
                              limit=request.max_content_length)
        return page(413, _("Too large"), _("What you sent is larger than the server takes (at most %(mib)d MiB). "
                                           "Nothing was saved.", mib=mib))

    @app.errorhandler(429)
    def too_many(exc):
        return page(429, _("Too many attempts"), _("Too many sign-in attempts. Wait a minute and try again."))
