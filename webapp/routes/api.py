"""The sync API (/api/v1): devices, push, pull, the event log. See shared/sync-protocol.md."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _

from sync.envelope import storable_text
from sync.ingest import DeviceBusy
from webapp.auth import api_user, json_error, public, requires
from webapp.domain.roles import Can
from webapp.jsonbody import body_or_error
from webapp.openapi import OPENAPI
from webapp.services import devices, records, sessions, signers, slips, sync_service
from webapp.services.transfers import UUID

bp = Blueprint("api", __name__, url_prefix="/api/v1")


error = json_error


@bp.post("/devices")
@requires(Can.SYNC)
def register_device():
    """Register this device for the signed-in person and return its token."""
    if getattr(g, "device", None) is not None:
        return error(400, "session_required", _("Register a device from a signed-in session."))
    body, problem = body_or_error()
    if problem is not None:
        return problem
    body = body if isinstance(body, dict) else {}

    def text(name: str) -> str | None:
        return body.get(name) if isinstance(body.get(name), str) else None

    try:
        result = devices.register_device(
            api_user(), text("device_id"), text("label") or "", request.user_agent.string or "",
            current_app.config["DEVICE_TOKEN_HOURS"], secret=text("device_secret"), token=text("token"),
            session_id=sessions.current_id(),
        )
    except ValueError:
        return error(400, "bad_device_id", _("The device id must be a UUID and its secret 20 to 200 characters."))
    except devices.DeviceRevoked:
        return error(403, "device_revoked", _("This device was revoked."))
    except devices.DeviceTaken:
        return error(409, "device_taken", _("This device id belongs to another device. Clear this app's data "
                                            "to start as a new device (export unsynced records first)."))
    return jsonify(result), 201


def _push_device():
    body, problem = body_or_error()
    if problem is not None:
        return None, None, problem
    if body is None:
        return None, None, error(400, "bad_json", _("The request body must be JSON."))
    device = getattr(g, "device", None)
    if device is None:
        device_id = body.get("device_id") if isinstance(body, dict) else None
        readable = isinstance(device_id, str) and len(device_id) <= 36 and storable_text(device_id)
        device = devices.device_of_user(device_id, api_user()) if readable else None
        if device is None:
            return None, None, error(400, "unknown_device", _("Register this device first."))
    elif isinstance(body, dict) and body.get("device_id") not in (None, device["id"]):
        return None, None, error(403, "wrong_device", _("This token belongs to another device."))
    return body, device, None


@bp.post("/sync/push")
@requires(Can.SYNC)
def push():
    """Store a batch of events exactly once each and say what happened to every one."""
    body, device, problem = _push_device()
    if problem is not None:
        return problem
    if device["revoked_at"] is not None:
        return error(403, "device_revoked", _("This device was revoked."))
    try:
        outcome = sync_service.push(device["id"], body, api_user().id)
    except sync_service.BadPush:
        return error(400, "bad_push", _("A push needs a list of events."))
    except sync_service.BatchTooLarge:
        return error(413, "batch_too_large", _("Send at most 200 events at a time."))
    except DeviceBusy:
        response = error(409, "device_busy", _("Another push from this device is in progress."))
        response.headers["Retry-After"] = "1"
        return response
    answer = outcome.as_dict(sync_service.min_build())
    answer.update(sync_service.builds())
    return jsonify(answer)


@bp.post("/signatures/check")
@requires(Can.SYNC)
def check_signature():
    """Check a second person's badge + PIN proof while the device waits: a wrong PIN is refused at once."""
    body, problem = body_or_error()
    if problem is not None:
        return problem
    body = body if isinstance(body, dict) else {}
    event_id, signer = body.get("event_id"), body.get("signer")
    if not isinstance(event_id, str) or len(event_id) > 64 or not isinstance(signer, dict):
        return error(400, "bad_signature", _("Send the record's id and the signer's proof."))
    try:
        verdict = signers.check_online(event_id, signer)
    except signers.PinLocked as exc:
        minutes = max(1, -(-(exc.until - signers.now_ms()) // 60000))
        response = error(429, "pin_locked", _("Too many wrong PINs. This person's PIN is locked for %(num)d minutes.",
                                               num=minutes))
        response.headers["Retry-After"] = str(minutes * 60)
        return response
    if not verdict.ok:
        return error(422, "signature_unverified", signers.reason_text(verdict.reason, verdict.attempts_left),
                     reason=verdict.reason, attempts_left=verdict.attempts_left)
    person = verdict.signer
    return jsonify(verified=True, signer={"id": person.id, "display_name": person.display_name, "role": person.role})


@bp.get("/sync/pull")
@requires(Can.SYNC)
def pull():
    """Return the next page of reference data after the device's cursor; 426 for a build below MIN_BUILD."""
    if sync_service.build_too_old(request.args.get("build")):
        # Push stays open to such a build, so its outbox drains; only new data is refused.
        return error(426, "build_too_old", _("This app version is too old. Update it once everything is synced."),
                     **sync_service.builds())
    return jsonify(sync_service.pull(request.args.get("cursor")))


@bp.get("/events")
@requires(Can.READ_EVENTS)
def events():
    """List stored events (optionally for one bin) with who, device, device time and server time."""
    bin_code = request.args.get("bin_code", "").strip().upper()
    if not storable_text(bin_code) or len(bin_code) > 100:
        return error(400, "bad_bin_code", _("That is not a bin code."))
    subject = f"bin:{bin_code}" if bin_code else None
    try:
        limit = max(1, min(int(request.args.get("limit", 200)), 1000))
    except ValueError:
        limit = 200
    return jsonify(events=records.events_for(subject, limit=limit))


@bp.get("/transfers/<transfer_id>")
@requires(Can.USE_FLOOR)
def transfer(transfer_id: str):
    """Return a transfer slip: status, content hash, quantities, each signature with its signer and state, flags."""
    found = slips.slip(transfer_id) if re.fullmatch(UUID, transfer_id) else None
    if found is None:
        return error(404, "unknown_transfer", _("No such transfer slip."))
    return jsonify(found)


@bp.get("/openapi.json")
@public
def openapi():
    """Describe this API."""
    return jsonify(OPENAPI)

