"""Warehouse slips (`warehouse.*`, seed 002 §3.4-§3.8): numbered per book without gaps however devices push,
voids keep their numbers, signatures in order per kind, the outsourced out/back listing, the entry slip of a
transfer into a warehouse, the four copies, and who may do what."""

import multiprocessing
import re
import time
import traceback
import uuid

import pytest
from sqlalchemy import func, select

from sync import schema
from tests.integration.test_signers import PIN, device_side_proof, salt_of
from webapp import create_app
from webapp.config import TestConfig
from webapp.domain.warehouse import content_hash, slip_content
from webapp.extensions import db
from webapp.models import Bin, Location, Product, SlipBook, Transfer, TransferBin, WarehouseSlip, WorkOrder, Workshop
from webapp.models.types import utcnow
from webapp.services import signers, warehouse_slips
from webapp.services.slip_numbers import numbering
from webapp.services.warehouse import entry_for_transfer, transfer_entry_id

SUPPLIER = "宏达铸造 Hongda Foundry"
OPENED, SIGNED, VOIDED = "warehouse.slip_opened", "warehouse.slip_signed", "warehouse.slip_voided"


@pytest.fixture
def store(app, plant):
    """The plant with a warehouse in its workshop W1 and a second product."""
    with app.app_context():
        w1 = db.session.execute(select(Workshop).where(Workshop.code == "W1")).scalar_one()
        db.session.add_all([Location(code="WH-1", kind="warehouse", workshop=w1, name_zh="成品库", name_en="Store"),
                            Product(code="GS-02", name_zh="齿轮轴", name_en="Gear shaft")])
        db.session.commit()
    return plant


def opening(device, kind="entry", source="own", book="W1", quantity=40, product="HS-01", **extra):
    """Return (slip id, payload, event) of a slip filled in on `device`."""
    sid = str(uuid.uuid4())
    payload = {"slip_id": sid, "kind": kind, "source": source, "book": book, "product": product,
               "quantity": quantity, **extra}
    return sid, payload, device.event(OPENED, payload)


def signing(device, sid, opened, step, quantity=None, **fields):
    """Return a signature event over the slip's content as the device computes it."""
    payload = {"slip_id": sid, "step": step, "quantity": opened["quantity"] if quantity is None else quantity,
               "content_hash": content_hash(slip_content(opened)), "signature_sha256": "ab" * 32}
    return device.event(SIGNED, payload, **fields)


def pushed(device, *events):
    reply = device.push(list(events))
    assert reply.status_code == 200, reply.text
    return reply.json["results"]


def codes(result):
    return sorted(f["code"] for f in result["exceptions"])


def slip(device, sid, status=200):
    reply = device.client.get(f"/api/v1/warehouse-slips/{sid}", headers=device.headers)
    assert reply.status_code == status, reply.text
    return reply.json


def book_numbers(app, kind, owner):
    with app.app_context():
        rows = db.session.execute(
            select(WarehouseSlip.number, WarehouseSlip.slip_id).join(SlipBook, SlipBook.id == WarehouseSlip.book_id)
            .where(SlipBook.kind == kind, SlipBook.owner == owner).order_by(WarehouseSlip.number)).all()
        last = db.session.execute(select(SlipBook.last_number).where(SlipBook.kind == kind,
                                                                     SlipBook.owner == owner)).scalar()
        db.session.remove()
    return [r.number for r in rows], [r.slip_id for r in rows], last


# --- Numbers -------------------------------------------------------------------------------------


