"""Warehouse slip numbers (seed 002 §3.5, §3.6): gapless per book, never reused, under concurrent
worker processes on the test's database (SQLite or PostgreSQL)."""

import multiprocessing
import threading
import time
import traceback

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import PG_URL
from webapp import create_app
from webapp.config import TestConfig
from webapp.extensions import db
from webapp.models import Signature, SlipBook, WarehouseSlip
from webapp.services.slip_numbers import book_for, display_number, numbering, take_number, void

WORKERS = 4
TAKES = 50


class Undo(Exception):
    """Raised on purpose to roll back a transaction that has taken a number."""


def store_slip(session, book_id: int, user_id: int) -> WarehouseSlip:
    slip = WarehouseSlip(book_id=book_id, number=take_number(session, book_id), quantity=1, created_by=user_id)
    session.add(slip)
    session.flush()
    return slip


def numbers(book_id: int) -> list[int]:
    return list(db.session.execute(select(WarehouseSlip.number).where(WarehouseSlip.book_id == book_id)
                                   .order_by(WarehouseSlip.number)).scalars())


def take_in_a_process(url: str, instance: str, user_id: int, index: int, barrier, results) -> None:
    """A worker process with an app of its own: find (or make) the book, take TAKES numbers, each in its own
    transaction, rolling back every fourth one after the slip is stored; report the committed numbers."""
    try:
        app = create_app(TestConfig(database_url=url, instance=instance))
        with app.app_context():
            barrier.wait(120)
            with numbering(db.session) as session:
                book_id = book_for(session, "entry", "W1").id
            committed, undone = [], 0
            for i in range(TAKES):
                try:
                    with numbering(db.session) as session:
                        number = store_slip(session, book_id, user_id).number
                        if i % 3 == 0:
                            time.sleep(0.002)  # hold the lock a moment: the others queue up behind it
                        if (i + index) % 4 == 0:
                            raise Undo
                    committed.append(number)
                except Undo:
                    undone += 1
            db.session.remove()
            db.engine.dispose()
        results.put((index, book_id, committed, undone, None))
    except BaseException:  # reported to the test
        results.put((index, None, [], 0, traceback.format_exc()))


def test_worker_processes_taking_numbers_at_once_leave_no_gap_and_no_duplicate(app, make_user, tmp_path):
    user = make_user("keeper")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    workers = [ctx.Process(target=take_in_a_process, args=(url, str(tmp_path), user.id, i, barrier, results))
               for i in range(WORKERS)]
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
    elapsed = time.monotonic() - started
    errors = [r[4] for r in reports if r[4]]
    assert not errors, "\n".join(errors)

    book_ids = {r[1] for r in reports}
    committed = sorted(n for r in reports for n in r[2])
    undone = sum(r[3] for r in reports)
    assert len(book_ids) == 1  # the book was created once, whoever got there first
    assert undone == WORKERS * TAKES // 4 and len(committed) == WORKERS * TAKES - undone
    total = len(committed)
    assert committed == list(range(1, total + 1))  # every worker saw its own numbers commit
    with app.app_context():
        (book_id,) = book_ids
        assert db.session.execute(select(func.count()).select_from(SlipBook)).scalar() == 1
        assert numbers(book_id) == list(range(1, total + 1))  # 1..N: no gap, no duplicate
        assert db.session.get(SlipBook, book_id).last_number == total
    print(f"{WORKERS} processes, {WORKERS * TAKES} transactions ({undone} rolled back) in {elapsed:.1f}s")


def test_a_number_taken_in_a_rolled_back_transaction_is_given_again(app, make_user):
    user = make_user("keeper")
    with app.app_context():
        with numbering(db.session) as session:
            book_id = book_for(session, "issue", "W2").id
        with pytest.raises(Undo), numbering(db.session) as session:
            assert store_slip(session, book_id, user.id).number == 1
            raise Undo
        with numbering(db.session) as session:
            assert [store_slip(session, book_id, user.id).number for _ in range(3)] == [1, 2, 3]
        assert numbers(book_id) == [1, 2, 3]


