"""The OpenAPI part of outbound webhooks' admin routes (``desktop_api.rest_webhooks``), merged
into ``desktop_api.openapi``'s document."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
E = "#/components/responses/E"
S = "#/components/schemas/"
STATUSES = ["pending", "delivered", "failed"]


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _ok(schema: Schema, text: str) -> Schema:
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, op_id: str, ok: Schema, errors: tuple[int, ...], *, description: str,
        params: list[Schema] | None = None, body: Schema | None = None) -> Schema:
    operation: Schema = {"operationId": op_id, "summary": summary, "description": description,
                         "tags": ["admin"],
                         "responses": {"200": ok, **{str(s): {"$ref": f"{E}{s}"} for s in errors}}}
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return operation


def webhook_schemas() -> dict[str, Schema]:
    counts = {s: {"type": "integer"} for s in STATUSES}
    subscriber = {"name": STR, "configured": {"type": "boolean"}, "url": _nullable(STR),
                  "events": {"type": "array", "items": STR},
                  "deliveries": {"type": "object", "properties": counts, "required": STATUSES}}
    delivery = {"id": STR, "subscriber": STR, "event_type": STR, "interaction_id": _nullable(STR),
                "status": {"type": "string", "enum": STATUSES}, "attempts": {"type": "integer"},
                "created_at": NUM, "next_attempt_at": _nullable(NUM), "last_attempt_at": _nullable(NUM),
                "last_status": _nullable({"type": "integer"}), "last_error": _nullable(STR),
                "finished_at": _nullable(NUM),
                "body": {"type": "object", "description": "the JSON every attempt sends (docs/webhooks.md)"}}
    return {
        "WebhookSubscriber": {"type": "object", "properties": subscriber, "required": list(subscriber)},
        "WebhookDelivery": {"type": "object", "properties": delivery, "required": list(delivery)},
        "WebhookReplayRequest": {"type": "object", "additionalProperties": False,
                                 "properties": {"subscriber": {"type": "string", "maxLength": 64}}},
        "WebhookReplayed": {"type": "object", "required": ["replayed"],
                            "properties": {"replayed": {"type": "integer"}}},
    }


def webhook_paths() -> dict[str, Schema]:
    admins = "Admins only."
    return {
        "/api/admin/webhooks": {"get": _op(
            "Outbound webhook subscribers, with their deliveries by status", "listWebhookSubscribers",
            _ok({"type": "array", "items": {"$ref": f"{S}WebhookSubscriber"}}, "the subscribers"),
            (401, 403, 503),
            description=f"{admins} A subscriber no longer configured is listed while it has deliveries.")},
        "/api/admin/webhooks/deliveries": {"get": _op(
            "Webhook deliveries, newest first", "listWebhookDeliveries",
            _ok({"type": "array", "items": {"$ref": f"{S}WebhookDelivery"}}, "the deliveries"),
            (400, 401, 403, 503), description=admins,
            params=[{"name": "status", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": STATUSES}},
                    {"name": "subscriber", "in": "query", "required": False,
                     "schema": {"type": "string", "maxLength": 64}},
                    {"name": "limit", "in": "query", "required": False, "description": "1-500 (default 100)",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500}}])},
        "/api/admin/webhooks/deliveries/{delivery_id}/replay": {"post": _op(
            "Send a failed delivery again", "replayWebhookDelivery",
            _ok({"$ref": f"{S}WebhookDelivery"}, "the delivery, pending again"),
            (400, 401, 403, 404, 409, 503),
            description=f"{admins} Same id and body as before, with a full retry period; audited "
                        "as webhook-replay.",
            params=[{"name": "delivery_id", "in": "path", "required": True, "schema": STR}])},
        "/api/admin/webhooks/replay": {"post": _op(
            "Send every failed delivery again, of one subscriber or of all", "replayWebhookDeliveries",
            _ok({"$ref": f"{S}WebhookReplayed"}, "how many were made pending"), (400, 401, 403, 404, 503),
            description=f"{admins} Audited as webhook-replay-all.",
            body={"$ref": f"{S}WebhookReplayRequest"})},
    }
