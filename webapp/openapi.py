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
                "device_id": {"type": "string"}, "build": {"type": "string"},
                "sent_at": {"type": "integer", "description": "device clock at sending, epoch ms"},
                "events": {"type": "array", "maxItems": 200, "items": {"$ref": "#/components/schemas/Event"}}}}),
            "responses": {
                "200": {"description": "server_now, acked_through_seq, missing_seqs, min_build, results"},
                "401": {"description": "sign in again"}, "403": {"description": "device revoked"},
                "409": {"description": "a push from this device is in flight"},
                "413": {"description": "split the batch"},
            },
        }},
        "/api/v1/sync/pull": {"get": {
            "summary": "Reference data changed after a cursor",
            "parameters": [{"name": "cursor", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "bins, operations, locations, products, work_orders, "
                                                 "deleted, cursor, has_more, reset_required"}},
        }},
        "/api/v1/events": {"get": {
            "summary": "Stored events for the office",
            "parameters": [{"name": "bin_code", "in": "query", "schema": {"type": "string"}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "events with actor, device, device and server time"}},
        }},
    },
}