def test_numbers_run_per_book_without_gaps_through_pushes_from_two_devices(app, signed_in_device, store):
    first, second, office = signed_in_device("keeper"), signed_in_device("keeper"), signed_in_device("office")
    made = []
    for round_ in range(3):
        for phone in (first, second):
            batch = [opening(phone, source="bought", book=SUPPLIER, quantity=10 + round_) for _ in range(2)]
            results = pushed(phone, *(e for _, _, e in batch))
            assert [r["status"] for r in results] == ["stored", "stored"]
            made += [sid for sid, _, _ in batch]
        sid, _, event = opening(office)  # own parts: the workshop's book numbers on its own
        assert pushed(office, event)[0]["status"] == "stored"
    numbers, sids, last = book_numbers(app, "entry", SUPPLIER)
    assert numbers == list(range(1, 13)) and last == 12 and sids == made  # in the order the server took them
    assert book_numbers(app, "entry", "W1")[0] == [1, 2, 3]
    found = slip(first, made[4])
    assert found["number"] == 5 and found["display_number"] == found["book"]["prefix"] + "000005"
    assert found["book"]["owner"] == SUPPLIER
    assert found["provisional"] is False and found["party"] == SUPPLIER  # the book's owner when none is named
    # The same event again is a duplicate; the same slip filled in again is stored, flagged, not numbered twice.
    again = first.event(OPENED, {"slip_id": made[0], "kind": "entry", "source": "bought", "book": SUPPLIER,
                                 "product": "HS-01", "quantity": 99})
    result = pushed(first, again)[0]
    assert result["status"] == "stored" and codes(result) == ["warehouse_slip_reopened"]
    assert slip(first, made[0])["quantity"] == 10 and book_numbers(app, "entry", SUPPLIER)[2] == 12
    # Two suppliers alike at the start get books whose numbers still print differently.
    _, _, event = opening(first, source="bought", book=SUPPLIER + " No. 2")
    pushed(first, event)
    other = slip(first, event["payload"]["slip_id"])
    assert other["number"] == 1 and other["display_number"] != found["display_number"].replace("000005", "000001")
    assert len(other["book"]["prefix"]) <= 20 and other["book"]["prefix"].endswith("-")
    with app.app_context():  # the book's page shows a window of numbers, with the way to the others
        window = warehouse_slips.book(found["book"]["id"], upto=5, size=3)
        assert [s["number"] for s in window["slips"]] == [3, 4, 5] and (window["earlier"], window["later"]) == (2, 8)
        newest = warehouse_slips.book(found["book"]["id"], size=3)
        assert [s["number"] for s in newest["slips"]] == [10, 11, 12] and newest["later"] is None
        db.session.remove()
    page = first.client.get(f"/warehouse/books/{found['book']['id']}").text
    assert page.count('data-state="open"') == 12 and "data-earlier" not in page


def test_a_slip_that_cannot_be_stored_takes_no_number(app, signed_in_device, store):
    keeper = signed_in_device("keeper")
    _, _, bad = opening(keeper, source="bought", book=SUPPLIER, product="NO-SUCH")
    _, _, good = opening(keeper, source="bought", book=SUPPLIER)
    _, _, workshop = opening(keeper, source="bought", book="W1")  # a supplier's book, named as a workshop
    _, _, bought = opening(keeper, kind="issue", source="bought", book=SUPPLIER)  # bought parts leave as own
    results = pushed(keeper, bad, good, workshop, bought)
    assert [r["status"] for r in results] == ["quarantined", "stored", "quarantined", "quarantined"]
    assert book_numbers(app, "entry", SUPPLIER)[0] == [1]


BATCHES, PER_BATCH = 4, 10


