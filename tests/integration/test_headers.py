"""What every response tells the browser: the Content-Security-Policy, no framing, no sniffing, the
referrer; cookies Secure over HTTPS (directly or behind a trusted proxy); no inline style or script
in any template for the policy to block."""

import re
from pathlib import Path

from flask import Response, session

from webapp.config import TestConfig

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: sources}."""
    directives = [part.split() for part in response.headers["Content-Security-Policy"].split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


def assert_protected(response) -> None:
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]  # the QR decoder's WebAssembly, no eval
    assert csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["connect-src"] == csp["worker-src"] == csp["media-src"] == ["'self'"]
    assert csp["frame-ancestors"] == csp["object-src"] == csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_kind_of_response_carries_the_policy_and_may_not_be_framed(app, client, auth, make_user):
    sign_in_page = client.get("/login")
    assert_protected(sign_in_page)
    worker_url = re.search(r'src="([^"]+/js/app\.js)"', sign_in_page.text).group(1).replace(
        "js/app.js", "js/scan/decoder-worker.js")
    with client.get(worker_url) as worker:  # a worker's policy is its own script's
        assert worker.status_code == 200
        assert_protected(worker)
    with client.get("/sw.js") as service_worker:
        assert_protected(service_worker)
    assert_protected(client.get("/no-such-page", headers={"Sec-Fetch-Dest": "document"}))
    assert_protected(client.get("/healthz"))
    assert auth.login(make_user("admin").username).status_code == 303
    assert_protected(client.get("/admin/devices"))  # the revoke forms
    assert_protected(client.get("/admin/labels"))
    assert_protected(client.get("/api/v1/sync/pull"))


def test_a_label_pdf_may_not_be_framed_and_keeps_the_browsers_pdf_viewer_working(app, client, auth, make_user,
                                                                                 plant):
    app.config["PUBLIC_URL"] = "https://shopfloor.test"
    assert auth.login(make_user("admin").username).status_code == 303
    token = auth.csrf("/admin/labels")
    pdf = client.post("/admin/labels/print", data={"csrf_token": token, "count": "", "codes": plant["codes"][0],
                                                   "workshop": "", "bin_type": "", "layout": "a4-24",
                                                   "format": "pdf"})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    # Chromium draws a PDF in a page of its own with an <embed> and inline styles: only framing is refused.
    assert policy(pdf) == {"frame-ancestors": ["'none'"]}
    assert pdf.headers["X-Frame-Options"] == "DENY" and pdf.headers["X-Content-Type-Options"] == "nosniff"


def test_no_template_has_inline_style_or_script_and_htmx_adds_no_style_of_its_own(client):
    inline = re.compile(r"""\sstyle\s*=|<style|\son[a-z]+\s*=\s*["']|javascript:""", re.IGNORECASE)
    scripts = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)}" for m in (*inline.finditer(text),
                                                                          *scripts.finditer(text))]
    assert found == []
    page = client.get("/login").text
    config = re.search(r"""<meta name="htmx-config" content='([^']+)'>""", page).group(1)
    assert '"includeIndicatorStyles": false' in config and '"allowEval": false' in config


def session_cookie(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))


def secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";")[1:])


def sign_in_over(client, make_user, base_url: str, **headers):
    user = make_user("clerk")
    headers.setdefault("Referer", f"{base_url}/login")  # Flask-WTF checks it on HTTPS; browsers send it
    page = client.get("/login", base_url=base_url, headers=headers)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    signed_in = client.post("/login", base_url=base_url, headers=headers,
                            data={"username": user.username, "password": "pw", "csrf_token": token})
    assert signed_in.status_code == 303
    return page, signed_in


def test_cookies_are_secure_over_https_and_plain_http_on_localhost_still_works(app, make_user):
    https = app.test_client()
    page, signed_in = sign_in_over(https, make_user, "https://localhost")
    assert secure(session_cookie(page)) and secure(session_cookie(signed_in))
    assert https.get("/scan", base_url="https://localhost").status_code == 200

    http = app.test_client()
    page, signed_in = sign_in_over(http, make_user, "http://127.0.0.1")
    assert not secure(session_cookie(page)) and not secure(session_cookie(signed_in))
    assert http.get("/scan", base_url="http://127.0.0.1").status_code == 200


def test_behind_a_trusted_proxy_or_when_told_cookies_are_secure(app, make_app, tmp_path, make_user):
    # What nginx passes on; the browser's address bar (and so its Referer) says https.
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.7", "Referer": "https://127.0.0.1/login"}
    for hops, always, expected in [(1, False, True), (0, False, False), (0, True, True)]:
        config = TestConfig(database_url=app.config["SQLALCHEMY_DATABASE_URI"], instance=tmp_path)
        config.PROXY_HOPS, config.SESSION_COOKIE_SECURE = hops, always
        page, signed_in = sign_in_over(make_app(config).test_client(), make_user, "http://127.0.0.1", **forwarded)
        assert secure(session_cookie(page)) is expected, (hops, always)
        assert secure(session_cookie(signed_in)) is expected, (hops, always)


def test_every_cookie_set_over_https_is_secure_not_only_the_session(app):
    with app.test_request_context("/", base_url="https://localhost"):
        session["seen"] = True
        response = Response()
        response.set_cookie("remember_token", "x", httponly=True)
        response.set_cookie("already", "y", secure=True)
        app.session_interface.save_session(app, session, response)
        cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 3 and all(secure(cookie) for cookie in cookies)
    assert sum(part.strip().lower() == "secure" for part in cookies[1].split(";")) == 1  # not twice
