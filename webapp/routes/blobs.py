"""Photo and signature uploads (/api/v1/blobs/<sha256>): whole, or resumable in chunks. See shared/sync-protocol.md.

Also the request size caps of the views that take files (`allow_large_bodies`): every other request
may send MAX_CONTENT_LENGTH bytes at most.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, send_file
from flask_babel import gettext as _

from sync.blobs import BlobRejected, UnsupportedType
from sync.envelope import SHA256_RE
from webapp.auth import json_error, requires
from webapp.domain.roles import Can
from webapp.services import blobs, imports
from webapp.services.blobs import UploadState

bp = Blueprint("blobs", __name__, url_prefix="/api/v1/blobs")

CHUNK_TYPE = "application/offset+octet-stream"
IMMUTABLE = 365 * 24 * 3600  # a name is a hash: the bytes behind it never change
FORM_SLACK = 64 * 1024  # a multipart form's boundaries, headers and small fields around its file

# Views whose requests may be larger than MAX_CONTENT_LENGTH, and how large.
BODY_LIMITS = {
    "blobs.put_blob": blobs.MAX_BLOB_BYTES,  # a whole photo at once (chunks fit under the global cap)
    "counting.count_bin": blobs.MAX_BLOB_BYTES + FORM_SLACK,  # the count form with a photo, without JavaScript
    "office.import_outbox": imports.MAX_IMPORT_BYTES + FORM_SLACK,  # a device's exported outbox
}


@bp.app_url_value_preprocessor
def allow_large_bodies(endpoint: str | None, values: dict | None) -> None:
    """Raise the request size cap for the views that take files, before anything reads the body.

    URL value preprocessors run before every before_request function, and one of those (CSRF)
    reads a posted form. Werkzeug refuses a larger Content-Length at once and stops a longer body
    at the cap (413), so nothing past it is read.
    """
    limit = BODY_LIMITS.get(endpoint or "")
    if limit is not None:
        request.max_content_length = limit


def _with_state(response: Response, state: UploadState, status: int) -> Response:
    response.status_code = status
    response.headers["Upload-Offset"] = str(state.received)
    response.headers["Upload-Length"] = str(state.length)
    response.headers["Upload-Complete"] = "?1" if state.complete else "?0"
    response.headers["Cache-Control"] = "no-store"
    if state.complete:
        response.headers["Location"] = f"{bp.url_prefix}/{state.sha256}"
    return response


def _not_held():
    response = json_error(404, "not_found", _("The server does not hold this file."))
    response.headers["Cache-Control"] = "no-store"  # it may arrive any moment
    return response


def _too_large(limit: int):
    if limit == blobs.MAX_CHUNK_BYTES:
        return json_error(413, "chunk_too_large", _("Send at most 1 MiB in one chunk."), limit=limit)
    return json_error(413, "file_too_large", _("A file may be at most %(mib)d MiB.", mib=limit >> 20), limit=limit)


def _refused(exc: blobs.UploadRefused):
    """Not now: another device's upload of this file, or a quota. The device keeps the file and tries later."""
    if isinstance(exc, blobs.UploadInProgress):
        status, message = 409, _("Another device is uploading this file. Try again later.")
    elif isinstance(exc, blobs.DailyQuotaExceeded):
        status, message = 413, _("This device has sent %(mib)d MiB today, the most allowed in one day. "
                                 "Its photos stay on it and are sent tomorrow.", mib=(exc.limit or 0) >> 20)
    else:
        status, message = 413, _("This device already holds %(mib)d MiB of unfinished uploads, the most "
                                 "allowed. Its photos stay on it and are sent later.", mib=(exc.limit or 0) >> 20)
    extra = {"limit": exc.limit} if exc.limit is not None else {}
    response = json_error(status, exc.code, message, retry_after=exc.retry_after, **extra)
    response.headers["Retry-After"] = str(exc.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def _rejected(exc: BlobRejected):
    messages = {
        "hash_mismatch": _("The file's SHA-256 is not the one in its address. Send it again."),
        "length_mismatch": _("The file's length is not its Upload-Length. Send it again."),
        "not_an_image": _("The file is not a readable image."),
        "too_many_pixels": _("The image has too many pixels."),
        "unsupported_type": _("Send photos as JPEG, PNG or WebP."),
    }
    return json_error(415 if isinstance(exc, UnsupportedType) else 422, exc.code,
                      messages.get(exc.code, _("The file is not a readable image.")))


def _header_int(name: str) -> int | None:
    value = request.headers.get(name, "")
    return int(value) if value.isascii() and value.isdigit() else None


@bp.put("/<sha256>")
@requires(Can.SYNC)
def put_blob(sha256: str):
    """Receive a whole photo or signature image: 201 when stored now, 200 when already held."""
    if not SHA256_RE.match(sha256):
        return _not_held()
    if (request.content_length or 0) > blobs.MAX_BLOB_BYTES:
        return _too_large(blobs.MAX_BLOB_BYTES)
    try:
        state, created = blobs.put_whole(sha256, request.stream, uploader=blobs.current_uploader(),
                                         expected=request.content_length or 1)
    except blobs.TooLarge as exc:
        return _too_large(exc.limit)
    except blobs.UploadRefused as exc:
        return _refused(exc)
    except BlobRejected as exc:
        return _rejected(exc)
    return _with_state(jsonify(state.as_dict()), state, 201 if created else 200)


@bp.patch("/<sha256>")
@requires(Can.SYNC)
def patch_blob(sha256: str):
    """Receive one chunk of a resumable upload, written at Upload-Offset."""
    if not SHA256_RE.match(sha256):
        return _not_held()
    if request.mimetype != CHUNK_TYPE:
        return json_error(415, "wrong_content_type", _("Send chunks as application/offset+octet-stream."))
    offset, length = _header_int("Upload-Offset"), _header_int("Upload-Length")
    if offset is None or length is None:
        return json_error(400, "bad_upload_headers", _("Upload-Offset and Upload-Length must be whole numbers."))
    if length > blobs.MAX_BLOB_BYTES:
        return _too_large(blobs.MAX_BLOB_BYTES)
    if (request.content_length or 0) > blobs.MAX_CHUNK_BYTES:
        return _too_large(blobs.MAX_CHUNK_BYTES)
    try:
        state, completed = blobs.append_chunk(sha256, offset, length,
                                              request.stream.read(blobs.MAX_CHUNK_BYTES + 1),
                                              uploader=blobs.current_uploader())
    except blobs.TooLarge as exc:
        return _too_large(exc.limit)
    except blobs.UploadRefused as exc:
        return _refused(exc)
    except blobs.LengthChanged as exc:
        return _with_state(json_error(409, "length_changed", _("This upload began with another Upload-Length.")),
                           exc.state, 409)
    except blobs.OffsetMismatch as exc:
        return _with_state(json_error(409, "offset_mismatch", _("Continue from the Upload-Offset the server holds.")),
                           exc.state, 409)
    except blobs.ChunkPastEnd:
        return json_error(400, "chunk_past_end", _("The chunk runs past Upload-Length."))
    except BlobRejected as exc:
        return _rejected(exc)
    if not state.complete:
        return _with_state(Response(), state, 204)
    return _with_state(jsonify(state.as_dict()), state, 201 if completed else 200)


# Registered before the GET view on purpose: a GET rule answers HEAD too, and the first rule wins.
@bp.route("/<sha256>", methods=["HEAD"])
@requires(Can.SYNC)
def head_blob(sha256: str):
    """Say how many bytes of this file the server holds (Upload-Offset) and whether it is complete.

    Someone else's unfinished upload is not this caller's to go on with: 404, as for one never begun.
    """
    state = blobs.upload_state(sha256, blobs.current_uploader()) if SHA256_RE.match(sha256) else None
    if state is None:
        return _not_held()
    return _with_state(Response(), state, 200)


@bp.get("/<sha256>")
@requires(Can.SYNC)
def get_blob(sha256: str):
    """Show a complete photo or signature image (the cleaned copy), or its thumbnail with ?thumb=1."""
    thumb = request.args.get("thumb") in ("1", "true")
    found = blobs.open_image(sha256, thumb=thumb) if SHA256_RE.match(sha256) else None
    if found is None:
        return _not_held()
    response = send_file(found.file, mimetype=found.mime, etag=f"{sha256}-thumb" if thumb else sha256,
                         conditional=True)
    response.content_length = found.size
    response.headers["Cache-Control"] = f"private, max-age={IMMUTABLE}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