def push_in_a_process(url, instance, token, device_id, user_id, index, barrier, results):
    """A worker process with an app of its own: push BATCHES batches of PER_BATCH entry slips on one book."""
    try:
        app = create_app(TestConfig(database_url=url, instance=instance))
        client = app.test_client()
        seq, sent = 0, []
        barrier.wait(120)
        for _ in range(BATCHES):
            events = []
            for _ in range(PER_BATCH):
                seq += 1
                sid = str(uuid.uuid4())
                events.append({"id": str(uuid.uuid4()), "device_id": device_id, "seq": seq, "type": OPENED, "v": 1,
                               "occurred_at": int(time.time() * 1000), "actor_id": user_id, "attachments": [],
                               "payload": {"slip_id": sid, "kind": "entry", "source": "bought", "book": SUPPLIER,
                                           "product": "HS-01", "quantity": 1}})
                sent.append(sid)
            for _attempt in range(50):
                reply = client.post("/api/v1/sync/push", json={"device_id": device_id, "build": "test",
                                                                "events": events},
                                    headers={"Authorization": f"Bearer {token}"})
                if reply.status_code != 409:  # device_busy: the database was locked too long; push again
                    break
                time.sleep(0.05)
            assert reply.status_code == 200, reply.text
            assert [r["status"] for r in reply.json["results"]] == ["stored"] * PER_BATCH, reply.json
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        results.put((index, sent, None))
    except BaseException:  # reported to the test
        results.put((index, [], traceback.format_exc()))


def test_two_processes_pushing_at_once_on_one_book_leave_no_gap_and_no_duplicate(app, signed_in_device, store,
                                                                                  tmp_path):
    phones = [signed_in_device("keeper"), signed_in_device("keeper")]
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(phones)), ctx.Queue()
    workers = [ctx.Process(target=push_in_a_process, args=(url, str(tmp_path), p.token, p.id, p.user.id, i,
                                                           barrier, results)) for i, p in enumerate(phones)]
    started = time.monotonic()
    for w in workers:
        w.start()
    try:
        reports = [results.get(timeout=300) for _ in workers]
    finally:
        for w in workers:
            w.join(30)
            if w.is_alive():
                w.kill()
    errors = [r[2] for r in reports if r[2]]
    assert not errors, "\n".join(errors)
    total = len(phones) * BATCHES * PER_BATCH
    numbers, sids, last = book_numbers(app, "entry", SUPPLIER)
    assert numbers == list(range(1, total + 1)) and last == total  # no gap, no duplicate
    assert sorted(sids) == sorted(sid for r in reports for sid in r[1])  # every slip numbered once
    for sent in (r[1] for r in reports):  # each device's slips in its own order
        assert [sids.index(s) for s in sent] == sorted(sids.index(s) for s in sent)
    print(f"{len(phones)} processes, {total} slips in {2 * BATCHES} pushes in {time.monotonic() - started:.1f}s")


# --- Void ----------------------------------------------------------------------------------------


def test_a_void_slip_keeps_its_number_which_is_never_given_again(app, signed_in_device, store):
    office, clerk = signed_in_device("office"), signed_in_device("clerk")
    sids = []
    for _ in range(3):
        sid, _, event = opening(office)
        pushed(office, event)
        sids.append(sid)
    result = pushed(office, office.event(VOIDED, {"slip_id": sids[1], "reason": "  torn while\nwriting "}))[0]
    assert result["status"] == "stored" and codes(result) == []
    sid, _, event = opening(office)
    pushed(office, event)
    assert slip(office, sid)["number"] == 4
    voided = slip(office, sids[1])
    assert voided["status"] == "void" and voided["number"] == 2
    assert voided["void"]["reason"] == "torn while writing" and voided["void"]["by"]["id"] == office.user.id
    # Voiding again changes nothing; a clerk (who opens but does not keep the book) may not void: flagged.
    pushed(office, office.event(VOIDED, {"slip_id": sids[1], "reason": "again"}))
    assert slip(office, sids[1])["void"]["reason"] == "torn while writing"
    refused = clerk.push([clerk.event(VOIDED, {"slip_id": sids[0], "reason": "mine"})]).json["results"][0]
    assert refused["status"] == "quarantined"  # the clerk's role may not record a void at all
    keeper = signed_in_device("keeper")
    result = pushed(keeper, keeper.event(VOIDED, {"slip_id": sids[2], "reason": "not my book"}))[0]
    assert codes(result) == [] and slip(keeper, sids[2])["status"] == "void"  # keepers keep entry books too
    accountant = signed_in_device("accountant")
    result = pushed(accountant, accountant.event(VOIDED, {"slip_id": sids[0], "reason": "wrong book"}))[0]
    assert codes(result) == ["warehouse_role_not_allowed"] and slip(office, sids[0])["status"] == "open"
    numbers, _, last = book_numbers(app, "entry", "W1")
    assert numbers == [1, 2, 3, 4] and last == 4
    page = office.client.get(f"/warehouse/books/{slip(office, sids[1])['book']['id']}").text
    assert page.count('data-state="void"') == 2 and "torn while writing" in page and "data-missing-numbers" not in page


