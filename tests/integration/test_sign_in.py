"""Sign-in: credentials, landing pages, a shift-long session, sign-out, rate limit, safe redirects."""

import re

from webapp.config import TestConfig


def test_floor_people_land_on_scan_and_office_people_on_the_office(client, auth, make_user):
    clerk, office = make_user("clerk"), make_user("office")
    assert auth.login(clerk.username).headers["Location"] == "/scan"
    auth.logout()
    assert auth.login(office.username).headers["Location"] == "/office/"


def test_wrong_password_is_refused_with_a_message(client, auth, make_user):
    user = make_user("clerk")
    response = auth.login(user.username, "nope")
    assert response.status_code == 422
    assert "Wrong username or password." in response.text
    assert client.get("/scan").status_code == 302


def test_unknown_user_and_deactivated_user_cannot_sign_in(app, client, auth, make_user):
    from webapp.extensions import db
    from webapp.models import User

    user = make_user("clerk")
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert auth.login(user.username).status_code == 422
    assert auth.login("nobody").status_code == 422


def test_the_session_lasts_a_shift(client, auth, make_user):
    user = make_user("clerk")
    auth.login(user.username)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.expires is not None
    hours = (cookie.expires.timestamp() - __import__("time").time()) / 3600
    assert 11.9 < hours <= 12.0


def test_sign_out_ends_the_session(client, auth, make_user):
    user = make_user("clerk")
    auth.login(user.username)
    assert client.get("/scan").status_code == 200
    assert auth.logout().status_code == 303
    assert client.get("/scan").status_code == 302


def test_next_only_goes_to_this_site(client, auth, make_user, plant):
    user = make_user("clerk")
    token = auth.csrf()
    inside = client.post(f"/login?next=/b/{plant['codes'][0]}",
                         data={"username": user.username, "password": "pw", "csrf_token": token})
    assert inside.headers["Location"] == f"/b/{plant['codes'][0]}"
    auth.logout()
    outside = client.post("/login?next=https://evil.example/", data={"username": user.username, "password": "pw",
                                                                      "csrf_token": auth.csrf()})
    assert outside.headers["Location"] == "/scan"


def test_sign_in_is_rate_limited(migrated, tmp_path, make_app):
    config = TestConfig(database_url=migrated if migrated.startswith("postgres") else None, instance=tmp_path)
    if not migrated.startswith("postgres"):
        import shutil

        shutil.copy(migrated.removeprefix("sqlite:///"), tmp_path / "rl.sqlite3")
        config.SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'rl.sqlite3'}"
    config.LOGIN_RATE_LIMIT = "3 per minute"
    app = make_app(config)
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    codes = [client.post("/login", data={"username": "x", "password": "y", "csrf_token": token}).status_code
             for _ in range(4)]
    assert codes == [422, 422, 422, 429]
    assert "Too many sign-in attempts" in client.post("/login", data={"username": "x", "password": "y",
                                                                       "csrf_token": token}).text


def test_what_the_browser_fetches_by_itself_never_replaces_a_sign_in_forms_session(app, make_user):
    """A browser asks for /favicon.ico (or an image) for a page before it has the session cookie.
    Answering with the HTML error page started a session of its own, whose cookie, arriving after
    the sign-in page's, got the sign-in refused as "Form expired" (seen in the browser suite)."""
    import re

    make_user("clerk", username="late-icon")
    browser = app.test_client()
    form = browser.get("/login", headers={"Sec-Fetch-Dest": "document"}).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    # The icon requests left before the sign-in page's cookie existed: they carry none.
    for path in ("/favicon.ico", "/apple-touch-icon.png"):
        with app.test_client().get(path, headers={"Sec-Fetch-Dest": "image", "Accept": "image/*"}) as late:
            assert late.status_code in (200, 404)
            assert "Set-Cookie" not in late.headers  # nothing to replace the form's session with
    signed_in = browser.post("/login", data={"username": "late-icon", "password": "pw", "csrf_token": token})
    assert signed_in.status_code == 303


def test_a_wrong_address_still_gets_the_translated_page(app):
    page = app.test_client().get("/no-such-page", headers={"Sec-Fetch-Dest": "document", "Accept": "text/html"})
    assert page.status_code == 404 and "There is nothing at this address." in page.text
    with app.test_client().get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/png"