def test_two_books_number_independently(app, make_user):
    user = make_user("keeper")
    with app.app_context():
        with numbering(db.session) as session:
            entry, issue = book_for(session, "entry", "W1"), book_for(session, "issue", "W1")
            bought = book_for(session, "entry", "宏达铸造 Hongda Foundry", prefix="WX-HD-")
            ids = entry.id, issue.id, bought.id
        taken = {book_id: [] for book_id in ids}
        for book_id in [ids[0], ids[1], ids[0], ids[2], ids[0], ids[1]]:
            with numbering(db.session) as session:
                taken[book_id].append(store_slip(session, book_id, user.id).number)
        assert taken == {ids[0]: [1, 2, 3], ids[1]: [1, 2], ids[2]: [1]}
        assert [numbers(book_id) for book_id in ids] == [[1, 2, 3], [1, 2], [1]]
        with numbering(db.session) as session:
            again = book_for(session, "entry", " W1 ", prefix="OTHER-")
            assert again.id == ids[0] and again.prefix == "RK-W1-"  # found, not made again; its prefix kept
            assert display_number(again, 42) == "RK-W1-000042"
            assert display_number(book_for(session, "entry", "宏达铸造 Hongda Foundry"), 7) == "WX-HD-000007"
            assert session.execute(select(func.count()).select_from(SlipBook)).scalar() == 3


def test_a_voided_slip_keeps_its_number_and_the_number_is_not_given_again(app, make_user):
    user, keeper = make_user("keeper"), make_user("admin")
    with app.app_context():
        with numbering(db.session) as session:
            book = book_for(session, "entry", "W3")
            slips = [store_slip(session, book.id, user.id) for _ in range(3)]
            assert book.last_number == 3  # a book already in the session sees the numbers taken
        with numbering(db.session) as session:
            voided = void(session, slips[1].id, keeper.id, "  torn while\nwriting ")
        with numbering(db.session) as session:
            assert store_slip(session, book.id, user.id).number == 4
        assert voided.status == "void" and voided.number == 2
        assert [(s.number, s.status) for s in db.session.execute(
            select(WarehouseSlip).where(WarehouseSlip.book_id == book.id).order_by(WarehouseSlip.number)).scalars()
        ] == [(1, "open"), (2, "void"), (3, "open"), (4, "open")]
        (record,) = db.session.execute(select(Signature).where(Signature.warehouse_slip_id == voided.id)).scalars()
        assert (record.step, record.decision, record.user_id, record.note) == ("void", "refuse", keeper.id,
                                                                                "torn while writing")
        with numbering(db.session) as session:
            void(session, voided.id, keeper.id, "again")  # already void: nothing more is recorded
        assert db.session.execute(select(func.count()).select_from(Signature)).scalar() == 1
        with pytest.raises(ValueError), numbering(db.session) as session:
            void(session, slips[0].id, keeper.id, "   ")
        with pytest.raises(LookupError), numbering(db.session) as session:
            void(session, 9999, keeper.id, "no such slip")
        assert db.session.get(SlipBook, book.id).last_number == 4


def test_books_and_numbers_refuse_what_is_wrong(app):
    with app.app_context(), numbering(db.session) as session:
        with pytest.raises(ValueError):
            book_for(session, "transfer", "W1")
        with pytest.raises(ValueError):
            book_for(session, "entry", "   ")
        with pytest.raises(ValueError):
            book_for(session, "entry", "W1", prefix="X" * 21)
        with pytest.raises(LookupError):
            take_number(session, 9999)


@pytest.mark.skipif(not PG_URL, reason="SQLite writers never overlap: the second would wait in BEGIN IMMEDIATE")
def test_two_transactions_creating_the_same_book_at_once_end_with_one_book(app):
    with app.app_context():
        first, second = Session(db.engine), Session(db.engine)
        try:
            made = book_for(first, "issue", "Supplier X")  # inserted, not yet committed
            found = {}
            racer = threading.Thread(target=lambda: found.update(id=book_for(second, "issue", "Supplier X").id))
            racer.start()
            time.sleep(0.5)
            assert racer.is_alive()  # its insert waits on the first one's unique key
            first.commit()
            racer.join(30)
            assert found == {"id": made.id}
            second.commit()
        finally:
            first.close()
            second.close()
        assert db.session.execute(select(func.count()).select_from(SlipBook)).scalar() == 1