# --- Signatures in order, per kind --------------------------------------------------------------


@pytest.fixture
def people(signed_in_device):
    """One phone per role a slip involves."""
    return {role: signed_in_device(role) for role in ("office", "inspector", "director", "keeper", "accountant",
                                                      "clerk")}


@pytest.mark.parametrize(("kind", "source", "book", "opener", "steps"), [
    ("entry", "own", "W1", "office", ("inspector", "director", "keeper")),
    ("entry", "bought", SUPPLIER, "keeper", ("inspector", "keeper", "buyer")),
    ("issue", "own", "W1", "accountant", ("accountant", "director", "clerk")),
    ("issue", "outsourced", SUPPLIER, "accountant", ("accountant", "outsourcer", "clerk")),
])
def test_each_kind_completes_with_its_signatures_in_its_order(people, store, kind, source, book, opener, steps):
    sid, opened, event = opening(people[opener], kind, source, book)
    assert pushed(people[opener], event)[0]["status"] == "stored"
    state = slip(people[opener], sid)
    assert state["status"] == "open" and state["next_step"] == steps[0]
    assert state["content_hash"] == content_hash(slip_content(opened))
    signer_of = {"inspector": "inspector", "director": "director", "keeper": "keeper", "buyer": "office",
                 "accountant": "accountant", "outsourcer": "director", "clerk": "clerk"}
    for step in steps:
        phone = people[signer_of[step]]
        result = pushed(phone, signing(phone, sid, opened, step))[0]
        assert result["status"] == "stored" and codes(result) == [], (step, result)
    state = slip(people[opener], sid)
    assert state["status"] == "complete" and state["next_step"] is None
    assert [(s["step"], s["signature"]["state"]) for s in state["steps"]] == [(s, "valid") for s in steps]


def test_out_of_order_and_not_allowed_are_kept_flagged_and_rejudged_when_a_late_signature_arrives(people, store):
    office, inspector, director, keeper = (people[r] for r in ("office", "inspector", "director", "keeper"))
    sid, opened, event = opening(office)
    pushed(office, event)
    base = int(time.time() * 1000)
    pushed(inspector, signing(inspector, sid, opened, "inspector", occurred_at=base - 3000))
    # The keeper signs before the director's signature is on the server: out of order, kept, flagged.
    early = pushed(keeper, signing(keeper, sid, opened, "keeper", occurred_at=base))[0]
    assert early["status"] == "stored" and codes(early) == ["warehouse_out_of_order_signature"]
    assert slip(office, sid)["next_step"] == "director"
    # The director had signed before the keeper, offline; it arrives late: the keeper's signature holds now.
    late = pushed(director, signing(director, sid, opened, "director", occurred_at=base - 1000))[0]
    assert codes(late) == []
    state = slip(office, sid)
    assert state["status"] == "complete" and [s["state"] for s in state["signatures"]] == ["valid"] * 3
    assert state["flags"] == []  # the keeper's flag withdrawn
    # A clerk signing the inspector's step: stored, flagged; the office sees it on the slip's records.
    sid2, opened2, event2 = opening(office)
    pushed(office, event2)
    clerk = people["clerk"]
    result = pushed(clerk, signing(clerk, sid2, opened2, "inspector"))[0]
    assert codes(result) == ["warehouse_step_not_allowed"]
    stale = pushed(inspector, signing(inspector, sid2, {**opened2, "quantity": 41}, "inspector"))[0]
    assert codes(stale) == ["warehouse_signature_void"]
    short = pushed(people["director"], signing(people["director"], sid2, opened2, "director", quantity=39))[0]
    assert codes(short) == ["warehouse_quantity_differs"]


