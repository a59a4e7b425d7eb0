"""Bins as people see them: the bin page (what a scan or a typed code means: webapp/domain/scanning.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Bin, BinLabel, Count, Inspection, Transfer
from webapp.services.floor_events import find_bin
from webapp.services.sync_service import events_for


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


def bin_view(code: str) -> BinView:
    """Load a bin by its code (or a replaced label's code) with its recent counts and events."""
    found = find_bin(db.session, code)
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
        transfers = db.session.execute(
            select(Transfer).where(Transfer.bin_id == found.id, Transfer.status == "open").order_by(Transfer.id)
        ).scalars().all()
        inspections = db.session.execute(
            select(Inspection).where(Inspection.bin_id == found.id, Inspection.status == "open").order_by(Inspection.id)
        ).scalars().all()
    return BinView(found, retired, counts, events, found.location_since if found else None, transfers, inspections)
