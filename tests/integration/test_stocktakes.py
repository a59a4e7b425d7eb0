"""Stocktakes (`stocktake.*`, counts naming one): start, count, close, the variance report, approval;
counts that arrive after the close or name a stocktake the server does not have; who may do what."""

from __future__ import annotations

import re
import time
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from sync import schema
from webapp.domain.label_codes import mint
from webapp.extensions import db
from webapp.models import Bin, BinLabel, Count, Location, Stocktake
from webapp.services import stocktaking


@pytest.fixture
def area(app, plant):
    """The plant's three bins at L-OP10 (50 pieces each) and a fourth, B4, at L-OP20 with 30."""
    with app.app_context():
        other = db.session.execute(select(Location).where(Location.code == "L-OP20")).scalar_one()
        code = mint(4)
        b = Bin(code=code, quantity=30, location=other)
        db.session.add_all([b, BinLabel(code=code, bin=b)])
        db.session.commit()
    return {**plant, "elsewhere": code}


def count(device, code, quantity, stocktake_id, at=None):
    payload = {"bin_code": code, "quantity": quantity, "unit": "pcs"}
    if stocktake_id:
        payload["stocktake_id"] = stocktake_id
    event = device.event("bin.counted", payload, v=2)
    if at is not None:
        event["occurred_at"] = at
    return event


def start(device, location="L-OP10"):
    sid = str(uuid.uuid4())
    return sid, device.event("stocktake.started", {"stocktake_id": sid, "location": location})


def result(reply, i=0):
    assert reply.status_code == 200, reply.text
    return reply.json["results"][i]


def codes_of(found):
    return sorted(f["code"] for f in found["exceptions"])


def bins(app):
    with app.app_context():
        found = {b.code: (b.quantity, b.disputed) for b in db.session.execute(select(Bin)).scalars()}
        db.session.remove()
    return found


def stocktake_row(app, sid):
    with app.app_context():
        row = db.session.execute(select(Stocktake).where(Stocktake.stocktake_uuid == sid)).scalar_one()
        found = SimpleNamespace(id=row.id, status=row.status, location=row.location.code, expected=row.expected,
                                closed_at=row.closed_at, approved_at=row.approved_at, approved_by=row.approved_by)
        db.session.remove()
    return found


def view(app, sid):
    with app.test_request_context():
        found = stocktaking.stocktake_view(sid)
        db.session.remove()
    return found