def test_a_buyer_without_a_role_signs_with_badge_and_pin_on_the_keepers_device(app, people, store, make_user):
    buyer = make_user("follower")  # anyone: the plant has no buyer role
    with app.app_context():
        badge = signers.issue_badge(buyer.id)
        signers.set_pin(buyer.id, PIN)
    keeper, inspector = people["keeper"], people["inspector"]
    sid, opened, event = opening(keeper, source="bought", book=SUPPLIER)
    pushed(keeper, event, signing(keeper, sid, opened, "keeper"))  # out of order: the inspector comes first
    pushed(inspector, signing(inspector, sid, opened, "inspector"))
    pushed(keeper, signing(keeper, sid, opened, "keeper"))
    signed = signing(keeper, sid, opened, "buyer")
    signed["payload"]["signer"] = device_side_proof(badge, PIN, salt_of(app, buyer.id), signed)
    result = pushed(keeper, signed)[0]
    assert result["status"] == "stored" and codes(result) == []
    state = slip(keeper, sid)
    assert state["status"] == "complete"
    buyer_step = state["steps"][-1]["signature"]
    assert buyer_step["signer"]["id"] == buyer.id and buyer_step["verification"] == "badge_pin"
    # The keeper signing the buyer's step himself is not allowed (flagged), with a badge or without.
    sid2, opened2, event2 = opening(keeper, source="bought", book=SUPPLIER)
    pushed(keeper, event2)
    pushed(inspector, signing(inspector, sid2, opened2, "inspector"))
    pushed(keeper, signing(keeper, sid2, opened2, "keeper"))
    assert codes(pushed(keeper, signing(keeper, sid2, opened2, "buyer"))[0]) == ["warehouse_step_not_allowed"]


def test_a_signature_before_its_slip_is_kept_and_joins_the_slip_when_it_arrives(people, store):
    office, inspector = people["office"], people["inspector"]
    sid, opened, event = opening(office)
    orphan = pushed(inspector, signing(inspector, sid, opened, "inspector"))[0]
    assert orphan["status"] == "stored" and codes(orphan) == ["unknown_warehouse_slip"]
    early_void = pushed(office, office.event(VOIDED, {"slip_id": sid, "reason": "filled in twice"}))[0]
    assert codes(early_void) == ["unknown_warehouse_slip"]
    known = slip(office, sid)
    assert known["provisional"] is True and known["number"] is None  # the device shows it as provisional
    assert 'data-slip-status="provisional"' in office.client.get(f"/warehouse/slips/{sid}").text
    assert slip(office, str(uuid.uuid4()), status=404)["error"] == "unknown_warehouse_slip"
    pushed(office, event)
    state = slip(office, sid)
    assert state["number"] == 1 and state["status"] == "void"  # the void that came first applies
    assert [(s["step"], s["state"]) for s in state["signatures"]] == [("inspector", "valid")]
    assert state["flags"] == []  # both unknown_warehouse_slip flags withdrawn


# --- Out with outsourcers ------------------------------------------------------------------------


