"""Pages people use without JavaScript: forms with CSRF, the bin page, the office, the PWA files."""

import re


def test_a_form_without_its_csrf_token_is_refused_and_saves_nothing(client, auth, make_user, plant):
    auth.login(make_user("clerk").username)
    code = plant["codes"][0]
    refused = client.post(f"/b/{code}/count", data={"quantity": "12"})
    assert refused.status_code == 400 and "Reload the page" in refused.text
    page = client.get(f"/b/{code}").text
    assert "<strong>12</strong>" not in page


def test_counting_without_javascript_goes_through_the_sync_path(client, auth, make_user, plant):
    user = make_user("clerk")
    auth.login(user.username)
    code = plant["codes"][0]
    token = auth.csrf(f"/b/{code}")
    saved = client.post(f"/b/{code}/count", data={"quantity": "48", "note": "top layer", "csrf_token": token})
    assert saved.status_code == 303
    page = client.get(f"/b/{code}").text
    assert "Count saved." in page and "<strong>48</strong>" in page and "top layer" in page
    again = client.post(f"/b/{code}/count", data={"quantity": "48", "csrf_token": token})
    assert again.status_code == 303  # the web device numbers its own events


def test_a_bad_quantity_is_a_translated_error(client, auth, make_user, plant):
    auth.login(make_user("clerk").username)
    code = plant["codes"][0]
    client.post("/language", data={"locale": "zh_CN", "csrf_token": auth.csrf("/scan")})
    reply = client.post(f"/b/{code}/count", data={"quantity": "lots", "csrf_token": auth.csrf(f"/b/{code}")})
    assert reply.status_code == 422 and 'data-error-for="quantity">请输入件数' in reply.text


def test_the_bin_page_says_where_a_bin_is_and_what_it_holds(client, auth, make_user, plant):
    auth.login(make_user("receiver").username)
    page = client.get(f"/b/{plant['codes'][0]}").text
    assert "Half-shaft" in page and "WO-1" in page and "Op 1" in page
    assert "data-offline-form" not in page  # receivers do not count


def test_an_unknown_bin_still_opens(client, auth, make_user):
    auth.login(make_user("clerk").username)
    page = client.get("/b/QQ123")
    assert page.status_code == 200 and "not known to the server" in page.text


def test_the_scan_screen_opens_a_typed_code_or_a_scanned_url(app, client, auth, make_user, plant):
    app.config["PUBLIC_URL"] = "https://plant.example"  # the address printed in labels
    auth.login(make_user("clerk").username)
    code = plant["codes"][0]
    assert client.get("/scan", query_string={"code": code.lower()}).headers["Location"] == f"/b/{code}"
    for url in (f"https://plant.example/b/{code}", f"http://localhost/b/{code}"):
        assert client.get("/scan", query_string={"code": url}).headers["Location"] == f"/b/{code}"
    foreign = client.get("/scan", query_string={"code": f"https://other.example/b/{code}"})
    assert foreign.status_code == 422 and "another server: other.example" in foreign.text
    mistyped = client.get("/scan", query_string={"code": code[:-1] + ("X" if code[-1] != "X" else "Y")})
    assert mistyped.status_code == 422 and "Check character wrong" in mistyped.text
    assert client.get("/scan", query_string={"code": "!!"}).status_code == 422


def test_office_pages_show_bins_and_records(client, auth, make_user, plant):
    auth.login(make_user("office").username)
    assert "The floor now" in client.get("/office/").text
    bins = client.get("/office/bins", query_string={"q": "wo-1"}).text
    assert all(code in bins for code in plant["codes"])
    fragment = client.get("/office/bins", query_string={"q": plant["codes"][0]}, headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="bin-rows">') and "HX-Request" in fragment.headers["Vary"]
    assert client.get("/office/events").status_code == 200


def test_chinese_for_chinese_browsers_and_a_switch(client, auth, make_user):
    zh = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "<h1>登录</h1>" in zh and 'lang="zh-CN"' in zh
    en = client.get("/login", headers={"Accept-Language": "en-GB"}).text
    assert "<h1>Sign in</h1>" in en
    auth.login(make_user("clerk").username)
    client.post("/language", data={"locale": "zh_CN", "csrf_token": auth.csrf("/scan")})
    assert "扫描周转箱" in client.get("/scan", headers={"Accept-Language": "en"}).text


def test_the_manifest_makes_the_app_installable(client):
    manifest = client.get("/manifest.webmanifest").json
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = {(i["sizes"], i["purpose"]) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200 and response.mimetype == "image/png"
        response.close()


def test_the_service_worker_is_never_http_cached_and_knows_its_build(client, app):
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.headers["Cache-Control"] == "no-cache"
    assert app.config["BUILD"] in worker.text and "__PRECACHE__" not in worker.text
    assert f"/static/v/{app.config['BUILD']}/js/app.js" in worker.text and "/offline/bin" in worker.text


def test_offline_pages_need_no_sign_in(client):
    assert client.get("/offline").status_code == 200
    shell = client.get("/offline/bin").text
    assert "data-offline-bin" in shell and "data-offline-form" in shell


def test_healthz_reports_the_database(client, tmp_path, make_app):
    assert client.get("/healthz").json["status"] == "ok"
    from webapp.config import TestConfig

    unreachable = make_app(TestConfig(database_url=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3",
                                        instance=tmp_path))
    reply = unreachable.test_client().get("/healthz")
    assert reply.status_code == 503 and reply.json["status"] == "unavailable"


def test_every_page_carries_the_csrf_meta_tag(client, auth, make_user):
    auth.login(make_user("clerk").username)
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', client.get("/scan").text)



def test_a_photo_posted_without_javascript_is_kept_with_the_count(client, auth, make_user, plant):
    import hashlib
    import io

    from PIL import Image

    auth.login(make_user("clerk").username)
    code = plant["codes"][0]
    photo = io.BytesIO()
    Image.new("RGB", (80, 60), (10, 120, 200)).save(photo, "JPEG")
    sha = hashlib.sha256(photo.getvalue()).hexdigest()
    reply = client.post(f"/b/{code}/count", content_type="multipart/form-data",
                        data={"quantity": "7", "csrf_token": auth.csrf(f"/b/{code}"),
                              "photo": (io.BytesIO(photo.getvalue()), "bin.jpg")})
    assert reply.status_code == 303
    assert client.head(f"/api/v1/blobs/{sha}").status_code == 200
    refused = client.post(f"/b/{code}/count", content_type="multipart/form-data",
                          data={"quantity": "7", "csrf_token": auth.csrf(f"/b/{code}"),
                                "photo": (io.BytesIO(b"not an image"), "bin.jpg")})
    assert refused.status_code == 422 and "not a readable" in refused.text