def test_start_count_close_report_approve_sets_the_book(app, client, auth, make_user, area, signed_in_device):
    clerk = signed_in_device("clerk")
    a, b, c = area["codes"]
    x = area["elsewhere"]
    sid, started = start(clerk)
    assert result(clerk.push([started]))["status"] == "stored"
    row = stocktake_row(app, sid)
    assert row.status == "open" and row.location == "L-OP10"
    assert row.expected == [{"code": code, "quantity": 50} for code in sorted((a, b, c))]

    now = int(time.time() * 1000)
    # b: the later count in log order (48) comes first; the earlier one (47) arrives late. Last in the log wins.
    later, earlier = count(clerk, b, 48, sid, at=now + 2000), count(clerk, b, 47, sid, at=now + 1000)
    reply = clerk.push([count(clerk, a, 50, sid), later, earlier, count(clerk, x, 31, sid)])
    assert [r["status"] for r in reply.json["results"]] == ["stored"] * 4
    assert not any(f["code"] in ("stocktake_closed", "unknown_stocktake")
                   for r in reply.json["results"] for f in r["exceptions"])
    with app.app_context():
        linked = db.session.execute(select(Count.bin_code).where(Count.stocktake_id == row.id)).scalars().all()
        db.session.remove()
    assert sorted(linked) == sorted([a, b, b, x])

    progress = view(app, sid).progress
    assert (progress.done, progress.expected, progress.unexpected) == (2, 3, 1)

    assert result(clerk.push([clerk.event("stocktake.closed", {"stocktake_id": sid})]))["status"] == "stored"
    report = view(app, sid).report
    assert [line.code for line in report.matched] == [a]
    assert [(line.code, line.book, line.counted, line.delta) for line in report.differences] == [(b, 50, 48, -2)]
    assert [line.code for line in report.missing] == [c]
    assert [(line.code, line.counted) for line in report.unexpected] == [(x, 31)]

    assert bins(app)[b][1] is True  # 47 and 48 within two hours: disputed, until a recount or this approval
    # The statistician approves through the office page (no JavaScript): b and x as counted, c to 0.
    auth.login(make_user("office").username)
    page = client.get(f"/office/stocktakes/{sid}")
    assert page.status_code == 200 and 'data-stocktake-approve' in page.text
    assert re.search(rf'name="adjust" value="{b}" checked', page.text)  # proposed: the count
    assert not re.search(rf'name="adjust" value="{c}" checked', page.text)  # not scanned: the office decides
    reply = client.post(f"/office/stocktakes/{sid}/approve", data={
        "csrf_token": auth.csrf(f"/office/stocktakes/{sid}"), "adjust": [b, x, c],
        f"quantity-{b}": "48", f"quantity-{x}": "31", f"quantity-{c}": "0",
        "note": "Recounted with the keeper; C was scrapped last week."})
    assert reply.status_code == 303
    after = bins(app)
    assert after[b] == (48, False) and after[x] == (31, False) and after[c] == (0, False) and after[a][0] == 50
    row = stocktake_row(app, sid)
    assert row.status == "approved" and row.approved_at is not None
    shown = view(app, sid)
    assert shown.approved_by == "office person" and shown.approval["note"].startswith("Recounted")
    report_page = client.get(f"/office/stocktakes/{sid}").text
    assert "data-stocktake-approve" not in report_page and f'data-adjusted="{b}"' in report_page
    events = client.get("/office/events").text
    assert "Stocktake approved" in events
    with app.app_context():
        open_flags = db.session.execute(select(schema.exceptions.c.code).where(
            schema.exceptions.c.subject == f"bin:{b}", schema.exceptions.c.resolved_at.is_(None))).all()
        db.session.remove()
    assert open_flags == []  # the approval settled the dispute, with its note


def test_a_count_arriving_after_the_close_is_kept_flagged_and_leaves_the_report_alone(app, client, auth, make_user,
                                                                                     area, signed_in_device):
    clerk, late_phone = signed_in_device("clerk"), signed_in_device("keeper")
    a, b, _ = area["codes"]
    sid, started = start(clerk)
    clerk.push([started, count(clerk, a, 50, sid)])
    counted_before = late_phone.event("bin.counted", {"bin_code": b, "quantity": 44, "unit": "pcs",
                                                      "stocktake_id": sid}, v=2)  # counted offline, not sent yet
    clerk.push([clerk.event("stocktake.closed", {"stocktake_id": sid})])
    before = view(app, sid)

    late = result(late_phone.push([counted_before]))
    assert late["status"] == "stored" and codes_of(late) == ["stocktake_closed"]
    flag = late["exceptions"][0]
    assert flag["stocktake_id"] == sid and flag["counted_before_close"] is True and flag["bin_code"] == b
    with app.app_context():
        stored = db.session.execute(select(Count).where(Count.event_id == counted_before["id"])).scalar_one()
        assert stored.stocktake_id is None and stored.quantity == 44  # a count like any other
        db.session.remove()
    assert bins(app)[b][0] == 44  # the bin's quantity follows it, as every count's does
    after = view(app, sid)
    assert after.report == before.report and after.counted == before.counted
    assert [c["bin_code"] for c in after.late] == [b]

    auth.login(make_user("office").username)
    review = client.get("/office/review").text
    assert "Count for a stocktake already closed" in review
    assert "It was counted before the close and reached the server after it." in review
    report = client.get(f"/office/stocktakes/{sid}").text
    assert f'data-late-count="{counted_before["id"]}"' in report

    # A second close changes nothing and raises nothing.
    closed_at = stocktake_row(app, sid).closed_at
    again = result(clerk.push([clerk.event("stocktake.closed", {"stocktake_id": sid})]))
    assert again["status"] == "stored" and codes_of(again) == []
    assert stocktake_row(app, sid).closed_at == closed_at