def test_what_is_out_with_outsourcers_until_it_comes_back(app, people, store, client, auth, make_user):
    accountant, director, clerk, keeper = (people[r] for r in ("accountant", "director", "clerk", "keeper"))

    def issue(quantity, party=SUPPLIER, product="HS-01", complete=True):
        sid, opened, event = opening(accountant, "issue", "outsourced", party, quantity, product=product)
        pushed(accountant, event, signing(accountant, sid, opened, "accountant"))
        if complete:
            pushed(director, signing(director, sid, opened, "outsourcer"))
            pushed(clerk, signing(clerk, sid, opened, "clerk"))
        return sid

    first, second = issue(100), issue(50)
    issue(30, party="Other works")
    issue(20, complete=False)  # not issued yet: not out
    auth.login(make_user("office").username)
    page = client.get("/warehouse/outsourced").text
    assert page.count("data-out-slip=") == 3
    # 120 come back from the same factory (its name written another way): the oldest issue is settled first.
    sid, _, event = opening(keeper, "entry", "outsourced", " 宏达铸造  HONGDA Foundry ", 120)
    assert pushed(keeper, event)[0]["status"] == "stored"
    page = client.get("/warehouse/outsourced").text
    assert f'data-out-slip="{first}"' not in page and f'data-out-slip="{second}"' in page
    remaining = re.search(rf'data-out-slip="{second}".*?data-remaining>(\d+)<', page, re.S).group(1)
    assert remaining == "30" and "Other works" in page
    # A void return does not count.
    pushed(keeper, keeper.event(VOIDED, {"slip_id": sid, "reason": "wrong factory"}))
    assert f'data-out-slip="{first}"' in client.get("/warehouse/outsourced").text


# --- The entry slip of a transfer into a warehouse (§3.4) -------------------------------------------


@pytest.fixture
def transfer_into_store(app, store, make_user):
    """A complete transfer slip from OP20 into the warehouse, 50 pieces sent, 48 received; returns (id, user)."""
    clerk = make_user("clerk")

    def make(kind="warehouse", status="complete"):
        with app.app_context():
            places = {loc.code: loc for loc in db.session.execute(select(Location)).scalars()}
            order = db.session.execute(select(WorkOrder).where(WorkOrder.number == "WO-1")).scalar_one()
            b = db.session.execute(select(Bin).order_by(Bin.code)).scalars().first()
            t = Transfer(number=str(uuid.uuid4()), kind=kind, status=status, bin_id=b.id, work_order_id=order.id,
                         product_id=order.product_id, from_location=places["L-OP20"], to_location=places["WH-1"],
                         quantity=50, quantity_received=48, created_by=clerk.id, completed_at=utcnow())
            db.session.add(t)
            db.session.flush()
            db.session.add(TransferBin(transfer_id=t.id, bin_id=b.id))
            db.session.commit()
            return t.id, t.number

    return make, clerk


def test_entry_for_transfer_opens_the_workshops_entry_slip_once(app, transfer_into_store, signed_in_device):
    make, clerk = transfer_into_store
    transfer_pk, number = make()
    at = int(time.time() * 1000)
    with app.app_context():
        for _ in range(2):  # a complete slip folded again: still one entry slip
            with numbering(db.session) as session:
                entry_for_transfer(session, transfer_pk, clerk.id, at)
        for kind, status in (("next_operation", "complete"), ("warehouse", "open")):
            other_pk, _ = make(kind, status)
            with numbering(db.session) as session:
                entry_for_transfer(session, other_pk, clerk.id, at)
        made = db.session.execute(select(WarehouseSlip)).scalars().all()
        assert len(made) == 1
        entry = made[0]
        assert (entry.book.kind, entry.book.owner, entry.number, entry.source, entry.quantity) == (
            "entry", "W1", 1, "own", 48)
        assert entry.slip_id == transfer_entry_id(number) and entry.transfer_id == transfer_pk
        assert db.session.get(Location, entry.location_id).code == "WH-1" and entry.created_by == clerk.id
        db.session.remove()
    # Its three signatures, over the content the server shows, complete it.
    phones = {role: signed_in_device(role) for role in ("inspector", "director", "keeper")}
    state = slip(phones["keeper"], transfer_entry_id(number))
    assert state["transfer"]["transfer_id"] == number and state["bin_codes"]
    assert state["content"]["transfer_id"] == number and "bin_codes" not in state["content"]
    for step, phone in phones.items():
        event = phone.event(SIGNED, {"slip_id": transfer_entry_id(number), "step": step, "quantity": 48,
                                     "content_hash": state["content_hash"], "signature_sha256": "cd" * 32})
        assert codes(pushed(phone, event)[0]) == []
    assert slip(phones["keeper"], transfer_entry_id(number))["status"] == "complete"
    # Voided, it is not made again; a transfer whose entry slip a device opened gets none from here.
    office = signed_in_device("office")
    pushed(office, office.event(VOIDED, {"slip_id": transfer_entry_id(number), "reason": "test"}))
    second_pk, second_number = make()
    _, _, event = opening(office, transfer_id=second_number, quantity=48)
    assert codes(pushed(office, event)[0]) == []
    twice = opening(office, transfer_id=second_number, quantity=48)[2]
    assert codes(pushed(office, twice)[0]) == ["warehouse_entry_twice"]
    with app.app_context():
        for pk in (transfer_pk, second_pk):
            with numbering(db.session) as session:
                entry_for_transfer(session, pk, clerk.id, at)
        assert db.session.execute(select(func.count()).select_from(WarehouseSlip)).scalar() == 3
        db.session.remove()


