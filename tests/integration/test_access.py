"""Every route × every role: who may and who may not (the table is written by hand on purpose)."""

import pytest

from webapp.domain.roles import ALL_ROLES

OFFICE = {"office", "director", "follower", "accountant", "admin"}
COUNTERS = {"clerk", "inspector", "keeper", "director", "admin"}
MOVERS = {"clerk", "keeper", "admin"}
EVERYONE = set(ALL_ROLES)
REVIEWERS = {"office", "director", "admin"}
ADMINS = {"admin"}
PUBLIC = "public"
EXPLAINERS = {"operator", "inspector", "director", "admin"}
REFUSERS = {"clerk", "receiver", "director", "admin"}
SLIP = "/slips/00000000-0000-4000-8000-000000000000"
STOCKTAKERS = {"clerk", "keeper", "director", "admin"}
STOCKTAKE = "/stocktakes/00000000-0000-4000-8000-000000000000"

WAREHOUSE = {"office", "clerk", "keeper", "accountant", "director", "inspector", "receiver", "admin"}
SLIP_FILLERS = {"office", "clerk", "keeper", "accountant", "director", "admin"}
SLIP_VOIDERS = {"office", "keeper", "accountant", "director", "admin"}
WH_SLIP = "/warehouse/slips/00000000-0000-4000-8000-000000000000"
INSPECTORS = {"inspector", "follower", "director", "admin"}
PACKERS = {"clerk", "receiver", "keeper", "inspector", "follower", "director", "admin"}
INSPECTION = "/inspections/00000000-0000-4000-8000-000000000000"
REPORT_READERS = {"inspector", "follower", "director", "admin", "office", "accountant"}

