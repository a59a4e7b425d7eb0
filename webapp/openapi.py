"""The OpenAPI description of /api/v1 (kept by hand beside the routes it describes)."""

_event = {
    "type": "object",
    "required": ["id", "device_id", "seq", "type", "v", "occurred_at", "actor_id", "payload"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "UUIDv7 made on the device"},
        "device_id": {"type": "string", "format": "uuid"},
        "seq": {"type": "integer", "minimum": 1, "description": "gapless per device"},
        "type": {"type": "string", "example": "bin.counted"},
        "v": {"type": "integer", "minimum": 1},
        "occurred_at": {"type": "integer", "description": "device time, epoch ms"},
        "actor_id": {"type": "integer"},
        "payload": {"type": "object"},
        "attachments": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
    },
}
_error = {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
_json = lambda schema: {"content": {"application/json": {"schema": schema}}}  # noqa: E731

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Shopfloor sync API", "version": "1"},
    "components": {
        "securitySchemes": {
            "device": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "with the X-CSRFToken header on writes"},
        },
        "schemas": {"Event": _event, "Error": _error},
    },
    "security": [{"device": []}, {"session": []}],
    "paths": {
        "/api/v1/devices": {"post": {
            "summary": "Register a device for the signed-in person (session only)",
            "requestBody": _json({"type": "object", "properties": {
                "device_id": {"type": "string", "format": "uuid"}, "label": {"type": "string"}}}),
            "responses": {"201": {"description": "device_id, token, expires_at, user"},
                          "403": {"description": "device revoked", **_json(_error)}},
        }},
        "/api/v1/sync/push": {"post": {
            "summary": "Store events exactly once",
            "requestBody": _json({"type": "object", "required": ["device_id", "events"], "properties": {
                "device_id": {"type": "string"},
                "build": {"type": "string", "description": "the device's build, \"<release>+<content hash>\""},
                "sent_at": {"type": "integer", "description": "device clock at sending, epoch ms"},
                "events": {"type": "array", "maxItems": 200, "items": {"$ref": "#/components/schemas/Event"}}}}),
            "responses": {
                "200": {"description": "server_now, acked_through_seq, missing_seqs, results; min_build (the "
                                       "oldest release allowed to pull, or null) and build (the server's own build)"},
                "401": {"description": "sign in again"}, "403": {"description": "device revoked"},
                "409": {"description": "a push from this device is in flight"},
                "413": {"description": "split the batch"},
            },
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
                    "responses": {"201": {"description": "stored"}, "200": {"description": "already held"},
                                  "413": {"description": "too large"}, "415": {"description": "not JPEG/PNG/WebP"},
                                  "422": {"description": "hash or length mismatch, not an image, too many pixels"}}},
            "patch": {"summary": "Append a chunk at Upload-Offset (resumable; Upload-Length is the whole size)",
                      "responses": {"204": {"description": "chunk stored"}, "201": {"description": "completed"},
                                    "409": {"description": "offset mismatch: continue from Upload-Offset"}}},
            "head": {"summary": "Bytes held (Upload-Offset), Upload-Length, Upload-Complete",
                     "responses": {"200": {"description": "started or complete"}, "404": {"description": "unknown"}}},
            "get": {"summary": "The stored image (orientation applied, metadata removed); ?thumb=1 for ≤320 px",
                    "responses": {"200": {"description": "image"}, "404": {"description": "not held"}}},
        },
        "/api/v1/events": {"get": {
            "summary": "Stored events for the office",
            "parameters": [{"name": "bin_code", "in": "query", "schema": {"type": "string"}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "events with actor, device, device and server time"}},
        }},
    },
}