# --- Pages, copies, who may ----------------------------------------------------------------------


def test_the_office_fills_in_a_slip_and_sees_its_number_and_each_copy(app, client, auth, make_user, store):
    office = make_user("office")
    auth.login(office.username)
    form = client.get("/warehouse/new").text
    slip_id = re.search(r'name="slip_id" value="([^"]+)"', form).group(1)
    data = {"csrf_token": auth.csrf("/warehouse/new"), "slip_id": slip_id, "kind": "entry", "source": "own",
            "book": "W1", "product": "hs-01", "work_order": "WO-1", "quantity": "40", "bin_codes": "b00001z",
            "note": "first batch"}
    reply = client.post("/warehouse/slips", data=data)
    assert reply.status_code == 303 and reply.headers["Location"].endswith(f"/warehouse/slips/{slip_id}")
    page = client.get(f"/warehouse/slips/{slip_id}").text
    assert "RK-W1-000001" in page and 'data-copy="statistician"' in page  # the statistician's bottom copy
    assert 'data-next-step="inspector"' in page and 'id="warehouse-sign"' not in page  # the office does not sign it
    for copy in ("keeper", "chief_keeper", "cost_accountant"):
        assert f'data-copy="{copy}"' in client.get(f"/warehouse/slips/{slip_id}?copy={copy}").text
    assert 'href="/static/v/' in page and "warehouse-print.css" in page
    pdf = client.get(f"/warehouse/slips/{slip_id}.pdf?copy=keeper")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # Posting the same form again (a double tap) numbers nothing new and records nothing.
    again = client.post("/warehouse/slips", data=data, follow_redirects=True)
    assert "This slip was already filled in: RK-W1-000001." in again.text
    assert book_numbers(app, "entry", "W1")[0] == [1]
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(schema.events)).scalar() == 1
        db.session.remove()
    # A wrong field comes back with its message; a kind this role does not fill is refused the same way.
    bad = client.post("/warehouse/slips", data={**data, "slip_id": str(uuid.uuid4()), "product": "NOPE"})
    assert bad.status_code == 422 and "No product has this code." in bad.text and 'value="NOPE"' in bad.text
    other = client.post("/warehouse/slips", data={**data, "slip_id": str(uuid.uuid4()), "source": "bought",
                                                   "book": SUPPLIER})
    assert other.status_code == 422 and "Your role may not fill in this kind of slip." in other.text
    assert book_numbers(app, "entry", "W1")[0] == [1]
    # The void form, then the lists.
    reply = client.post(f"/warehouse/slips/{slip_id}/void", data={"csrf_token": auth.csrf("/warehouse/"),
                                                                  "reason": "wrong order"})
    assert reply.status_code == 303
    index = client.get("/warehouse/").text
    assert "RK-W1-" in index and 'data-book=' in index
    with app.app_context():
        assert db.session.execute(select(WarehouseSlip.status)).scalar() == "void"
        db.session.remove()


