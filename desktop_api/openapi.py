"""The OpenAPI 3.1 description of the desktop API and the web chat, served at ``/api/openapi.json``.

The document is plain data, built once on first use. It describes every route the desktop API and
the web chat register, the objects they return and the error shape every 4xx carries. The message
types of the three WebSockets are in ``docs/websocket.md``; here the sockets appear as the GET
requests that upgrade.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from desktop_api.openapi_access import access_paths, access_schemas
from desktop_api.openapi_admin import admin_paths, admin_schemas
from desktop_api.openapi_campaigns import campaign_paths, campaign_schemas
from desktop_api.openapi_desk import desk_paths, desk_schemas
from desktop_api.openapi_figures import figures_paths, figures_schemas
from desktop_api.openapi_kb import kb_paths, kb_schemas
from desktop_api.openapi_observe import observe_paths
from desktop_api.openapi_reports import reports_paths, reports_schemas
from desktop_api.openapi_webhooks import webhook_paths, webhook_schemas

__all__ = ["openapi_document"]

Schema = dict[str, Any]

CHANNELS = ["voice", "chat", "email", "sms", "x", "slack", "callback"]
INTERACTION_STATES = ["new", "queued", "offered", "active", "wrap_up", "closed", "abandoned"]
AGENT_STATES = ["offline", "available", "busy", "wrap_up", "away"]
SETTABLE_STATES = ["available", "away", "busy", "offline"]
ROLES = ["agent", "supervisor", "admin"]
IDENTITY_KINDS = ["phone", "email", "chat", "x", "slack", "call", "site"]
SENDERS = ["customer", "agent", "system"]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"oneOf": [schema, {"type": "null"}]}


def _obj(properties: dict[str, Schema], *, required: list[str] | None = None,
         description: str | None = None, extra: bool = False) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    if not extra:
        schema["additionalProperties"] = False
    return schema


def _map_of(values: Schema, description: str | None = None) -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": values}
    if description:
        schema["description"] = description
    return schema


STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
EPOCH: Schema = {"type": "number", "description": "seconds since the epoch (UTC)"}
LIMIT: Schema = {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
_STATE = "(?:" + "|".join(INTERACTION_STATES) + ")"
STATE_LIST: Schema = {"type": "string", "pattern": f"^{_STATE}(?:,{_STATE})*$"}
# Path and query values: no control character (the server answers 400 bad-characters).
ONE_LINE: Schema = {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}


def _schemas() -> dict[str, Schema]:
    interaction_props: dict[str, Schema] = {
        "id": STR,
        "channel": _ref("Channel"),
        "direction": {"type": "string", "enum": ["inbound", "outbound"]},
        "customer_id": STR,
        "queue": STR,
        "state": _ref("InteractionState"),
        "priority": NUM,
        "skills": _map_of(INT, "required skill -> minimum level (1-10)"),
        "arrived_at": EPOCH,
        "queued_at": _nullable(EPOCH),
        "offered_at": _nullable(EPOCH),
        "answered_at": _nullable(EPOCH),
        "ended_at": _nullable(EPOCH),
        "agent_id": _nullable(STR),
        "channel_refs": _map_of(STR, "the channel's own references (e.g. chat_visitor, chat_session)"),
        "context": _map_of(STR, "collected context: IVR digits, chat page, answers"),
        "disposition": _nullable(STR),
        "subject": _nullable(STR),
        "customer_left": BOOL,
        "version": {"type": "integer", "minimum": 1,
                    "description": "bumped by every change; a change from an older one is redone"},
    }
    interaction_required = list(interaction_props)
    customer_props: dict[str, Schema] = {
        "id": STR,
        "display_name": _nullable(STR),
        "identities": {"type": "array", "items": _ref("Identity")},
        "created_at": EPOCH,
    }
    routing_reason = _obj({
        "rule": {"type": "string",
                 "description": "target-agent | preferred-agent | best-skill | longest-idle"},
        "urgency": {"type": "number", "description": "time waited / service target x priority"},
        "skill_match": _map_of(INT, "the agent's level for each required skill"),
        "preferred": BOOL,
        "waited": {"type": "number", "description": "seconds waited so far"},
    }, required=["rule", "urgency", "skill_match", "preferred", "waited"])
    return {
        "Channel": {"type": "string", "enum": CHANNELS},
        "InteractionState": {"type": "string", "enum": INTERACTION_STATES},
        "AgentState": {"type": "string", "enum": AGENT_STATES},
        "Role": {"type": "string", "enum": ROLES},
        "Error": _obj({
            "error_id": {"type": "string", "description": "stable kebab-case id, e.g. interaction-not-found",
                         "examples": ["interaction-not-found"]},
            "message": {"type": "string", "description": "human-readable; may change between versions"},
            "details": {"type": "object", "description": "what the error is about (ids, limits, fields)",
                        "additionalProperties": True},
        }, required=["error_id", "message", "details"]),
        "Identity": _obj({
            "kind": {"type": "string", "enum": IDENTITY_KINDS},
            "value": {"type": "string",
                      "description": "normalised: phone in E.164, e-mail lower-cased, x handle without @"},
        }, required=["kind", "value"]),
        "IdentityInput": _obj({
            "kind": {"type": "string", "enum": IDENTITY_KINDS},
            "value": {"type": "string", "description": "normalised by the server"},
        }, required=["kind", "value"]),
        "Customer": _obj(customer_props, required=list(customer_props)),
        "CustomerDetail": _obj({
            **customer_props,
            "merges": {"type": "array", "items": _ref("MergeRecord")},
        }, required=[*customer_props, "merges"]),
        "MergeRecord": _obj({
            "id": STR, "survivor_id": STR, "merged_id": STR, "reason": STR, "actor": STR, "at": EPOCH,
            "undone_at": _nullable(EPOCH),
        }, required=["id", "survivor_id", "merged_id", "reason", "actor", "at", "undone_at"]),
        "Message": _obj({
            "id": STR,
            "interaction_id": STR,
            "sender": {"type": "string", "enum": SENDERS},
            "body": STR,
            "at": EPOCH,
            "agent_id": _nullable(STR),
            "channel_ref": _nullable({"type": "string",
                                      "description": "the channel's own id of the message"}),
        }, required=["id", "interaction_id", "sender", "body", "at", "agent_id", "channel_ref"]),
        "Note": _obj({
            "id": STR, "interaction_id": STR, "author_id": STR, "body": STR, "at": EPOCH,
        }, required=["id", "interaction_id", "author_id", "body", "at"],
            description="an internal note; never shown to the customer"),
        "Interaction": _obj(interaction_props, required=interaction_required),
        "InteractionDetail": _obj({
            **interaction_props,
            "messages": {"type": "array", "items": _ref("Message")},
            "notes": {"type": "array", "items": _ref("Note")},
        }, required=[*interaction_required, "messages", "notes"]),
        "TimelineEntry": _obj({
            "kind": {"type": "string", "enum": ["interaction", "message", "note"]},
            "id": {"type": "string", "description": "the interaction, message or note id"},
            "at": EPOCH,
            "interaction_id": STR,
            "channel": _ref("Channel"),
            "customer_id": {"type": "string",
                            "description": "the customer it was recorded for (differs after a merge)"},
            "summary": {"type": "string",
                        "description": "message or note body (bounded), or '<channel> <direction> <state>'"},
            "sender": _nullable(STR),
            "state": _nullable(STR),
        }, required=["kind", "id", "at", "interaction_id", "channel", "customer_id", "summary",
                     "sender", "state"]),
        "TimelinePage": _obj({
            "entries": {"type": "array", "items": _ref("TimelineEntry"), "description": "newest first"},
            "next_cursor": _nullable({"type": "string",
                                      "description": "opaque; pass as ?before= for the next, older page"}),
        }, required=["entries", "next_cursor"]),
        "RoutingReason": routing_reason,
        "ScreenPop": _obj({
            "interaction": _ref("Interaction"),
            "customer": _obj({
                "id": STR, "display_name": _nullable(STR),
                "identities": {"type": "array", "items": _ref("Identity")},
            }, required=["id", "display_name", "identities"]),
            "timeline": {"type": "array", "items": _ref("TimelineEntry"),
                         "description": "every channel, newest first, bounded"},
            "channels_seen": {"type": "array", "items": _ref("Channel")},
            "context": _map_of(STR),
            "notes": {"type": "array", "items": _ref("Note")},
            "messages": {"type": "array", "items": _ref("Message")},
            "routing": _nullable(_ref("RoutingReason")),
            "identities": {"type": "array", "items": _ref("PresentedIdentity"),
                           "description": "every identity the interaction presented, with its level"},
            "claims": {"type": "array", "items": _ref("Claim"),
                       "description": "identities the customer claimed: shown, never trusted"},
        }, required=["interaction", "customer", "timeline", "channels_seen", "context", "notes",
                     "messages", "routing", "identities", "claims"],
            description="the document an agent gets when an interaction is offered; same for every channel"),
        "AgentView": _obj({
            "id": STR,
            "name": STR,
            "role": _ref("Role"),
            "team": _nullable(STR),
            "skills": _map_of(INT, "skill -> level (1-10)"),
            "capacity": _map_of(INT, "channel -> how many at once"),
            "state": _ref("AgentState"),
            "reason": _nullable({"type": "string", "description": "reason code of away/busy"}),
            "load": _map_of(INT, "channel -> slots in use (offered, active, wrapping up)"),
            "idle_since": _nullable(EPOCH),
        }, required=["id", "name", "role", "team", "skills", "capacity", "state", "reason", "load",
                     "idle_since"]),
        "LoginRequest": _obj({
            "agent_id": {"type": "string", "maxLength": 100},
            "password": {"type": "string", "maxLength": 200},
        }, required=["agent_id", "password"]),
        "LoginResponse": _obj({
            "token": {"type": "string", "description": "a bearer token (JWT) carrying the agent id and role"},
            "agent": _ref("AgentView"),
        }, required=["token", "agent"]),
        "StateChange": _obj({
            "state": {"type": "string", "enum": SETTABLE_STATES,
                      "description": "wrap_up is set by the router, never by hand"},
            "reason": {"type": "string", "maxLength": 64,
                       "description": "reason code, e.g. break, lunch, training"},
        }, required=["state"]),
        "BodyRequest": _obj({"body": {"type": "string", "minLength": 1, "pattern": "\\S",
                                      "description": "not blank; free text (tab and line breaks kept)"}},
                            required=["body"]),
        "TransferRequest": _obj({
            "queue": {"type": "string", "maxLength": 100},
            "agent_id": {"type": "string", "maxLength": 100},
            "note": {"type": "string", "maxLength": 10000,
                     "description": "kept on the interaction as an internal note"},
            "if_unavailable": {"type": "string", "enum": ["refuse", "queue"],
                               "description": "an agent who cannot take it now: refuse (409 "
                               "agent-unavailable) or queue it for them with a fallback to the queue "
                               "after the queue's transfer_fallback_seconds; default: the configuration's "
                               "routing.transfer_unavailable"},
        }, description="exactly one of queue or agent_id"),
        "PriorityRequest": _obj({
            "priority": {"type": "number", "minimum": 1, "maximum": 10},
        }, required=["priority"]),
        "CompleteRequest": _obj({
            "disposition": {"type": "string", "minLength": 1, "maxLength": 100,
                            "examples": ["resolved", "follow-up", "escalated", "no-response"]},
            "note": {"type": "string", "maxLength": 10000},
        }, required=["disposition"]),
        "LinkRequest": _obj({
            "a": _ref("IdentityInput"),
            "b": _ref("IdentityInput"),
            "reason": {"type": "string", "minLength": 1, "maxLength": 500},
        }, required=["a", "b", "reason"]),
        "UnlinkRequest": _obj({"identity": _ref("IdentityInput")}, required=["identity"]),
        "UnmergeResult": _obj({"survivor": _ref("Customer"), "restored": _ref("Customer")},
                              required=["survivor", "restored"]),
        "Candidate": _obj({
            "agent_id": STR,
            "eligible": BOOL,
            "why_not": _nullable({
                "type": "string",
                "description": "not-available | missing-skill:<skill> | no-capacity:<channel>"}),
            "skill_match": _map_of(INT),
            "preferred": BOOL,
            "idle_since": EPOCH,
        }, required=["agent_id", "eligible", "why_not", "skill_match", "preferred", "idle_since"]),
        "Assignment": _obj({"interaction_id": STR, "agent_id": STR, "reason": _ref("RoutingReason")},
                           required=["interaction_id", "agent_id", "reason"]),
        "Explanation": _obj({
            "interaction_id": STR,
            "urgency": NUM,
            "rank": {"type": "integer", "description": "position among waiting interactions (1 = first)"},
            "chosen": _nullable(_ref("Assignment")),
            "candidates": {"type": "array", "items": _ref("Candidate")},
        }, required=["interaction_id", "urgency", "rank", "chosen", "candidates"],
            description="a dry run: who would get the interaction now, and why; nothing changes"),
        "QueueStats": _obj({
            "at": EPOCH,
            "waiting": {"type": "integer", "description": "items waiting for an offer"},
            "offered": {"type": "integer", "description": "offers out, not yet answered"},
            "active": {"type": "integer", "description": "accepted work not yet released"},
            "wrapping": {"type": "integer", "description": "slots held for wrap-up"},
            "waiting_by_queue": _map_of(_map_of(INT), "queue -> channel -> waiting count"),
            "oldest_wait": _map_of(NUM, "queue -> seconds its longest-waiting item has waited"),
            "agents_by_state": _map_of(INT, "agent state -> count, zeros included"),
            "queues_configured": _map_of(_obj({
                "skills": _map_of(INT),
                "service_targets": _map_of(NUM, "channel -> seconds"),
            }, required=["skills", "service_targets"])),
            "service_level_window": {"type": "number",
                                     "description": "seconds back the service level covers"},
            "service_level": _map_of(_map_of(_ref("ServiceLevel")),
                                     "queue -> channel -> service level of the window's inbound work"),
        }, required=["at", "waiting", "offered", "active", "wrapping", "waiting_by_queue", "oldest_wait",
                     "agents_by_state", "queues_configured", "service_level_window", "service_level"],
            extra=True,
            description="live figures from the routing store plus the configured queues"),
        "ServiceLevel": _obj({
            "target": {"type": "number", "description": "the channel's service target, seconds"},
            "answered": INT, "answered_in_target": INT, "abandoned": INT,
            "abandoned_in_target": {
                "type": "integer", "description": "gave up before the target: not counted against the level"},
            "level": _nullable({
                "type": "number", "minimum": 0, "maximum": 1,
                "description": "answered in target / (answered + abandoned after the target)"}),
            "average_answer": _nullable({"type": "number", "description": "seconds from queued to answered"}),
        }, required=["target", "answered", "answered_in_target", "abandoned", "abandoned_in_target", "level",
                     "average_answer"]),
        "AuditEntry": _obj({
            "id": STR, "at": EPOCH, "actor": STR, "action": STR, "target": STR,
            "details": {"type": "object", "additionalProperties": True},
        }, required=["id", "at", "actor", "action", "target", "details"]),
        "Health": _obj({"status": {"type": "string", "const": "ok"}, "node": STR},
                       required=["status", "node"]),
    }


ERROR_TEXT = {
    400: "Malformed input (malformed-json, too-deep, bad-characters, bad-id, missing-field, bad-field, "
         "unknown-field, field-too-long, query-too-long, bad-limit, ...)",
    401: "Missing, expired or invalid token (bad-token)",
    403: "The token's role or owner may not do this (wrong-role, not-your-interaction, not-your-team)",
    404: "An id that does not exist (interaction-not-found, customer-not-found, agent-not-found, ...)",
    409: "Not allowed in the current state (invalid-state, invalid-transition, offer-not-yours, "
         "customer-left, config-changed, ...)",
    413: "The request body is larger than 64 KiB",
    429: "Too many failed log-ins for this account or from this address (too-many-attempts), or too "
         "many requests to the public knowledge paths from this client (too-many-requests); "
         "the Retry-After header says how many seconds to wait",
    503: "A part this needs is not configured or not reachable (voice-not-configured, "
         "voice-unavailable)",
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, *, tag: str, ok: tuple[int, Schema, str] | None = None,
        errors: tuple[int, ...] = (401,), body: Schema | None = None,
        params: list[Schema] | None = None, public: bool = False,
        description: str | None = None, op_id: str) -> Schema:
    operation: Schema = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    responses: dict[str, Schema] = {}
    if ok is not None:
        status, schema, text = ok
        responses[str(status)] = _json(schema, text)
    # 400 on every operation: the input gate refuses control characters in any path or query value.
    for status in sorted({400, *errors}):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    operation["responses"] = responses
    if public:
        operation["security"] = []
    return operation


def _file_op(summary: str, *, tag: str, params: list[Schema], errors: tuple[int, ...], op_id: str,
             description: str) -> Schema:
    operation = _op(summary, tag=tag, params=params, errors=errors, op_id=op_id, description=description)
    operation["responses"]["200"] = {"description": "the file, with the type it was sent as",
                                     "content": {"application/octet-stream": {"schema": {
                                         "type": "string", "format": "binary"}}}}
    return operation


def _path_param(name: str, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {**ONE_LINE, "minLength": 1, "maxLength": 200}}


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or ONE_LINE}


def _page(summary: str, op_id: str) -> Schema:
    return {"get": {
        "operationId": op_id, "summary": summary, "tags": ["pages"], "security": [],
        "responses": {"200": {"description": "an HTML page",
                              "content": {"text/html": {"schema": STR}}}},
    }}


def _asset(summary: str, op_id: str, media: str) -> Schema:
    return {"get": {
        "operationId": op_id, "summary": summary, "tags": ["pages"], "security": [],
        "responses": {"200": {"description": "a file of the pages", "content": {media: {"schema": STR}}}},
    }}


def _module() -> Schema:
    operation = _asset("One ES module of the desktop pages (agent/, supervisor/, admin/, reports/, "
                       "wallboard/, shared/, and vendor/ for uPlot; docs/frontend.md)",
                       "pageModule", "text/javascript")
    operation["get"]["parameters"] = [_path_param("path", "the module's path under js/, ending in .js, "
                                                          "e.g. agent/main.js")]
    operation["get"]["responses"]["404"] = {"$ref": "#/components/responses/E404"}
    return operation


def _socket(summary: str, description: str, *, op_id: str, auth: bool,
            errors: tuple[int, ...]) -> Schema:
    operation: Schema = {
        "operationId": op_id, "summary": summary, "tags": ["websockets"], "description": description,
        "parameters": [
            {"name": "Upgrade", "in": "header", "required": True, "schema": {"type": "string",
                                                                           "const": "websocket"}},
        ],
        "responses": {"101": {"description": "Switching Protocols: the WebSocket is open; every frame "
                                             "either way is one JSON text object with a `type` "
                                             "(message types and examples: docs/websocket.md)"}},
    }
    if auth:
        operation["parameters"].append(_query(
            "token", "the bearer token (browsers cannot set headers on a WebSocket handshake); "
                     "an Authorization header works too"))
    else:
        operation["security"] = []
    for status in errors:
        operation["responses"][str(status)] = {"$ref": f"#/components/responses/E{status}"}
    return {"get": operation}


def _paths() -> dict[str, Schema]:
    interaction_id = _path_param("interaction_id", "the interaction id")
    customer_id = _path_param("customer_id", "the customer id")
    agent_id = _path_param("agent_id", "the agent id")
    interaction_ok = (200, _ref("Interaction"), "the interaction after the change")
    return {
        "/": _page("The landing page", "landingPage"),
        "/agent": _page("The agent desktop page", "agentPage"),
        "/supervisor": _page("The supervisor board page", "supervisorPage"),
        "/admin": _page("The admin page: the live configuration and its versions", "adminPage"),
        "/reports": _page("The reports page: figures, trends and journeys for supervisors", "reportsPage"),
        "/assets/vendor/uplot.min.css": _asset("uPlot's style", "uplotStyle", "text/css"),
        "/assets/desk.css": _asset("The style the desktop pages share", "deskStyle", "text/css"),
        "/assets/js/{path}": _module(),
        "/chat": _page("The visitor chat widget page", "chatPage"),
        "/chat/chat.js": _asset("The chat widget's script", "chatScript", "text/javascript"),
        "/chat/chat.css": _asset("The chat widget's style", "chatStyle", "text/css"),
        "/chat/waiting.js": _asset("The chat widget's waiting panel (queue position, callback)",
                                   "chatWaitingScript", "text/javascript"),
        "/healthz": {"get": _op("Liveness: the node answers", tag="system", public=True, errors=(),
                                ok=(200, _ref("Health"), "the node is up"), op_id="health")},
        "/api/openapi.json": {"get": _op(
            "This document", tag="system", public=True, errors=(),
            ok=(200, {"type": "object"}, "the OpenAPI 3.1 document"), op_id="openapi")},
        "/api/login": {"post": _op(
            "Log in and get a bearer token", tag="agents", public=True, errors=(400, 401, 413, 429),
            body=_ref("LoginRequest"), ok=(200, _ref("LoginResponse"), "a token and the agent"),
            description="One answer (401 bad-credentials) for an unknown agent and a wrong password. "
                        "Failures slow down, then lock out, the account and the address (429).",
            op_id="login")},
        "/api/me": {"get": _op("The logged-in agent", tag="agents",
                               ok=(200, _ref("AgentView"), "the agent and their state"), op_id="me")},
        "/api/agents": {"get": _op(
            "Agents the caller may see", tag="agents",
            ok=(200, {"type": "array", "items": _ref("AgentView")}, "agents"),
            description="An agent sees themself; a supervisor the agents of their teams; an admin all.",
            op_id="listAgents")},
        "/api/agents/{agent_id}": {"get": _op(
            "One agent", tag="agents", params=[agent_id], errors=(401, 403, 404),
            ok=(200, _ref("AgentView"), "the agent"), op_id="getAgent")},
        "/api/agents/{agent_id}/state": {"put": _op(
            "Set an agent's state (available, away with a reason code, busy, offline)", tag="agents",
            params=[agent_id], body=_ref("StateChange"), errors=(400, 401, 403, 404, 413),
            ok=(200, _ref("AgentView"), "the agent in the new state"),
            description="Agents set their own state; supervisors that of their teams' agents, "
                        "admins anyone's. A change by someone else is audited.",
            op_id="setAgentState")},
        "/api/interactions": {"get": _op(
            "List interactions", tag="interactions", errors=(400, 401),
            params=[
                _query("state", "comma-separated interaction states, e.g. queued,offered", STATE_LIST),
                _query("agent_id", "only this agent's (supervisors and admins; agents always get "
                                   "their own)"),
                _query("limit", "at most this many, 1-200 (default 50)", LIMIT),
            ],
            ok=(200, {"type": "array", "items": _ref("Interaction")}, "interactions"),
            op_id="listInteractions")},
        "/api/interactions/{interaction_id}": {"get": _op(
            "One interaction with its messages and notes", tag="interactions", params=[interaction_id],
            errors=(401, 403, 404), ok=(200, _ref("InteractionDetail"), "the interaction"),
            description="Agents see only interactions offered or given to them.",
            op_id="getInteraction")},
        "/api/interactions/{interaction_id}/screen-pop": {"get": _op(
            "The screen pop of an interaction", tag="interactions", params=[interaction_id],
            errors=(401, 403, 404), ok=(200, _ref("ScreenPop"), "the screen pop"),
            op_id="getScreenPop")},
        "/api/interactions/{interaction_id}/attachments/{ref}": {"get": _file_op(
            "A file the customer sent (an e-mail attachment), as a download", tag="interactions",
            params=[interaction_id, _path_param("ref", "sha256:<64 hex digits>, as listed in the message")],
            errors=(400, 401, 403, 404), op_id="getAttachment",
            description="Only files listed in one of the interaction's customer messages are served, "
                        "to whoever may see the interaction; always with Content-Disposition: attachment.")},
        "/api/interactions/{interaction_id}/accept": {"post": _op(
            "Accept an offer made to the caller", tag="interactions", params=[interaction_id],
            errors=(401, 404, 409), ok=interaction_ok, op_id="acceptInteraction")},
        "/api/interactions/{interaction_id}/reject": {"post": _op(
            "Reject an offer made to the caller; it goes back to the queue with its wait time",
            tag="interactions", params=[interaction_id], errors=(401, 404, 409),
            ok=(200, _obj({"rejected": {"type": "boolean", "const": True}}, required=["rejected"]),
                "rejected"),
            op_id="rejectInteraction")},
        "/api/interactions/{interaction_id}/reply": {"post": _op(
            "Send a reply to the customer on the interaction's channel", tag="interactions",
            params=[interaction_id], body=_ref("BodyRequest"), errors=(400, 401, 403, 404, 409, 413),
            ok=(201, _ref("Message"), "the stored message"), op_id="replyInteraction")},
        "/api/interactions/{interaction_id}/notes": {"post": _op(
            "Add an internal note", tag="interactions", params=[interaction_id],
            body=_ref("BodyRequest"), errors=(400, 401, 403, 404, 413),
            ok=(201, _ref("Note"), "the stored note"), op_id="addNote")},
        "/api/interactions/{interaction_id}/transfer": {"post": _op(
            "Transfer to a queue or an agent; the id, context and notes stay. An agent who cannot "
            "take it now (offline, away, busy, no free slot, a skill missing) is refused with 409 "
            "agent-unavailable, or with if_unavailable=queue the work waits for them and falls back "
            "to the queue", tag="interactions",
            params=[interaction_id], body=_ref("TransferRequest"), errors=(400, 401, 403, 404, 409, 413),
            ok=interaction_ok, op_id="transferInteraction")},
        "/api/interactions/{interaction_id}/priority": {"post": _op(
            "Set an interaction's priority (1..10); waiting work is ranked by it at once",
            tag="interactions", params=[interaction_id], body=_ref("PriorityRequest"),
            errors=(400, 401, 403, 404, 409, 413), ok=interaction_ok,
            description="Supervisors (of the work's queue's teams) and admins; audited.",
            op_id="setInteractionPriority")},
        "/api/interactions/{interaction_id}/complete": {"post": _op(
            "Close the interaction with a disposition", tag="interactions", params=[interaction_id],
            body=_ref("CompleteRequest"), errors=(400, 401, 403, 404, 409, 413), ok=interaction_ok,
            op_id="completeInteraction")},
        "/api/routing/explain/{interaction_id}": {"get": _op(
            "Why the router would give this interaction to whom (dry run)", tag="routing",
            params=[interaction_id], errors=(401, 403, 404, 409),
            ok=(200, _ref("Explanation"), "the explanation"),
            description="Supervisors and admins.", op_id="explainRouting")},
        "/api/customers/link": {"post": _op(
            "Prove two identities belong to one customer (merges customers if needed)", tag="customers",
            body=_ref("LinkRequest"), errors=(400, 401, 404, 409, 413),
            ok=(200, _ref("Customer"), "the customer who now holds both identities"),
            description="Supervisors and admins, or an agent holding an interaction of one of the two "
                        "customers (anyone else: 404, whether the identities exist or not). The merge is "
                        "recorded with the reason and can be undone.", op_id="linkIdentities")},
        "/api/customers/{customer_id}": {"get": _op(
            "A customer with identities and merge history", tag="customers", params=[customer_id],
            errors=(401, 404), ok=(200, _ref("CustomerDetail"), "the customer"), op_id="getCustomer")},
        "/api/customers/{customer_id}/timeline": {"get": _op(
            "The customer's unified timeline across channels, newest first", tag="customers",
            params=[customer_id,
                    _query("limit", "entries per page, 1-200 (default 50)", LIMIT),
                    _query("before", "the next_cursor of the previous page")],
            errors=(400, 401, 404), ok=(200, _ref("TimelinePage"), "one page of the timeline"),
            op_id="getTimeline")},
        "/api/customers/{customer_id}/unlink": {"post": _op(
            "Remove an identity from a customer", tag="customers", params=[customer_id],
            body=_ref("UnlinkRequest"), errors=(400, 401, 404, 409, 413),
            ok=(200, _ref("Customer"), "the customer without the identity"), op_id="unlinkIdentity")},
        "/api/merges/{merge_id}/undo": {"post": _op(
            "Undo a customer merge", tag="customers",
            params=[_path_param("merge_id", "the merge record id")], errors=(401, 403, 404, 409),
            ok=(200, _ref("UnmergeResult"), "both customers after the undo"),
            description="Supervisors and admins; audited.", op_id="undoMerge")},
        "/api/queues": {"get": _op(
            "Queue figures, service levels and configuration", tag="routing",
            params=[_query("window", "seconds back the service level covers (60 to 604800; default 3600)",
                           {"type": "number", "minimum": 60, "maximum": 604800, "default": 3600})],
            errors=(400, 401), ok=(200, _ref("QueueStats"), "queue statistics"), op_id="queues")},
        "/api/audit": {"get": _op(
            "The audit log of supervisor and admin actions, newest first", tag="admin",
            params=[_query("target", "only entries about this target (agent, customer, merge id)")],
            errors=(401, 403), ok=(200, {"type": "array", "items": _ref("AuditEntry")}, "entries"),
            description="Supervisors and admins; at most 200 entries.", op_id="auditLog")},
        **_voice_paths(interaction_id, agent_id),
        **identity_paths(interaction_id, customer_id),
        "/ws/agent": _socket(
            "The agent WebSocket: pushed events out, commands in",
            "First message: `hello` with the agent and screen pops of their open work. Then the domain "
            "events that concern the agent (`interaction.offered`, `message.added`, ...). Commands: "
            "accept, reject, reply, note, transfer, complete, set_state; each answered by `ack` or "
            "`error` echoing the command's `ref`.",
            op_id="agentSocket", auth=True, errors=(401,)),
        "/ws/supervisor": _socket(
            "The supervisor WebSocket: queue events and the events of the supervised teams",
            "First message: `hello` with queue figures and the supervised agents. Then every queue "
            "event and the events of the supervised agents. Same commands as the agent socket.",
            op_id="supervisorSocket", auth=True, errors=(401, 403)),
        "/ws/chat": _socket(
            "The visitor chat WebSocket (no authentication)",
            "The client sends `hello` first and gets `welcome`: a new visitor gets its `visitor_id` "
            "and `session_secret`; a returning one sends both back and gets the messages so far. "
            "A site-signed `identifier` (`site`, `identifier_hash`) makes a verified identity; typed "
            "`email`/`phone` are claims, proven with `send_code` and `verify_code`. Then `message` "
            "and `leave`; the server pushes `message`, `status`, `code_sent`, `verified` and `error`.",
            op_id="chatSocket", auth=False, errors=()),
    }


def _voice_paths(interaction_id: Schema, agent_id: Schema) -> dict[str, Schema]:
    """Call control on the path carrying the call (the Asterisk bridge, Twilio); 503 when neither
    carries it or the path is down."""
    accepted = (202, _obj({}, extra=True),
                "the action was sent to Asterisk or Twilio; events follow on the socket")
    call_errors = (400, 401, 403, 404, 409, 503)

    def call_op(summary: str, op_id: str, body: Schema | None = None) -> Schema:
        return {"post": _op(summary, tag="voice", params=[interaction_id], body=body,
                            errors=call_errors, ok=accepted, op_id=op_id)}

    return {
        "/api/interactions/{interaction_id}/hold": {"post": _op(
            "Hold or resume the caller (music on hold while held)", tag="voice", params=[interaction_id],
            body=_obj({"hold": BOOL}, required=["hold"]), errors=call_errors,
            ok=(200, _obj({"interaction_id": STR, "held": BOOL}), "the new hold state"),
            op_id="holdCall")},
        "/api/interactions/{interaction_id}/hangup": call_op("Hang up the call", "hangupCall"),
        "/api/interactions/{interaction_id}/consult": call_op(
            "Consult another agent (attended transfer) while the caller holds", "consultCall",
            _obj({"agent_id": STR}, required=["agent_id"])),
        "/api/interactions/{interaction_id}/consult/cancel": call_op(
            "Cancel the consultation and return to the caller", "cancelConsult"),
        "/api/interactions/{interaction_id}/consult/complete": call_op(
            "Complete the consult transfer: the caller stays with the consulted agent",
            "completeConsult"),
        "/api/interactions/{interaction_id}/recording": call_op(
            "Start, pause, resume or stop recording the call", "recordCall",
            _obj({"action": {"type": "string", "enum": ["start", "pause", "resume", "stop"]}},
                 required=["action"])),
        "/api/calls": {"post": _op(
            "Click-to-dial: ring the agent's phone, then the customer", tag="voice",
            body=_obj({"number": STR, "queue": STR}, required=["number"]), errors=(400, 401, 404, 503),
            description="Through Asterisk when the agent has a phone there, else through Twilio.",
            ok=(201, _ref("Interaction"), "the outbound voice interaction"), op_id="dial")},
        "/api/agents/{agent_id}/monitor": {"post": _op(
            "Listen to, whisper to or barge into the agent's live call on the supervisor's phone",
            tag="voice", params=[agent_id],
            body=_obj({"mode": {"type": "string", "enum": ["listen", "whisper", "barge"]}},
                      required=["mode"]),
            errors=(400, 401, 403, 404, 409, 503), ok=accepted,
            description="Supervisors of the agent's team and admins; audited.", op_id="monitorAgent")},
        "/api/voice": {"get": _op(
            "The telephony link: connected or not, callers waiting, phones unreachable", tag="voice",
            errors=(401, 403), ok=(200, _obj({}, extra=True), "the link's status"),
            description="Supervisors and admins.", op_id="voiceStatus")},
    }


@functools.cache
def _build() -> dict[str, Any]:
    responses = {
        f"E{status}": _json(_ref("Error"), text) for status, text in ERROR_TEXT.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Contact-center desktop API",
            "version": "0.1.0",
            "description": "REST resources of the contact-center server, the agent and supervisor "
                           "WebSockets and the visitor chat socket. Every error is a JSON object "
                           "`{error_id, message, details}`; `error_id` is stable. See docs/api.md. "
                           "Input rules for every request: JSON nests at most 32 levels (too-deep); "
                           "no string, path parameter or query value may hold NUL, another control "
                           "character or a lone surrogate (bad-characters; free-text bodies keep tab, "
                           "line feed and carriage return); ids are printable, 1-200 characters.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "tags": [
            {"name": "agents", "description": "log-in, agents and their states"},
            {"name": "interactions", "description": "interactions and the agent's actions on them"},
            {"name": "customers", "description": "customers, identities, timelines and merges"},
            {"name": "routing", "description": "queues and routing explanations"},
            {"name": "admin",
             "description": "the audit log, live administration (docs/admin.md), outbound webhooks"},
            {"name": "reports", "description": "interaction event logs, the figures read from them, reports"},
            {"name": "knowledge", "description": "articles, versions and search (docs/knowledge.md)"},
            {"name": "voice", "description": "call control through Asterisk or Twilio"},
            {"name": "campaigns", "description": "campaign notices (docs/campaigns.md)"},
            {"name": "surveys", "description": "the signed survey page (docs/campaigns.md)"},
            {"name": "websockets", "description": "sockets; messages in docs/websocket.md"},
            {"name": "pages", "description": "web pages served by the server"},
            {"name": "system", "description": "health and this document"},
        ],
        "security": [{"bearerAuth": []}],
        "paths": {**_paths(), **access_paths(), **admin_paths(), **webhook_paths(), **observe_paths(),
                  **figures_paths(), **reports_paths(),
                  **supervision_paths(), **desk_paths(),
                  **campaign_paths(), **kb_paths()},
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "the token from POST /api/login"},
            },
            "schemas": {**_schemas(), **access_schemas(), **identity_schemas(), **admin_schemas(),
                        **webhook_schemas(), **figures_schemas(), **reports_schemas(),
                        **supervision_schemas(), **desk_schemas(),
                        **campaign_schemas(), **kb_schemas()},
            "responses": responses,
        },
    }


# At the end: the identity part builds on the helpers above.
from desktop_api.openapi_identity import identity_paths, identity_schemas  # noqa: E402
from desktop_api.openapi_supervision import supervision_paths, supervision_schemas  # noqa: E402


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh copy of the one built on first use)."""
    return copy.deepcopy(_build())
