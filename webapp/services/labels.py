"""Bin labels: mint new bins and codes, reprint, replace a damaged label, retire a bin.

Minting is gapless and never reuses a code: `BinLabel.id` is the minting order and the code
is `mint(id)`. Ids are not drawn from a database sequence (PostgreSQL sequences skip numbers
on rollback); each minting transaction takes the next ids as max(BinLabel.id) + 1, … while it
holds a lock that makes every other minting transaction wait until it commits or rolls back:

- SQLite: the transaction begins IMMEDIATE (`sync.db.immediate_writes`), which takes the
  database's single write lock before the max() is read;
- PostgreSQL: `LOCK TABLE bin_labels IN SHARE ROW EXCLUSIVE MODE`, a mode that conflicts with
  itself and with every insert, update or delete on bin_labels but not with readers, so scans
  (`find_bin`) never wait; the max() is read after the lock, so under READ COMMITTED it sees
  every committed label.

A rolled-back mint leaves no trace, so the next one takes the same numbers: no gap. A counter
row would need a migration and the same lock; the max() over the primary key is an index
lookup. Every change to a bin is recorded in the pull change log by the database's triggers
(sync/changelog.py); a replaced code also reaches devices as a tombstone of the old code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text

from sync.db import immediate_writes
from webapp.domain.label_codes import is_valid, mint
from webapp.extensions import db
from webapp.models import Bin, BinLabel, Plant, User, Workshop
from webapp.models.types import utcnow
from webapp.printing import LAYOUTS, Label, Output, render
from webapp.services.bins import find_bin

log = logging.getLogger(__name__)

MAX_REASON = 200
DEFAULT_PLANT = {"code": "PLANT", "name_zh": "工厂", "name_en": "Plant"}


class LabelRefused(ValueError):
    """A label operation that cannot be done as asked; `field` names the form field at fault."""

    def __init__(self, field: str, message) -> None:
        super().__init__(field)  # the message is translated when shown, in the reader's language
        self.field, self.message = field, message


@contextmanager
def _minting() -> Iterator:
    """Run a label write in its own transaction, holding the minting lock; commit at the end."""
    db.session.rollback()  # a read transaction opened earlier would not take the lock on SQLite
    with immediate_writes():
        try:
            if db.session.get_bind().dialect.name == "postgresql":
                db.session.execute(text("LOCK TABLE bin_labels IN SHARE ROW EXCLUSIVE MODE"))
            else:
                db.session.connection()  # BEGIN IMMEDIATE now
            yield db.session
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise


def _next_label_id(session) -> int:
    return (session.execute(select(func.max(BinLabel.id))).scalar() or 0) + 1


def _add_labels(session, bins: list[Bin]) -> list[BinLabel]:
    """Give each bin the next code, in order; call only inside `_minting()`."""
    first = _next_label_id(session)
    labels = []
    for number, b in enumerate(bins, start=first):
        b.code = mint(number)
        labels.append(BinLabel(id=number, code=b.code, bin=b))
    session.add_all([*bins, *labels])
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # Keep the id sequence past the minted ids, so no other insert can collide with them.
        session.execute(text("SELECT setval(pg_get_serial_sequence('bin_labels', 'id'), :top)"),
                        {"top": first + len(bins) - 1})
    return labels


def plant(create_with: str | None = "") -> Plant | None:
    """Return the plant; with `create_with` (a name, or "" for the default), make it when there is none."""
    found = db.session.execute(select(Plant).order_by(Plant.id).limit(1)).scalar_one_or_none()
    if found is None and create_with is not None:
        names = {"name_zh": create_with, "name_en": create_with} if create_with else {}
        found = Plant(**{**DEFAULT_PLANT, **names})
        db.session.add(found)
        db.session.flush()
    return found


def workshop(code: str | None) -> Workshop | None:
    """Return the workshop with this code (None for none), or refuse an unknown code."""
    if not code:
        return None
    found = db.session.execute(select(Workshop).where(Workshop.code == code.strip())).scalar_one_or_none()
    if found is None:
        raise LabelRefused("workshop", _l("No workshop has the code %(code)s.", code=code))
    return found


def workshops() -> list[Workshop]:
    """Return every workshop, by code."""
    return list(db.session.execute(select(Workshop).order_by(Workshop.code)).scalars())


def mint_bins(count: int, workshop_code: str | None = None, bin_type: str | None = None,
              plant_name: str = "") -> list[Bin]:
    """Mint `count` new bins with the next label codes (gapless, never reused); commit."""
    if not 1 <= count <= 10_000:
        raise LabelRefused("count", _l("Mint between 1 and 10,000 labels at a time."))
    bin_type = (bin_type or "").strip()[:40] or None
    with _minting() as session:
        plant(create_with=plant_name)  # an empty database gets a plant, so labels have a name to print
        place = workshop(workshop_code)
        bins = [Bin(code="", bin_type=bin_type, workshop_id=place.id if place else None) for _ in range(count)]
        _add_labels(session, bins)
    log.info("minted %d bins: %s … %s", count, bins[0].code, bins[-1].code)
    return bins


def split_codes(text_value: str) -> list[str]:
    """Split typed or pasted codes (commas, spaces, new lines) into upper-case codes, without repeats."""
    return list(dict.fromkeys(c for c in re.split(r"[\s,;]+", (text_value or "").upper()) if c))


def bins_for_codes(codes: list[str]) -> list[Bin]:
    """Return the bins to reprint, in order; refuse wrong, unknown, replaced or retired codes."""
    if not codes:
        raise LabelRefused("codes", _l("Enter at least one bin code."))
    found = {b.code: b for b in db.session.execute(select(Bin).where(Bin.code.in_(codes))).scalars()}
    out = []
    for code in codes:
        if not is_valid(code):
            raise LabelRefused("codes", _l("%(code)s is not a bin code: its check character is wrong.", code=code))
        b = found.get(code)
        if b is None:
            other = find_bin(code)
            if other is not None:
                raise LabelRefused("codes", _l("Label %(code)s was replaced by %(new)s: print %(new)s instead.",
                                               code=code, new=other.code))
            raise LabelRefused("codes", _l("No bin has the code %(code)s.", code=code))
        if b.status == "retired":
            raise LabelRefused("codes", _l("Bin %(code)s is retired: it gets no new label.", code=code))
        out.append(b)
    return out


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise LabelRefused("reason", _l("Write the reason."))
    if len(reason) > MAX_REASON:
        raise LabelRefused("reason", _l("Keep the reason under %(n)d characters.", n=MAX_REASON))
    return reason


def _active_bin(code: str) -> Bin:
    found = find_bin((code or "").strip().upper())
    if found is None:
        raise LabelRefused("code", _l("No bin has the code %(code)s.", code=code))
    if found.status == "retired":
        raise LabelRefused("code", _l("Bin %(code)s is retired.", code=found.code))
    return found


def _current_label(b: Bin) -> BinLabel | None:
    return db.session.execute(select(BinLabel).where(BinLabel.code == b.code)).scalar_one_or_none()


@dataclass(frozen=True)
class Replaced:
    """A label replaced: the bin's old and new code."""

    old_code: str
    new_code: str