def test_the_keeper_signs_on_the_page_and_roles_that_may_not_are_refused(app, client, auth, make_user, store,
                                                                         signed_in_device):
    office = signed_in_device("office")
    sid, opened, event = opening(office)
    pushed(office, event)
    auth.login(make_user("inspector").username)
    assert f'data-slip-row="{sid}"' in client.get("/warehouse/").text  # waiting for the inspector
    page = client.get(f"/warehouse/slips/{sid}").text
    assert 'id="warehouse-sign"' in page and 'name="step" value="inspector"' in page
    assert f'name="content_hash" value="{content_hash(slip_content(opened))}"' in page
    assert 'id="void"' not in page
    token = auth.csrf(f"/warehouse/slips/{sid}")
    reply = client.post(f"/warehouse/slips/{sid}/sign", data={
        "csrf_token": token, "step": "inspector", "quantity": "40", "content_hash": content_hash(slip_content(opened))})
    assert reply.status_code == 422 and "Sign in the box." in reply.text  # the drawing needs JavaScript
    reply = client.post(f"/warehouse/slips/{sid}/sign", data={
        "csrf_token": token, "step": "inspector", "quantity": "40", "signature_sha256": "ef" * 32,
        "content_hash": content_hash(slip_content(opened))})
    assert reply.status_code == 303
    assert slip(office, sid)["next_step"] == "director"
    assert f'data-slip-row="{sid}"' not in client.get("/warehouse/").text  # nothing more for the inspector
    director = signed_in_device("director")
    assert f'data-slip-row="{sid}"' in director.client.get("/warehouse/").text  # the director's turn
    assert f'data-slip-row="{sid}"' not in signed_in_device("keeper").client.get("/warehouse/").text
    auth.login(make_user("inspector").username)  # signed_in_device signed the test's client in as each of them
    token = auth.csrf("/warehouse/")
    assert client.post("/warehouse/slips", data={"csrf_token": token}).status_code == 403  # inspectors fill nothing
    assert client.post(f"/warehouse/slips/{sid}/void", data={"csrf_token": token, "reason": "x"}).status_code == 403
    # Without the CSRF token a form is refused.
    assert client.post(f"/warehouse/slips/{sid}/sign", data={"step": "inspector"}).status_code == 400
    auth.login(make_user("follower").username)
    for path in ("/warehouse/", f"/warehouse/slips/{sid}", "/warehouse/outsourced"):
        assert client.get(path).status_code == 403
    assert client.get(f"/api/v1/warehouse-slips/{sid}").status_code == 403
    # A role that may not fill a slip may not push one either (quarantined), and one that fills
    # another kind is stored and flagged.
    inspector = signed_in_device("inspector")
    assert inspector.push([opening(inspector)[2]]).json["results"][0]["status"] == "quarantined"
    clerk = signed_in_device("clerk")
    result = pushed(clerk, opening(clerk, source="outsourced", book=SUPPLIER)[2])[0]
    assert result["status"] == "stored" and codes(result) == ["warehouse_role_not_allowed"]


def test_the_slips_records_show_in_the_office_with_their_names(app, client, auth, make_user, store,
                                                               signed_in_device):
    keeper = signed_in_device("keeper")
    sid, opened, event = opening(keeper, source="bought", book=SUPPLIER)
    pushed(keeper, event, signing(keeper, sid, opened, "keeper"))
    auth.login(make_user("office").username)
    events = client.get("/office/events").text
    assert "Warehouse slip filled in" in events and "Warehouse slip signed" in events
    assert "Bought in" in events and "Warehouse slip signed out of order" in events
    review = client.get("/office/review").text
    assert "Warehouse slip signed out of order" in review
    with app.app_context():
        n = db.session.execute(select(func.count()).select_from(schema.events)
                               .where(schema.events.c.subject == f"warehouse_slip:{sid}")).scalar()
        assert n == 2
        db.session.remove()
