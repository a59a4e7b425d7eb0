"""Numbers of warehouse entry and issue slips: gapless per book, never reused (seed 002 §3.5, §3.6).

A book (`SlipBook`) belongs to one kind (entry | issue) and one owner (a workshop, or a supplier
for bought-in and outsourced parts); its slips are numbered 1, 2, 3, … with no missing page.
The server gives the numbers: `SlipBook.last_number` is the last one given, and `take_number`
raises it by one *inside the caller's transaction*, with one statement on both databases:

    UPDATE slip_books SET last_number = last_number + 1 WHERE id = :id RETURNING last_number

The number and the slip that uses it commit together or not at all. A transaction that rolls
back undoes its increment, so the next taker gets the same number again: no gap. A database
sequence would not do (PostgreSQL sequences skip the values of rolled-back transactions).

Why no two transactions get the same number, with any number of worker processes:

- SQLite: one writer at a time per database file. Number-taking transactions begin IMMEDIATE
  (`numbering()`, or the caller's own `sync.db.immediate_writes()` block, as every write path of
  the project does), which takes the write lock before anything is read; another taker waits in
  its BEGIN (busy timeout, `sync.db.configure_sqlite`) until the holder commits or rolls back, and
  then reads the committed `last_number`. A *deferred* transaction that has read before its first
  write can fail at once with "database is locked" (its snapshot is stale); hence IMMEDIATE.
  RETURNING needs SQLite 3.35; older libraries do the UPDATE and then read the row back, which is
  the same while the write lock is held.
- PostgreSQL (READ COMMITTED, the default): the UPDATE takes the book's row lock and keeps it to
  the end of the transaction, exactly what `SELECT … FOR UPDATE` would do (but in the weaker
  FOR NO KEY UPDATE mode, so inserting slips that reference the book is not blocked). A second
  taker's UPDATE waits on that lock; when the holder commits, PostgreSQL re-reads the newest row
  version and adds one to it; when the holder rolls back, it adds one to the old value. Only the
  one book row is locked: books number independently and in parallel.

A voided slip keeps its number and its row (status "void"); nothing ever lowers `last_number`,
so a number is given once.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from sync.db import immediate_writes
from webapp.models import Signature, SlipBook, WarehouseSlip
from webapp.models.types import utcnow

log = logging.getLogger(__name__)

KINDS = ("entry", "issue")
PREFIXES = {"entry": "RK", "issue": "CK"}  # 入库 / 出库, as the demo books are named
DIGITS = 6
_SQLITE_RETURNING = sqlite3.sqlite_version_info >= (3, 35)


@contextmanager
def numbering(session) -> Iterator:
    """Run a block in a fresh write transaction that may take numbers; commit at the end.

    Anything the session had not committed is rolled back first: on SQLite the transaction
    must begin IMMEDIATE, before its first read. An exception rolls the block back, numbers too.
    """
    session.rollback()
    with immediate_writes():
        try:
            session.connection()  # BEGIN (IMMEDIATE on SQLite) now
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def book_for(session, kind: str, owner: str, prefix: str | None = None) -> SlipBook:
    """Return the book of `kind` (entry | issue) for `owner`, creating it when there is none.

    Created in the caller's transaction (flushed, not committed), with `prefix` or by default
    "RK-<owner>-" / "CK-<owner>-" (cut to 20 characters); an existing book keeps its prefix.
    When two transactions create the same book at once (PostgreSQL), the second one's insert
    waits for the first and, once that commits, fails on the unique (kind, owner): it is undone
    to its savepoint and the committed book is returned. SQLite writers never overlap
    (IMMEDIATE), so there it cannot happen.
    """
    if kind not in KINDS:
        raise ValueError(f"a slip book is for {' or '.join(KINDS)}, not {kind!r}")
    owner = " ".join((owner or "").split())
    if not owner or len(owner) > 60:
        raise ValueError("a slip book needs an owner of 1 to 60 characters")
    query = select(SlipBook).where(SlipBook.kind == kind, SlipBook.owner == owner)
    found = session.execute(query).scalar_one_or_none()
    if found is not None:
        return found
    prefix = prefix.strip() if prefix else f"{PREFIXES[kind]}-{owner}-"[:20]
    if not prefix or len(prefix) > 20:
        raise ValueError("a slip book's prefix has 1 to 20 characters")
    book = SlipBook(kind=kind, owner=owner, prefix=prefix, last_number=0)
    try:
        with session.begin_nested():
            session.add(book)
    except IntegrityError:  # another transaction made it first and committed
        return session.execute(query).scalar_one()
    return book


def take_number(session, book_id: int) -> int:
    """Give the book's next number, inside the caller's transaction (see the module's docstring).

    The book stays locked until that transaction ends; take the number late, just before the
    slip is stored, and commit soon. On SQLite the transaction must have begun IMMEDIATE.
    """
    bump = (update(SlipBook).where(SlipBook.id == book_id).values(last_number=SlipBook.last_number + 1)
            .execution_options(synchronize_session=False))
    if session.get_bind().dialect.name != "sqlite" or _SQLITE_RETURNING:
        number = session.execute(bump.returning(SlipBook.last_number)).scalar_one_or_none()
    else:
        session.execute(bump)
        number = session.execute(select(SlipBook.last_number).where(SlipBook.id == book_id)).scalar_one_or_none()
    if number is None:
        raise LookupError(f"no slip book {book_id}")
    loaded = session.identity_map.get(session.identity_key(SlipBook, book_id))
    if loaded is not None:
        session.expire(loaded, ["last_number"])  # a book already in the session reads the new value
    return number


def display_number(book: SlipBook, number: int) -> str:
    """Return a slip's number as printed: the book's prefix and six digits, e.g. RK-W1-000042."""
    return f"{book.prefix}{number:0{DIGITS}d}"


def void(session, slip_id: int, by_user_id: int, reason: str) -> WarehouseSlip:
    """Mark a slip void, in the caller's transaction; it keeps its number, which is never given again.

    Who voided it and why are kept as a signature on the slip (step "void", decision "refuse",
    the reason as its note). Voiding a void slip changes nothing.
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValueError("voiding a slip needs a reason")
    slip = session.get(WarehouseSlip, slip_id)
    if slip is None:
        raise LookupError(f"no warehouse slip {slip_id}")
    if slip.status == "void":
        return slip
    slip.status = "void"
    session.add(Signature(warehouse_slip_id=slip.id, step="void", decision="refuse", note=reason,
                          user_id=by_user_id, signed_at=utcnow()))
    session.flush()
    log.info("warehouse slip %s (book %s, number %s) voided by user %s: %s",
             slip.id, slip.book_id, slip.number, by_user_id, reason)
    return slip