def replace_label(code: str, reason: str, by: User | None = None) -> Replaced:
    """Retire a bin's damaged or lost label and mint a new code for the same bin; commit.

    The old code still finds the bin (the bin page says it was replaced); devices get the bin
    under its new code and a tombstone for the old one.
    """
    reason = _reason(reason)
    with _minting() as session:
        b = _active_bin(code)
        old_code = b.code
        current = _current_label(b)
        if current is not None:
            current.retired_at, current.retired_reason = utcnow(), reason
        _add_labels(session, [b])  # the bin's code changes: its trigger logs the old code's tombstone
        new_code = b.code
    log.info("label %s replaced by %s (by %s): %s", old_code, new_code, by.username if by else "cli", reason)
    return Replaced(old_code, new_code)


def retire_bin(code: str, reason: str, by: User | None = None) -> Bin:
    """Take a bin out of use for good (status retired, its label retired with the reason); commit."""
    reason = _reason(reason)
    with _minting():
        b = _active_bin(code)
        b.status = "retired"
        current = _current_label(b)
        if current is not None:
            current.retired_at, current.retired_reason = utcnow(), reason
    log.info("bin %s retired (by %s): %s", b.code, by.username if by else "cli", reason)
    return b


def label_for(b: Bin, the_plant: Plant | None, base_url: str) -> Label:
    """Return what a bin's label says: code, URL, workshop (or plant) name, bin type."""
    place = b.workshop or the_plant
    return Label(code=b.code, url=f"{base_url.rstrip('/')}/b/{b.code}",
                 title=place.name_zh if place else "", subtitle=place.name_en if place else "",
                 bin_type=b.bin_type or "")


