"""Sign-in: credentials, landing pages, a shift-long session, sign-out, limits on failures, CSRF rotation,
safe redirects."""

import re

import pytest

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


class Person:
    """A browser at one address (REMOTE_ADDR), or behind the proxy with an X-Forwarded-For."""

    def __init__(self, app, address: str = "127.0.0.1", forwarded_for: str | None = None):
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = address
        self.headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}

    def sign_in(self, username: str, password: str = "pw"):
        page = self.client.get("/login", headers=self.headers).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                                headers=self.headers)


@pytest.fixture
def limited(app, make_app, tmp_path):
    """limited(user=..., address=..., hops=...) → an app on the same database with those sign-in limits."""

    def make(user: str = "1000 per minute", address: str = "1000 per minute", hops: int = 0):
        config = TestConfig(database_url=app.config["SQLALCHEMY_DATABASE_URI"], instance=tmp_path)
        config.LOGIN_RATE_LIMIT_USER, config.LOGIN_RATE_LIMIT_ADDRESS, config.PROXY_HOPS = user, address, hops
        return make_app(config)

    return make


def test_only_failed_sign_ins_count(limited, make_user):
    user = make_user("clerk")
    person = Person(limited(user="2 per minute"))
    assert [person.sign_in(user.username).status_code for _ in range(5)] == [303] * 5  # successes are free
    assert [person.sign_in(user.username, "nope").status_code for _ in range(3)] == [422, 422, 429]
    assert person.sign_in(user.username).status_code == 429  # the name is held for the rest of the window


def test_a_username_is_limited_from_every_address(limited, make_user):
    alice, bob = make_user("clerk"), make_user("clerk")
    app = limited(user="2 per minute")
    assert Person(app, "10.0.0.1").sign_in(alice.username, "nope").status_code == 422
    assert Person(app, "10.0.0.2").sign_in(alice.username.upper(), "nope").status_code == 422  # same person
    assert Person(app, "10.0.0.3").sign_in(alice.username, "nope").status_code == 429
    assert Person(app, "10.0.0.3").sign_in(bob.username, "nope").status_code == 422


def test_one_password_tried_across_usernames_from_one_address_is_limited(limited, make_user):
    names = [make_user("clerk").username for _ in range(4)]
    app = limited(address="3 per minute")
    sprayer = Person(app, "10.0.0.1")
    assert [sprayer.sign_in(name, "Winter2026!").status_code for name in names] == [422, 422, 422, 429]
    assert Person(app, "10.0.0.2").sign_in(names[3], "Winter2026!").status_code == 422  # others still may


def test_a_limited_sign_in_says_how_long_to_wait_on_the_sign_in_page(limited, make_user):
    user = make_user("clerk")
    person = Person(limited(user="1 per hour"))
    assert person.sign_in(user.username, "nope").status_code == 422
    refused = person.sign_in(user.username, "nope")
    assert refused.status_code == 429
    assert 'name="password"' in refused.text  # the sign-in form again, not an error page
    minutes = int(re.search(r"Too many failed sign-ins. Try again in (\d+) minutes.", refused.text).group(1))
    assert 1 < minutes <= 60 and 60 < int(refused.headers["Retry-After"]) <= 3600


def test_without_proxy_hops_x_forwarded_for_is_ignored(limited, make_user):
    names = [make_user("clerk").username for _ in range(3)]
    app = limited(address="2 per minute", hops=0)
    codes = [Person(app, forwarded_for=f"10.0.0.{n}").sign_in(name, "nope").status_code
             for n, name in enumerate(names)]
    assert codes == [422, 422, 429]  # one address however the header names it


def test_behind_one_proxy_two_clients_are_limited_separately(limited, make_user):
    names = [make_user("clerk").username for _ in range(5)]
    app = limited(address="2 per minute", hops=1)  # nginx on 127.0.0.1 appends the client's address
    first = Person(app, forwarded_for="10.0.0.1")
    assert [first.sign_in(name, "nope").status_code for name in names[:2]] == [422, 422]
    assert first.sign_in(names[2], "nope").status_code == 429
    # A client's own X-Forwarded-For comes before the address nginx appends: it changes nothing.
    assert Person(app, forwarded_for="6.6.6.6, 10.0.0.1").sign_in(names[3], "nope").status_code == 429
    assert Person(app, forwarded_for="10.0.0.2").sign_in(names[4], "nope").status_code == 422


def test_signing_in_replaces_the_csrf_token_and_the_session_keeps_only_the_language(client, make_user):
    user = make_user("clerk")
    page = client.get("/login").text
    old = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/language", data={"locale": "zh_CN", "csrf_token": old}).status_code == 303
    with client.session_transaction() as session:
        session["planted"] = "by whoever handed this browser over"
    signed_in = client.post("/login", data={"username": user.username, "password": "pw", "csrf_token": old})
    assert signed_in.status_code == 303
    with client.session_transaction() as session:
        assert session.get("locale") == "zh_CN" and "planted" not in session
    assert client.post("/language", data={"locale": "en", "csrf_token": old}).status_code == 400
    scan = client.get("/scan")
    assert scan.status_code == 200 and 'lang="zh-CN"' in scan.text
    new = re.search(r'name="csrf-token" content="([^"]+)"', scan.text).group(1)
    assert new != old
    assert client.post("/language", data={"locale": "en", "csrf_token": new}).status_code == 303


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
