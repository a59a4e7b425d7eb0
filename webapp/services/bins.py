"""Bins as people see them: the bin page (what a scan or a typed code means: webapp/domain/scanning.py).

Also the one lookup of a bin by a code: its current label, or a label it carried before and
that was replaced (the old label still opens the bin). Read models and handlers both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.models import Bin, BinLabel, Count, Inspection, Transfer, TransferBin
from webapp.services import slips
from webapp.services.records import events_for


def bins_by_code(session, codes: set[str] | list[str], *columns) -> dict[str, Any]:
    """Return rows of the bins that codes name (by current or replaced label), keyed by the code asked.

    `columns` are Bin columns to read; a row always has `id` and `code` (the bin's current code).
    """
    b = Bin.__table__.c
    wanted = [b.id, b.code, *[c for c in columns if c.key not in ("id", "code")]]
    codes = set(codes)
    found = {row.code: row for row in session.execute(select(*wanted).where(b.code.in_(codes)))}
    rest = codes - found.keys()
    if rest:
        found.update(_by_replaced_label(session, rest, wanted))
    return found


def _by_replaced_label(session, codes: set[str], wanted: list) -> dict[str, Any]:
    """Rows (of `wanted`) of the bins that once carried these labels, keyed by the label's code."""
    label = BinLabel.__table__.c
    rows = session.execute(select(label.code.label("label_code"), *wanted)
                           .join(Bin.__table__, label.bin_id == Bin.__table__.c.id).where(label.code.in_(codes)))
    return {row.label_code: row for row in rows}


def find_bin(code: str) -> Bin | None:
    """Return the bin a code names (its current label, or a replaced label of it), as the ORM object."""
    found = db.session.execute(select(Bin).where(Bin.code == code)).scalar_one_or_none()
    if found is None:
        row = _by_replaced_label(db.session, {code}, [Bin]).get(code)
        found = row.Bin if row is not None else None
    return found


@dataclass
class BinView:
    """What the bin page shows."""

    bin: Bin | None
    retired_label: BinLabel | None
    counts: list[Count]
    events: list[dict]
    since: datetime | None
    open_transfers: list[Transfer]
    open_inspections: list[Inspection]
    keeper: str | None = None  # in whose keeping the bin waits (a waiting area, §3.3)


def bin_view(code: str) -> BinView:
    """Load a bin by its code (or a replaced label's code) with its recent counts and events."""
    found = find_bin(code)
    retired = None
    if found is not None and (found.code != code or found.status == "retired"):
        # A replaced label (the code scanned), or a retired bin's own label: when and why.
        retired = db.session.execute(select(BinLabel).where(BinLabel.code == code)).scalar_one_or_none()
    counts = []
    if found is not None:
        counts = db.session.execute(
            select(Count).where(Count.bin_id == found.id).order_by(Count.counted_at.desc()).limit(10)
        ).scalars().all()
    events = events_for(f"bin:{found.code if found else code}", limit=20)
    transfers, inspections = [], []
    if found is not None:
        tb = TransferBin.__table__.c
        on_slip = select(tb.transfer_id).where(tb.bin_id == found.id)
        transfers = db.session.execute(
            select(Transfer).where(or_(Transfer.bin_id == found.id, Transfer.id.in_(on_slip)),
                                   Transfer.status.in_(("open", "discrepancy"))).order_by(Transfer.id)
        ).scalars().all()
        inspections = db.session.execute(
            select(Inspection).where(Inspection.bin_id == found.id, Inspection.status == "open").order_by(Inspection.id)
        ).scalars().all()
    keeper = None
    if found is not None and found.location is not None and found.location.kind == "waiting":
        keeper = slips.keeper_of(found.id)
    return BinView(found, retired, counts, events, found.location_since if found else None, transfers, inspections,
                   keeper)
