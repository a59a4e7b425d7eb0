"""The OpenAPI description of /api/v1: the routes by hand, every event type's payload from its spec."""

from webapp.areas import registry
from sync.envelope import MAX_EVENT_DEPTH, MAX_EVENTS_PER_PUSH, MAX_INT32, MAX_SAFE_INTEGER, TYPE_RE
from sync.ingest import MAX_SEQ_AHEAD

# Numbers are bounded by what the database and the device's JavaScript hold (sync/envelope.py);
# an event outside these bounds is still answered: quarantined, never refused.
_event = {
    "type": "object",
    "required": ["id", "device_id", "seq", "type", "v", "occurred_at", "actor_id", "payload"],
    "description": "An event outside this shape is kept in quarantine (status quarantined), never refused. "
                   f"Text may not hold U+0000 or a lone surrogate; an event nests at most {MAX_EVENT_DEPTH} "
                   f"levels; integers anywhere in it lie within ±{MAX_SAFE_INTEGER}.",
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "UUIDv7 made on the device"},
        "device_id": {"type": "string", "format": "uuid"},
        "seq": {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER,
                "description": f"gapless per device; one more than {MAX_SEQ_AHEAD:,} above acked_through_seq is "
                               "quarantined (seq_out_of_range)"},
        "type": {"type": "string", "pattern": TYPE_RE.pattern, "example": "bin.counted",
                 "description": "unknown types are quarantined"},
        "v": {"type": "integer", "minimum": 1, "maximum": MAX_INT32},
        "occurred_at": {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER,
                        "description": "device time, epoch ms"},
        "actor_id": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_INT32,
                     "description": "who did it (null or absent: the person the device token belongs to)"},
        "payload": {"type": "object", "description": "as its type and version say (Event.<type>.v<n>); "
                                                    "an older version is upgraded on the server"},
        "attachments": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
    },
}
_error = {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
# A second person's badge + PIN proof on a record (README, "Signing for someone else").
_signer = {"type": "object", "required": ["id", "badge", "content_hash", "proof"], "properties": {
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_INT32},
    "badge": {"type": "string", "pattern": "^[A-Z2-7]{8}$"},
    "content_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "proof": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}


def _event_types() -> tuple[dict, dict]:
    """Return, per event type and version, the payload's schema and the event that carries it."""
    payloads, events = {}, {}
    for name in registry.names():
        for v, spec in registry.get(name).specs().items():
            payload = spec.json_schema()
            if "signer" in payload["properties"]:
                payload["properties"]["signer"] = {"$ref": "#/components/schemas/Signer"}
            payloads[f"Payload.{name}.v{v}"] = payload
            events[f"Event.{name}.v{v}"] = {"allOf": [{"$ref": "#/components/schemas/Event"}, {
                "type": "object", "properties": {
                    "type": {"const": name}, "v": {"const": v},
                    "payload": {"$ref": f"#/components/schemas/Payload.{name}.v{v}"}}}]}
    return payloads, events


_payload_schemas, _event_schemas = _event_types()
_json = lambda schema: {"content": {"application/json": {"schema": schema}}}  # noqa: E731
_push = {"type": "object", "required": ["device_id", "events"], "properties": {
    "device_id": {"type": "string", "format": "uuid"},
    "build": {"type": "string", "description": "the device's build, \"<release>+<content hash>\""},
    "sent_at": {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER,
                "description": "device clock at sending, epoch ms (ignored outside these bounds)"},
    "pending": {"type": "integer", "minimum": 0, "maximum": MAX_INT32,
                "description": "events in the device's outbox (ignored outside these bounds)"},
    "events": {"type": "array", "maxItems": MAX_EVENTS_PER_PUSH, "items": {"anyOf": [
        *({"$ref": f"#/components/schemas/{name}"} for name in _event_schemas),
        {"$ref": "#/components/schemas/Event"}]}},
}}
_bad_request = {"description": "bad_json (not JSON, or nested deeper than 64 levels), bad_push, unknown_device, "
                               "csrf, session_required, bad_device_id", **_json(_error)}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Shopfloor sync API", "version": "1"},
    "components": {
        "securitySchemes": {
            "device": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "with the X-CSRFToken header on writes"},
        },
        "schemas": {"Event": _event, "Error": _error, "Signer": _signer, **_payload_schemas, **_event_schemas},
    },
    "security": [{"device": []}, {"session": []}],
    "paths": {
        "/api/v1/devices": {"post": {
            "summary": "Register (or re-register) a device for the signed-in person (session only)",
            "security": [{"session": []}],
            "requestBody": _json({"type": "object", "properties": {
                "device_id": {"type": "string", "format": "uuid"}, "label": {"type": "string", "maxLength": 120},
                "device_secret": {"type": "string", "minLength": 20, "maxLength": 200,
                                  "description": "made by the device; re-registering its id needs it"},
                "token": {"type": "string", "description": "the device's current token (proof it holds the id)"}}}),
            "responses": {"201": {"description": "device_id, token, expires_at, user"},
                          "400": _bad_request,
                          "401": {"description": "sign in first", **_json(_error)},
                          "403": {"description": "device revoked", **_json(_error)},
                          "409": {"description": "device_taken: the id belongs to another device", **_json(_error)}},
        }},
        "/api/v1/sync/push": {"post": {
            "summary": "Store events exactly once",
            "requestBody": {"required": True, **_json(_push)},
            "responses": {
                "400": _bad_request,
                "200": {"description": "server_now, acked_through_seq, missing_seqs, results; min_build (the "
                                       "oldest release allowed to pull, or null) and build (the server's own build)"},
                "401": {"description": "sign in again"}, "403": {"description": "device revoked"},
                "409": {"description": "a push from this device is in flight"},
                "413": {"description": "split the batch"},
            },
        }},
        "/api/v1/signatures/check": {"post": {
            "summary": "Check a second person's badge + PIN proof at once (see the README, signing for someone else)",
            "requestBody": {"required": True, **_json({"type": "object", "required": ["event_id", "signer"],
                                                       "properties": {
                "event_id": {"type": "string", "maxLength": 64, "description": "the record about to be saved"},
                "signer": {"$ref": "#/components/schemas/Signer"}}})},
            "responses": {"200": {"description": "verified, signer (id, display_name, role)"},
                          "400": {"description": "bad_json, bad_signature", **_json(_error)},
                          "422": {"description": "signature_unverified, with reason (wrong_pin, unknown_badge, "
                                                 "badge_revoked, no_pin, inactive, unknown_signer, malformed) and "
                                                 "attempts_left", **_json(_error)},
                          "429": {"description": "pin_locked: too many wrong PINs (Retry-After)", **_json(_error)}},
        }},
        "/api/v1/sync/pull": {"get": {
            "summary": "Reference data changed after a cursor",
            "parameters": [{"name": "cursor", "in": "query", "schema": {"type": "string"}},
                           {"name": "build", "in": "query", "schema": {"type": "string"},
                            "description": "the device's build, \"<release>+<content hash>\""}],
            "responses": {"200": {"description": "bins, operations, locations, products, work_orders, users, "
                                                 "transfers (open), inspections (open), settings, "
                                                 "deleted, cursor, has_more, reset_required, min_build, build"},
                          "426": {"description": "build_too_old: the device's release is below min_build "
                                                 "(push still works; update the app once the outbox is empty)",
                                  **_json(_error)}},
        }},
        "/api/v1/blobs/{sha256}": {
            "parameters": [{"name": "sha256", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
            "put": {"summary": "Upload a whole photo or signature (checked: length, SHA-256, a real image)",
                    "requestBody": {"required": True, "content": {
                        mime: {"schema": {"type": "string", "format": "binary"}}
                        for mime in ("image/jpeg", "image/png", "image/webp", "application/octet-stream")}},
                    "responses": {"201": {"description": "stored"}, "200": {"description": "already held"},
                                  "413": {"description": "too large"}, "415": {"description": "not JPEG/PNG/WebP"},
                                  "422": {"description": "hash or length mismatch, not an image, too many pixels"}}},
            "patch": {"summary": "Append a chunk at Upload-Offset (resumable; Upload-Length is the whole size)",
                      "parameters": [
                          {"name": "Upload-Offset", "in": "header", "required": True,
                           "schema": {"type": "integer", "minimum": 0}, "description": "bytes the server holds"},
                          {"name": "Upload-Length", "in": "header", "required": True,
                           "schema": {"type": "integer", "minimum": 1}, "description": "the whole file's size"}],
                      "requestBody": {"required": True, "content": {
                          "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                      "responses": {"204": {"description": "chunk stored"}, "201": {"description": "completed"},
                                    "409": {"description": "offset mismatch: continue from Upload-Offset"}}},
            "head": {"summary": "Bytes held (Upload-Offset), Upload-Length, Upload-Complete",
                     "responses": {"200": {"description": "started or complete"}, "404": {"description": "unknown"}}},
            "get": {"summary": "The stored image (orientation applied, metadata removed); ?thumb=1 for ≤320 px",
                    "parameters": [{"name": "thumb", "in": "query", "schema": {"type": "string", "enum": ["1"]}}],
                    "responses": {"200": {"description": "image"}, "404": {"description": "not held"}}},
        },
        "/api/v1/transfers/{transfer_id}": {"get": {
            "summary": "A transfer slip as its log says it is now",
            "parameters": [{"name": "transfer_id", "in": "path", "required": True,
                            "schema": {"type": "string", "maxLength": 36}}],
            "responses": {"200": {"description": "status (open, discrepancy, refused, complete), content, "
                                                 "content_hash, quantity, quantity_received, scrap_quantity, bins, "
                                                 "from, to, next_step, signatures (step, signer, quantity, verdict, "
                                                 "signed_at, device_id, verification, state), explanation, "
                                                 "written_off, refusal, flags"},
                          "404": {"description": "unknown_transfer", **_json(_error)}},
        }},
        "/api/v1/warehouse-slips/{slip_id}": {"get": {
            "summary": "A warehouse entry or issue slip: how a device learns the number the server gave it",
            "parameters": [{"name": "slip_id", "in": "path", "required": True,
                            "schema": {"type": "string", "maxLength": 36}}],
            "responses": {"200": {"description": "slip_id, provisional (true: the server has records of the slip but "
                                                 "not its filling in: number null), number, display_number, book, "
                                                 "kind, source, status (open, complete, void), content, content_hash, "
                                                 "steps, next_step, signatures (step, signer, quantity, signed_at, "
                                                 "verification, state), void, copies, flags"},
                          "403": {"description": "forbidden: a role without warehouse slips", **_json(_error)},
                          "404": {"description": "unknown_warehouse_slip", **_json(_error)}},
        }},
        "/api/v1/events": {"get": {
            "summary": "Stored events for the office",
            "parameters": [{"name": "bin_code", "in": "query", "schema": {"type": "string"}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "events with actor, device, device and server time"}},
        }},
    },
}
