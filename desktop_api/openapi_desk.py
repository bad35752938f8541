"""The OpenAPI parts of the agent desk's lists (merged into ``desktop_api.openapi``'s document)."""

from __future__ import annotations

from desktop_api.openapi_parts import S, Schema, operation

STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}


def _null(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _op(summary: str, op_id: str, ok: Schema, errors: tuple[int, ...], *, tag: str, description: str,
        params: list[Schema] | None = None) -> Schema:
    return operation(summary, op_id, ok, errors, description=description, tag=tag, params=params)

def _query(name: str, schema: Schema, text: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


def _path(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STR}


def desk_schemas() -> dict[str, Schema]:
    return {
        "FilledReply": {"type": "object", "required": ["id", "title", "body", "text"],
                        "properties": {"id": STR, "title": STR, "body": STR, "text": {
                            **STR, "description": "the body with this conversation's variables filled in; "
                                                  "unknown variables stay as typed"}}},
        "TransferTargets": {"type": "object", "required": ["agents", "queues"], "properties": {
            "agents": {"type": "array", "items": {"type": "object", "properties": {
                "id": STR, "name": STR, "team": _null(STR), "state": STR, "reason": _null(STR),
                "can_take": BOOL,
                "why": _null({**STR, "description": "the router's refusal, e.g. not-available:away, "
                                                    "no-capacity:chat"})}}},
            "queues": {"type": "array", "items": {"type": "object", "properties": {
                "name": STR, "waiting": INT, "longest_wait": {**NUM, "description": "seconds"}}}}}},
        "RecentWork": {"type": "object", "required": ["interactions"], "properties": {
            "interactions": {"type": "array", "items": {"type": "object", "properties": {
                "id": STR, "channel": STR, "state": STR, "queue": STR, "disposition": _null(STR),
                "customer_id": STR, "customer_name": _null(STR), "arrived_at": NUM,
                "ended_at": _null(NUM)}}}}},
        "Conversations": {"type": "object", "required": ["customer_id", "conversations", "next_cursor"],
                          "properties": {"customer_id": STR, "next_cursor": _null(STR), "conversations": {
                              "type": "array", "items": {"type": "object", "properties": {
                                  "interaction_id": STR, "channel": STR, "state": _null(STR),
                                  "outcome": _null({"enum": ["closed", "abandoned", "customer-left"]}),
                                  "disposition": _null(STR), "agent_id": _null(STR),
                                  "arrived_at": _null(NUM), "ended_at": _null(NUM),
                                  "entries": {"type": "array", "items": {"type": "object"}}}}}}},
    }


def desk_paths() -> dict[str, Schema]:
    reply_body = {"required": True, "content": {"application/json": {"schema": {
        "$ref": f"{S}AdminCannedReply"}}}}
    changed = {"type": "object", "description": "the new version of the configuration",
               "properties": {"version": INT, "at": NUM, "actor": STR, "action": STR,
                              "summary": {"type": "array", "items": STR}}}
    who = ("Admins any reply; supervisors only replies whose `teams` are all teams they supervise (a reply "
           "with no team is everyone's and the admins'), else 403 not-your-team. A new version of the "
           "configuration, audited with the caller's name, as `/api/admin/canned_replies/{id}` is.")
    return {
        "/api/canned-replies/{reply_id}": {
            "put": {**_op("Add or replace a canned reply", "putCannedReply", changed,
                          (400, 401, 403, 409, 503), tag="admin", params=[_path("reply_id")],
                          description=who),
                    "requestBody": reply_body},
            "delete": _op("Remove a canned reply", "deleteCannedReply", changed, (400, 401, 403, 404, 503),
                          tag="admin", params=[_path("reply_id")], description=who)},
        "/api/interactions/{interaction_id}/canned-replies": {"get": _op(
            "My canned replies, filled in for this conversation", "cannedReplies",
            {"type": "object", "properties": {"canned_replies": {"type": "array",
                                                                 "items": {"$ref": f"{S}FilledReply"}}}},
            (400, 401, 403, 404), tag="interactions", params=[_path("interaction_id")],
            description="The replies of the caller's team (supervisors: their teams; admins: all; a reply "
                        "with no team is everyone's) with `{customer.name}`, `{agent.name}`, "
                        "`{interaction.id}`, `{interaction.queue}` and `{interaction.channel}` filled in, as "
                        "plain text. 403 not-your-interaction for someone else's conversation.")},
        "/api/transfer-targets": {"get": _op(
            "Whom work may be transferred to, and each queue's wait", "transferTargets",
            {"$ref": f"{S}TransferTargets"}, (400, 401, 403, 404), tag="routing",
            params=[_query("interaction_id", STR, "judge each agent for this interaction's channel and "
                                                  "skills, as the transfer itself will")],
            description="Agents of the caller's team (supervisors: their teams; admins: everyone), never the "
                        "caller, with their state and whether they can take the work now; every queue "
                        "(supervisors: their teams' queues) with its waiting count and longest wait.")},
        "/api/me/recent": {"get": _op(
            "My recently closed work", "recentWork", {"$ref": f"{S}RecentWork"}, (400, 401),
            tag="interactions",
            params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "default 20")],
            description="The caller's own closed interactions, newest first, with the customer's name "
                        "and the disposition.")},
        "/api/customers/{customer_id}/conversations": {"get": _op(
            "A customer's history grouped by conversation", "customerConversations",
            {"$ref": f"{S}Conversations"}, (400, 401, 404), tag="customers",
            params=[_path("customer_id"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 200},
                           "timeline entries per page (default 50)"),
                    _query("before", STR, "the `next_cursor` of the previous page")],
            description="One page of the customer's timeline (newest first) grouped by interaction, each "
                        "with its channel, state, outcome and disposition. A conversation cut by the page "
                        "goes on in the next one. Scoped as `GET /api/customers/{id}` is (404 for a "
                        "customer the caller may not read).")},
    }