def test_counts_before_the_close_in_one_push_belong_and_the_log_replayed_agrees(app, area, signed_in_device):
    from webapp.services.rebuild import rebuild_counts

    clerk = signed_in_device("clerk")
    a, b, c = area["codes"]
    sid, started = start(clerk)
    # One push: counts, the close, then a count after it (same device, later seq).
    reply = clerk.push([started, count(clerk, a, 50, sid), count(clerk, b, 49, sid),
                        clerk.event("stocktake.closed", {"stocktake_id": sid}), count(clerk, c, 50, sid)])
    assert [codes_of(r) for r in reply.json["results"]][-1] == ["stocktake_closed"]
    before = view(app, sid)
    assert sorted(before.counted) == sorted([a, b])
    with app.app_context():
        rebuild_counts()
        db.session.remove()
    assert view(app, sid).counted == before.counted  # replaying the log links the same counts


def test_a_count_for_an_unknown_stocktake_is_kept_and_flagged(app, area, signed_in_device):
    clerk = signed_in_device("clerk")
    code = area["codes"][0]
    nobody = str(uuid.uuid4())
    found = result(clerk.push([count(clerk, code, 12, nobody)]))
    assert found["status"] == "stored" and codes_of(found) == ["unknown_stocktake"]
    assert found["exceptions"][0]["stocktake_id"] == nobody
    with app.app_context():
        stored = db.session.execute(select(Count).where(Count.bin_code == code)).scalar_one()
        assert stored.stocktake_id is None and stored.quantity == 12
        db.session.remove()
    closing = result(clerk.push([clerk.event("stocktake.closed", {"stocktake_id": nobody})]))
    assert closing["status"] == "stored" and codes_of(closing) == ["unknown_stocktake"]


def test_what_the_spec_refuses_is_quarantined(area, signed_in_device):
    clerk = signed_in_device("clerk")
    bad_id = result(clerk.push([count(clerk, area["codes"][0], 3, "not-a-uuid")]))
    assert bad_id["status"] == "quarantined" and bad_id["exceptions"][0]["code"] == "invalid_payload"
    _, nowhere = start(clerk, location="NOWHERE")
    assert result(clerk.push([nowhere]))["exceptions"][0]["code"] == "invalid_payload"


def test_approving_a_stocktake_that_is_not_closed_changes_nothing(app, client, area, signed_in_device):
    clerk, office = signed_in_device("clerk"), signed_in_device("office")
    a = area["codes"][0]
    sid, started = start(clerk)
    clerk.push([started, count(clerk, a, 41, sid)])
    approval = office.event("stocktake.approved", {"stocktake_id": sid, "note": "too early",
                                                   "adjustments": [{"bin_code": a, "quantity": 7}]})
    found = result(office.push([approval]))
    assert found["status"] == "stored" and codes_of(found) == ["approval_not_applied"]
    assert bins(app)[a][0] == 41 and stocktake_row(app, sid).status == "open"
    assert "nothing was adjusted" in client.get("/office/review").text  # `client` is the office person too
    twice = office.event("stocktake.approved", {"stocktake_id": sid, "note": "x",
                                                "adjustments": [{"bin_code": a, "quantity": 1},
                                                                {"bin_code": a.lower(), "quantity": 2}]})
    assert result(office.push([twice]))["status"] == "quarantined"  # one bin twice


def test_who_may_record_what(area, signed_in_device):
    inspector, clerk = signed_in_device("inspector"), signed_in_device("clerk")
    sid, started = start(inspector)
    assert result(inspector.push([started]))["exceptions"][0]["code"] == "forbidden"
    sid, started = start(clerk)
    clerk.push([started, clerk.event("stocktake.closed", {"stocktake_id": sid})])
    approval = clerk.event("stocktake.approved", {"stocktake_id": sid, "note": "mine", "adjustments": []})
    assert result(clerk.push([approval]))["exceptions"][0]["code"] == "forbidden"
    # An inspector counts (samples), so a count naming a stocktake is theirs to make too.
    assert result(inspector.push([count(inspector, area["codes"][0], 5, sid)]))["status"] == "stored"


