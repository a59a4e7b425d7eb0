"""What the browser is told to enforce: response headers, Secure cookies on HTTPS, trusted proxies."""

from __future__ import annotations

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

# Every page, script and worker: only our own files. The app has no inline script or style
# (the i18n <script type="application/json"> is data, never run). 'wasm-unsafe-eval' lets the
# QR decoder worker compile the vendored ZXing .wasm (it allows WebAssembly, not eval). Photos
# are read through blob: URLs; the camera preview is a MediaStream (srcObject), not a URL.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Chromium shows a PDF in a page of its own (an <embed> with inline styles) that the policy
# above would block: a PDF only may not be framed.
PDF_POLICY = "frame-ancestors 'none'"

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_headers(response: Response) -> Response:
    """Add the security headers to any response (a view may set its own first)."""
    policy = PDF_POLICY if response.mimetype == "application/pdf" else CONTENT_SECURITY_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _mark_secure(response: Response) -> None:
    """Add `Secure` to every cookie the response sets without it."""
    cookies = response.headers.getlist("Set-Cookie")
    if not any(_insecure(cookie) for cookie in cookies):
        return
    response.headers.remove("Set-Cookie")
    for cookie in cookies:
        response.headers.add("Set-Cookie", f"{cookie}; Secure" if _insecure(cookie) else cookie)


def _insecure(cookie: str) -> bool:
    return not any(part.strip().lower() == "secure" for part in cookie.split(";")[1:])


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with cookies `Secure` whenever the request came over HTTPS.

    HTTPS is `request.is_secure`: gunicorn's own TLS (`make run`'s LAN server), or X-Forwarded-Proto
    from a trusted proxy (PROXY_HOPS). SESSION_COOKIE_SECURE=1 makes them Secure on plain HTTP too;
    without it plain-HTTP localhost keeps working. The session is saved after every after_request
    hook, so this also marks any cookie those hooks or the view set (Flask-Login's, say).
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)

    def save_session(self, app: Flask, session, response: Response) -> None:
        super().save_session(app, session, response)
        if self.get_cookie_secure(app):
            _mark_secure(response)


def install(app: Flask) -> None:
    """Trust PROXY_HOPS proxies, make cookies Secure on HTTPS and add the headers to every response."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops < 0:
        raise ValueError("PROXY_HOPS must be 0 or more")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.session_interface = SessionInterface()
    app.after_request(add_headers)