# endpoint: (method, path, who may use it)
TABLE = {
    "auth.login": ("GET", "/login", PUBLIC),
    "auth.language": ("POST", "/language", PUBLIC),
    "auth.logout": ("POST", "/logout", EVERYONE),
    "floor.home": ("GET", "/", EVERYONE),
    "floor.scan": ("GET", "/scan", EVERYONE),
    "floor.bin_page": ("GET", "/b/{code}", EVERYONE),
    "counting.count_bin": ("POST", "/b/{code}/count", COUNTERS),
    "moving.move_bin": ("POST", "/b/{code}/move", MOVERS),
    "transfers.open_slip": ("POST", "/b/{code}/transfer", MOVERS),
    "transfers.open_page": ("GET", "/b/{code}/transfer", MOVERS),
    "transfers.slip_page": ("GET", SLIP, EVERYONE),
    "transfers.slip_pdf_page": ("GET", SLIP + ".pdf", EVERYONE),
    "transfers.explain": ("POST", SLIP + "/explain", EXPLAINERS),
    "transfers.write_off": ("POST", SLIP + "/write-off", REVIEWERS),
    "transfers.refuse": ("POST", SLIP + "/refuse", REFUSERS),
    "transfers.office_slips": ("GET", "/office/slips", OFFICE),
    "transfers.my_slips": ("GET", "/slips/mine", EVERYONE),
    "stocktaking.floor_list": ("GET", "/stocktakes", STOCKTAKERS),
    "stocktaking.start": ("POST", "/stocktakes", STOCKTAKERS),
    "stocktaking.stocktake_page": ("GET", STOCKTAKE, STOCKTAKERS),
    "stocktaking.count": ("POST", STOCKTAKE + "/count", STOCKTAKERS),
    "stocktaking.close": ("POST", STOCKTAKE + "/close", STOCKTAKERS),
    "stocktaking.office_list": ("GET", "/office/stocktakes", OFFICE),
    "stocktaking.report": ("GET", "/office" + STOCKTAKE, OFFICE),
    "stocktaking.approve": ("POST", "/office" + STOCKTAKE + "/approve", REVIEWERS),
    "api.transfer": ("GET", "/api/v1/transfers/00000000-0000-4000-8000-000000000000", EVERYONE),
    "warehouse.index": ("GET", "/warehouse/", WAREHOUSE),
    "warehouse.new_slip": ("GET", "/warehouse/new", SLIP_FILLERS),
    "warehouse.open_slip": ("POST", "/warehouse/slips", SLIP_FILLERS),
    "warehouse.slip_page": ("GET", WH_SLIP, WAREHOUSE),
    "warehouse.slip_pdf": ("GET", WH_SLIP + ".pdf", WAREHOUSE),
    "warehouse.sign": ("POST", WH_SLIP + "/sign", WAREHOUSE),
    "warehouse.void": ("POST", WH_SLIP + "/void", SLIP_VOIDERS),
    "warehouse.book_page": ("GET", "/warehouse/books/1", WAREHOUSE),
    "warehouse.outsourced": ("GET", "/warehouse/outsourced", WAREHOUSE),
    "warehouse.api_slip": ("GET", "/api/v1/warehouse-slips/00000000-0000-4000-8000-000000000000", WAREHOUSE),
    "inspections.due": ("GET", "/inspections", INSPECTORS),
    "inspections.new": ("GET", "/inspections/new?kind=final&order=WO-1", INSPECTORS),
    "inspections.screen": ("GET", INSPECTION, INSPECTORS),
    "inspections.packing": ("POST", "/orders/WO-1/packing", PACKERS),
    "inspection_reports.report": ("GET", INSPECTION + "/report", REPORT_READERS),
    "inspection_reports.report_pdf_page": ("GET", INSPECTION + "/report.pdf", REPORT_READERS),
    "inspection_reports.office_list": ("GET", "/office/inspections", OFFICE),
    "inspection_reports.series": ("GET", "/office/inspections/series", OFFICE),
    "inspection_reports.update_series": ("POST", "/office/inspections/series", REVIEWERS),
    "inspection_reports.defect_library": ("GET", "/products/HS-01/defects", EVERYONE),
    "inspection_reports.orders_quality": ("GET", "/office/orders/quality", OFFICE),
    "quality_admin.page": ("GET", "/admin/quality", {"director", "admin"}),
    "quality_admin.save_settings": ("POST", "/admin/quality/settings", {"director", "admin"}),
    "quality_admin.save_plan": ("POST", "/admin/quality/plans", {"director", "admin"}),
    "quality_admin.delete_plan": ("POST", "/admin/quality/plans/1/delete", {"director", "admin"}),
    "quality_admin.save_checklist": ("POST", "/admin/quality/checklists", {"director", "admin"}),
    "quality_admin.save_defect": ("POST", "/admin/quality/defects", {"director", "admin"}),
    "office.dashboard": ("GET", "/office/", OFFICE),
    "office.bins": ("GET", "/office/bins", OFFICE),
    "office.events": ("GET", "/office/events", OFFICE),
    "office.review_queue": ("GET", "/office/review", OFFICE),
    "office.resolve": ("POST", "/office/review/1/resolve", REVIEWERS),
    "office.import_outbox": ("GET", "/office/import", REVIEWERS),
    "admin.device_list": ("GET", "/admin/devices", ADMINS),
    "admin.people": ("GET", "/admin/people", ADMINS),
    "admin.issue_badge": ("POST", "/admin/people/1/badge", ADMINS),
    "admin.badge_card": ("GET", "/admin/people/1/badge.pdf", ADMINS),
    "admin.revoke_badge": ("POST", "/admin/people/1/badge/revoke", ADMINS),
    "admin.clear_pin": ("POST", "/admin/people/1/pin/clear", ADMINS),
    "account.pin": ("GET", "/me/pin", EVERYONE),
    "api.check_signature": ("POST", "/api/v1/signatures/check", EVERYONE),
    "admin.revoke_device": ("POST", "/admin/devices/00000000-0000-0000-0000-000000000000/revoke", ADMINS),
    "labels.index": ("GET", "/admin/labels", ADMINS),
    "labels.preview": ("GET", "/admin/labels/preview.png", ADMINS),
    "labels.print_labels": ("POST", "/admin/labels/print", ADMINS),
    "labels.replace": ("POST", "/admin/labels/replace", ADMINS),
    "labels.retire": ("POST", "/admin/labels/retire", ADMINS),
    "pwa.healthz": ("GET", "/healthz", PUBLIC),
    "pwa.manifest": ("GET", "/manifest.webmanifest", PUBLIC),
    "pwa.favicon": ("GET", "/favicon.ico", PUBLIC),
    "pwa.service_worker": ("GET", "/sw.js", PUBLIC),
    "pwa.offline": ("GET", "/offline", PUBLIC),
    "pwa.offline_bin": ("GET", "/offline/bin", PUBLIC),
    "pwa.offline_slip": ("GET", "/offline/slip", PUBLIC),
    "pwa.offline_scan": ("GET", "/offline/scan", PUBLIC),
    "pwa.offline_inspection": ("GET", "/offline/inspection", PUBLIC),
    "pwa.sync_panel": ("GET", "/sync", PUBLIC),
    "api.register_device": ("POST", "/api/v1/devices", EVERYONE),
    "api.push": ("POST", "/api/v1/sync/push", EVERYONE),
    "api.pull": ("GET", "/api/v1/sync/pull", EVERYONE),
    "api.events": ("GET", "/api/v1/events", OFFICE),
    "api.openapi": ("GET", "/api/v1/openapi.json", PUBLIC),
    "blobs.put_blob": ("PUT", "/api/v1/blobs/" + "0" * 64, EVERYONE),
    "blobs.patch_blob": ("PATCH", "/api/v1/blobs/" + "0" * 64, EVERYONE),
    "blobs.head_blob": ("HEAD", "/api/v1/blobs/" + "0" * 64, EVERYONE),
    "blobs.get_blob": ("GET", "/api/v1/blobs/" + "0" * 64, EVERYONE),
    "static": ("GET", "/static/css/app.css", PUBLIC),
    "pwa.versioned_static": ("GET", "/static/v/0123456789ab/css/app.css", PUBLIC),
}