def test_without_javascript_a_clerk_starts_counts_and_closes(app, client, auth, make_user, area):
    auth.login(make_user("clerk").username)
    a, b, c = area["codes"]
    listing = client.get("/stocktakes")
    assert listing.status_code == 200 and 'value="L-OP10"' in listing.text
    sid = re.search(r'name="stocktake_id" value="([^"]+)"', listing.text).group(1)
    token = auth.csrf("/stocktakes")
    refused = client.post("/stocktakes", data={"csrf_token": token, "stocktake_id": sid, "location": ""})
    assert refused.status_code == 422 and 'data-error-for="location"' in refused.text
    started = client.post("/stocktakes", data={"csrf_token": token, "stocktake_id": sid, "location": "L-OP10"})
    assert started.status_code == 303 and started.headers["Location"].endswith(f"/stocktakes/{sid}")
    again = client.post("/stocktakes", data={"csrf_token": token, "stocktake_id": sid, "location": "L-OP10"})
    assert again.status_code == 303  # the same form twice: one stocktake
    with app.app_context():
        assert len(db.session.execute(select(Stocktake)).scalars().all()) == 1
        db.session.remove()

    page = client.get(f"/stocktakes/{sid}").text
    assert "data-stocktake=" in page and "data-stocktake-data" in page
    assert "0</span> / <span data-progress-expected>3" in page
    for code in (a, b, c):
        assert f'data-bin="{code}"' in page
    token = auth.csrf(f"/stocktakes/{sid}")
    wrong = client.post(f"/stocktakes/{sid}/count", data={"csrf_token": token, "bin_code": a[:-1] + "A",
                                                            "quantity": "-1"})
    assert wrong.status_code == 422
    assert 'data-error-for="bin_code"' in wrong.text and 'data-error-for="quantity"' in wrong.text
    # A label's URL (a hardware scanner types it) names the bin too.
    saved = client.post(f"/stocktakes/{sid}/count", data={"csrf_token": token, "bin_code": f"http://localhost/b/{a}",
                                                            "quantity": "50"})
    assert saved.status_code == 303
    client.post(f"/stocktakes/{sid}/count", data={"csrf_token": token, "bin_code": b.lower(), "quantity": "45"})
    page = client.get(f"/stocktakes/{sid}").text
    assert "2</span> / <span data-progress-expected>3" in page

    closed = client.post(f"/stocktakes/{sid}/close", data={"csrf_token": token})
    assert closed.status_code == 303
    report = client.get(f"/stocktakes/{sid}").text
    assert f'data-stocktake-report="{sid}"' in report
    assert f'data-line="{b}" data-kind="difference"' in report and f'data-line="{c}" data-kind="missing"' in report
    assert "data-stocktake-approve" not in report  # a clerk reads it; the statistician approves
    assert client.post(f"/office/stocktakes/{sid}/approve", data={"csrf_token": token, "note": "x"}).status_code == 403


def test_the_approval_form_says_what_is_wrong(client, auth, make_user, area, signed_in_device):
    clerk = signed_in_device("clerk")
    a, b, _ = area["codes"]
    sid, started = start(clerk)
    clerk.push([started, count(clerk, b, 45, sid), clerk.event("stocktake.closed", {"stocktake_id": sid})])
    auth.login(make_user("office").username)
    token = auth.csrf(f"/office/stocktakes/{sid}")
    reply = client.post(f"/office/stocktakes/{sid}/approve", data={
        "csrf_token": token, "adjust": [b], f"quantity-{b}": "lots", "note": ""})
    assert reply.status_code == 422
    assert f'data-error-for="quantity-{b}"' in reply.text and 'data-error-for="note"' in reply.text
    assert 'value="lots"' in reply.text  # what was typed
    unknown = client.get("/office/stocktakes/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404
    listing = client.get("/office/stocktakes").text
    assert f'data-stocktake-row="{sid}"' in listing


def test_a_stocktake_id_is_one_id_in_either_case(app, area, signed_in_device):
    clerk = signed_in_device("clerk")
    sid, started = start(clerk)
    started["payload"]["stocktake_id"] = sid.upper()
    clerk.push([started])
    found = result(clerk.push([count(clerk, area["codes"][0], 50, sid)]))
    assert found["status"] == "stored" and codes_of(found) == []
    assert view(app, sid.upper()).counted == {area["codes"][0]: 50}