def labels_for(bins: list[Bin], base_url: str) -> list[Label]:
    """Return the labels of bins."""
    the_plant = plant(create_with=None)
    return [label_for(b, the_plant, base_url) for b in bins]


def sample_labels(count: int, workshop_code: str | None, bin_type: str | None, base_url: str) -> list[Label]:
    """Return labels as the next `count` mints would print them, without minting anything."""
    place = workshop(workshop_code) or plant(create_with=None)
    first = _next_label_id(db.session)
    return [Label(code=mint(n), url=f"{base_url.rstrip('/')}/b/{mint(n)}",
                  title=place.name_zh if place else DEFAULT_PLANT["name_zh"],
                  subtitle=place.name_en if place else DEFAULT_PLANT["name_en"],
                  bin_type=(bin_type or "").strip()[:40]) for n in range(first, first + count)]


def check_printable(layout: str, fmt: str, base_url: str) -> None:
    """Refuse a layout, format or URL that cannot print, before anything is minted."""
    render([Label(code=mint(99999), url=f"{base_url.rstrip('/')}/b/{mint(99999)}")], layout, fmt)


def print_new(count: int, layout: str, fmt: str, base_url: str, workshop_code: str | None = None,
              bin_type: str | None = None, plant_name: str = "", dpi: int | None = None) -> tuple[list[str], Output]:
    """Mint `count` bins and render their labels; return the codes and the output."""
    check_printable(layout, fmt, base_url)
    bins = mint_bins(count, workshop_code, bin_type, plant_name)
    # Rendered after the commit: a long render must not hold the write lock. A failed render
    # loses nothing; the codes can be printed again with their codes.
    return [b.code for b in bins], render(labels_for(bins, base_url), layout, fmt, dpi)


def print_existing(codes: list[str], layout: str, fmt: str, base_url: str,
                   dpi: int | None = None) -> tuple[list[str], Output]:
    """Render the labels of existing bins again; return their codes and the output."""
    bins = bins_for_codes(codes)
    return [b.code for b in bins], render(labels_for(bins, base_url), layout, fmt, dpi)


@dataclass(frozen=True)
class LabelRow:
    """A label as the admin page lists it."""

    code: str
    bin_code: str
    bin_status: str
    workshop: str
    bin_type: str
    minted_at: object
    retired_at: object
    retired_reason: str | None


def recent(limit: int = 30) -> list[LabelRow]:
    """Return the latest minted labels, newest first, with their bins."""
    rows = db.session.execute(
        select(BinLabel, Bin, Workshop).join(Bin, BinLabel.bin_id == Bin.id)
        .outerjoin(Workshop, Workshop.id == Bin.workshop_id).order_by(BinLabel.id.desc()).limit(limit)
    ).all()
    return [LabelRow(label.code, b.code, b.status, ws.code if ws else "", b.bin_type or "", label.minted_at,
                     label.retired_at, label.retired_reason) for label, b, ws in rows]


def layouts_per_page() -> dict[str, int]:
    """Return how many labels each layout puts on a page."""
    return {name: layout.per_page for name, layout in LAYOUTS.items()}
