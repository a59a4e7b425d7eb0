"""Import a device's exported outbox (for a device that cannot reach the server) through the push path."""

from __future__ import annotations

import base64
import binascii
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import insert, select

from sync import schema
from sync.envelope import SHA256_RE
from webapp import jsonbody
from webapp.extensions import db
from webapp.models import User
from webapp.services import blobs, sync_service
from webapp.services.devices import now_ms

MAX_IMPORT_BYTES = 200 * 1024 * 1024


class ImportRefused(ValueError):
    """A file that is not an exported outbox; nothing was imported."""


@dataclass
class ImportReport:
    """What the import did, per status."""

    device_id: str
    stored: int = 0
    duplicate: int = 0
    quarantined: int = 0
    files_stored: int = 0
    files_refused: list[str] = field(default_factory=list)
    kept_as: str = ""


def _read(raw: bytes) -> dict:
    try:
        body = jsonbody.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, jsonbody.BadJSON) as exc:  # also nesting that would exhaust the stack
        raise ImportRefused("not JSON") from exc
    if not isinstance(body, dict) or body.get("format") != "shopfloor-outbox" or body.get("version") != 1:
        raise ImportRefused("not a Shopfloor export")
    try:
        body["device_id"] = str(uuid.UUID(str(body.get("device_id"))))
    except ValueError as exc:
        raise ImportRefused("no device id") from exc
    if not isinstance(body.get("events"), list) or not isinstance(body.get("attachments", []), list):
        raise ImportRefused("no events")
    return body


def _seq_order(event: object) -> int:
    """Order events by seq; one without a whole-number seq goes first (the push quarantines it)."""
    seq = event.get("seq") if isinstance(event, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0


def _keep(raw: bytes, device_id: str) -> str:
    """Keep the file as received, for the audit trail (nothing a device captured is ever dropped)."""
    folder = Path(current_app.config["UPLOAD_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{now_ms()}-{device_id}.json"
    path.write_bytes(raw)
    return str(path)


def _ensure_device(device_id: str, importer: User) -> None:
    """An export from a device the server never saw (storage wiped before it registered) still imports.

    Such a device is the server's ("import"): no client may register it, and nobody is taken to
    have signed in on it, so its events keep an actor only when that person really signed in on
    it; the rest are quarantined for the office with who imported them.
    """
    d = schema.devices
    if db.session.execute(select(d.c.id).where(d.c.id == device_id)).first() is None:
        db.session.execute(insert(d).values(id=device_id, user_id=importer.id, label="imported", kind="import",
                                            registered_at=0, acked_through_seq=0))
    db.session.commit()


def import_outbox(raw: bytes, importer: User) -> ImportReport:
    """Store the file's photos, then push its events for its device in batches, exactly as the device would."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise ImportRefused("too large")
    body = _read(raw)
    device_id = body["device_id"]
    report = ImportReport(device_id=device_id, kept_as=_keep(raw, device_id))
    # The file's "user" is a claim like any other: it makes nobody an actor (hole: an office user
    # could name the admin). Actors are checked per event against who signed in on the device.
    _ensure_device(device_id, importer)
    for item in body.get("attachments", []):
        sha = item.get("sha256") if isinstance(item, dict) else None
        if not isinstance(sha, str) or not SHA256_RE.match(sha):
            continue
        try:
            data_base64 = item.get("data_base64", "")
            if not isinstance(data_base64, str):
                raise ValueError("data_base64 must be text")
            data = base64.b64decode(data_base64, validate=True)
            blobs.put_whole(sha, io.BytesIO(data))
            report.files_stored += 1
        except (binascii.Error, ValueError, blobs.BlobRejected):
            report.files_refused.append(sha)
    events = sorted(body["events"], key=_seq_order)
    for start in range(0, len(events), 200):
        outcome = sync_service.push(device_id, {"events": events[start:start + 200], "build": "import"},
                                    None, pushed_by=importer.id)
        for result in outcome.results:
            setattr(report, result["status"], getattr(report, result["status"]) + 1)
    return report
