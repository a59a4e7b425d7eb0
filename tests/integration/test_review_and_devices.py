"""The office review queue (resolutions are events) and device management (revoke keeps the outbox)."""

import re

import pytest


@pytest.fixture
def disputed(signed_in_device, plant):
    """A bin counted twice with different numbers: one open count_discrepancy."""
    device = signed_in_device("clerk")
    code = plant["codes"][0]
    device.push([device.event("bin.counted", {"bin_code": code, "quantity": 50})])
    device.push([device.event("bin.counted", {"bin_code": code, "quantity": 46})])
    return device, code


def _exception_ids(html: str) -> list[str]:
    return re.findall(r'data-exception-id="(\d+)"', html)


def test_an_exception_waits_in_the_queue_and_closes_with_a_note(client, auth, make_user, disputed):
    _device, code = disputed
    auth.logout()
    office = make_user("office")
    auth.login(office.username)
    page = client.get("/office/review").text
    ids = _exception_ids(page)
    assert len(ids) == 1 and "Count differs from a recent count" in page and code in page
    empty = client.post(f"/office/review/{ids[0]}/resolve", data={"csrf_token": auth.csrf("/office/review")})
    # Without a note nothing is closed: the page says why, in place (422).
    assert empty.status_code == 422 and "Say what was decided" in empty.text
    assert _exception_ids(client.get("/office/review").text) == ids
    note = "Recounted with the team leader: 46."
    closed = client.post(f"/office/review/{ids[0]}/resolve",
                         data={"note": note, "csrf_token": auth.csrf("/office/review")})
    assert closed.status_code == 303
    assert _exception_ids(client.get("/office/review").text) == []
    everything = client.get("/office/review?all=1").text
    assert "Recounted with the team leader: 46." in everything and office.display_name in everything
    log = client.get("/api/v1/events", query_string={"limit": 5}).json["events"]
    resolution = [e for e in log if e["type"] == "exception.resolved"]
    assert len(resolution) == 1 and resolution[0]["payload"]["exception_id"] == int(ids[0])
    assert resolution[0]["actor"] == office.username


def test_a_follower_sees_the_queue_but_cannot_close(client, auth, make_user, disputed):
    auth.logout()
    auth.login(make_user("follower").username)
    page = client.get("/office/review").text
    assert len(_exception_ids(page)) == 1 and "Close with this note" not in page


def test_a_recount_settles_the_discrepancy(client, auth, make_user, disputed):
    device, code = disputed
    device.push([device.event("bin.counted", {"bin_code": code, "quantity": 46})])
    auth.logout()
    auth.login(make_user("office").username)
    assert _exception_ids(client.get("/office/review").text) == []


def test_a_quarantined_record_is_in_the_queue_with_what_the_device_sent(client, auth, make_user, signed_in_device):
    device = signed_in_device("clerk")
    device.push([device.event("bin.teleported", {"bin_code": "X1"})])
    auth.logout()
    auth.login(make_user("director").username)
    page = client.get("/office/review").text
    assert "Unknown kind of record" in page and "bin.teleported" in page


def test_admin_lists_and_revokes_a_device_and_its_token_stops(client, auth, make_user, signed_in_device, plant):
    device = signed_in_device("clerk")
    device.push([device.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 5})], pending=3)
    auth.logout()
    auth.login(make_user("admin").username)
    page = client.get("/admin/devices").text
    assert f'data-device-id="{device.id}"' in page and device.user.display_name in page
    row = page.split(f'data-device-id="{device.id}"', 1)[1].split("</tr>", 1)[0]
    assert ">3<" in row  # the outbox size the device reported
    reply = client.post(f"/admin/devices/{device.id}/revoke", data={"csrf_token": auth.csrf("/admin/devices")})
    assert reply.status_code == 303
    assert "revoked" in client.get("/admin/devices").text
    refused = device.push([device.event("bin.counted", {"bin_code": plant["codes"][0], "quantity": 6})])
    assert refused.status_code == 403 and refused.json["error"] == "device_revoked"
    again = client.post("/api/v1/devices", json={"device_id": device.id}, headers={"X-CSRFToken": auth.csrf("/scan")})
    assert again.status_code == 403  # a revoked device cannot register itself back