def test_the_table_covers_every_route(app):
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(TABLE)


def _call(client, auth, method, path, code):
    path = path.format(code=code)
    if method == "GET":
        return client.get(path)
    token = auth.csrf("/login")
    if method in ("PUT", "PATCH", "HEAD"):
        return client.open(path, method=method, data=b"", headers={"X-CSRFToken": token})
    if path.startswith("/api/"):
        return client.post(path, json={"events": []}, headers={"X-CSRFToken": token})
    return client.post(path, data={"csrf_token": token, "quantity": "5", "locale": "en"})


def _denied(response) -> bool:
    return response.status_code in (401, 403) or (
        response.status_code in (302, 303) and "/login" in response.headers.get("Location", "")
        and "next=" in response.headers.get("Location", ""))


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_each_role_reaches_exactly_its_routes(role, client, auth, make_user, plant):
    user = make_user(role)
    assert auth.login(user.username).status_code == 303
    wrong = []
    for endpoint, (method, path, allowed) in TABLE.items():
        if endpoint == "auth.logout":
            continue  # signing out would end the walk; checked below
        response = _call(client, auth, method, path, plant["codes"][0])
        response.close()
        may = allowed == PUBLIC or role in allowed
        if _denied(response) == may:
            verdict = "should be allowed" if may else "should be refused"
            wrong.append(f"{method} {path}: {response.status_code} ({verdict})")
    assert not wrong, "\n".join(wrong)
    assert _call(client, auth, "POST", "/logout", "").status_code == 303


def test_without_signing_in_only_public_routes_open(client, auth, plant):
    wrong = []
    for method, path, allowed in TABLE.values():
        response = _call(client, auth, method, path, plant["codes"][0])
        response.close()
        if _denied(response) == (allowed == PUBLIC):
            wrong.append(f"{method} {path}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_api_refusals_are_json_and_translated(client):
    response = client.get("/api/v1/events", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized" and response.json["message"] == "请先登录。"
