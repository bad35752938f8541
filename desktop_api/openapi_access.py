"""The OpenAPI parts of access: customer search and sharing, log-out, token refresh and
WebSocket tickets (merged into ``desktop_api.openapi``'s document)."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
STR: Schema = {"type": "string"}
E = "#/components/responses/E"
S = "#/components/schemas/"


def _ok(schema: Schema, text: str) -> Schema:
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, op_id: str, ok: Schema, errors: tuple[int, ...], *, description: str,
        params: list[Schema] | None = None, body: Schema | None = None) -> Schema:
    operation: Schema = {"operationId": op_id, "summary": summary, "description": description,
                         "tags": ["customers" if "ustomer" in op_id else "agents"],
                         "responses": {"200": ok, **{str(s): {"$ref": f"{E}{s}"} for s in errors}}}
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def access_schemas() -> dict[str, Schema]:
    return {
        "CustomerSearch": {"type": "object", "required": ["customers"], "additionalProperties": False,
                           "properties": {"customers": {"type": "array", "items": {"$ref": f"{S}Customer"}}}},
        "ShareRequest": {"type": "object", "required": ["agent_id", "days"], "additionalProperties": False,
                         "properties": {"agent_id": {"type": "string", "minLength": 1, "maxLength": 128},
                                        "days": {"type": "number", "exclusiveMinimum": 0, "maximum": 365}}},
        "Share": {"type": "object", "required": ["customer_id", "agent_id", "until"],
                  "properties": {"customer_id": STR, "agent_id": STR, "until": {"type": "number"}}},
        "Refreshed": {"type": "object", "required": ["token", "expires_at"],
                      "properties": {"token": STR, "expires_at": {"type": "integer"}}},
        "WsTicket": {"type": "object", "required": ["ticket", "expires_in"],
                     "properties": {"ticket": STR, "expires_in": {"type": "integer"}}},
        "LoggedOut": {"type": "object", "required": ["logged_out"],
                      "properties": {"logged_out": {"type": "boolean"}}},
    }


def access_paths() -> dict[str, Schema]:
    customer_id = {"name": "customer_id", "in": "path", "required": True, "description": "the customer id",
                   "schema": STR}
    return {
        "/api/customers": {"get": _op(
            "Find customers by name, e-mail, phone or another identity", "searchCustomers",
            _ok({"$ref": f"{S}CustomerSearch"}, "matching customers the caller may read, by name"),
            (400, 401),
            description="Agents find only customers they served within access.agent_history_days or "
                        "that were shared with them; supervisors their teams' customers; admins all. "
                        "At most access.max_search_results results.",
            params=[{"name": "q", "in": "query", "required": True, "description": "2-200 characters",
                     "schema": {"type": "string", "minLength": 2, "maxLength": 200}},
                    {"name": "limit", "in": "query", "required": False, "description": "1-200 (default 25)",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200}}])},
        "/api/customers/{customer_id}/share": {"post": _op(
            "Let an agent of your team read a customer for some days", "shareCustomer",
            _ok({"$ref": f"{S}Share"}, "the share"), (400, 401, 403, 404, 413),
            description="Supervisors (of that agent's team) and admins; audited as customer.share.",
            params=[customer_id], body={"$ref": f"{S}ShareRequest"})},
        "/api/logout": {"post": _op(
            "Log out: this token is refused from now on, on every node", "logout",
            _ok({"$ref": f"{S}LoggedOut"}, "logged out"), (401,),
            description="Revokes the token by its jti until it would have expired.")},
        "/api/token/refresh": {"post": _op(
            "A fresh token for a still-valid one, which is revoked", "refreshToken",
            _ok({"$ref": f"{S}Refreshed"}, "the new token"), (401,),
            description="Pages refresh before expiry (token_ttl, 8 h by default).")},
        "/api/ws-ticket": {"post": _op(
            "A one-time ticket that opens one WebSocket within 30 s", "wsTicket",
            _ok({"$ref": f"{S}WsTicket"}, "the ticket"), (401,),
            description="Open /ws/agent or /ws/supervisor with ?ticket=...; the token itself never "
                        "rides in a URL.")},
    }
