"""The OpenAPI parts of live administration (``desktop_api.rest_admin``), merged into
``desktop_api.openapi``'s document. The item schemas are the configuration's own models
(``cti.config_model``), so the document and the checks cannot drift apart."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cti.admin_edit import LISTS, MAPPED, NAMED, OBJECTS, SECTIONS
from cti.config_model import (
    AgentModel,
    CannedReplyModel,
    ChatModel,
    HoursModel,
    QueueModel,
    RoutingModel,
    TeamModel,
)

Schema = dict[str, Any]
STR: Schema = {"type": "string"}
E = "#/components/responses/E"
S = "#/components/schemas/"
MODELS: dict[str, type[BaseModel]] = {
    "AdminQueue": QueueModel, "AdminAgent": AgentModel, "AdminTeam": TeamModel,
    "AdminCannedReply": CannedReplyModel, "AdminBusinessHours": HoursModel, "AdminChat": ChatModel,
    "AdminRouting": RoutingModel,
}
CHECKED = ("Checked as `cti config check` checks a file: 400 invalid-config names the key's path "
           "(and, for an unknown key, the nearest known one) and stores nothing. `If-Match: <version>` "
           "makes the change conditional on the running version (409 config-changed).")


def _ok(schema: Schema, text: str) -> Schema:
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, op_id: str, ok: Schema, errors: tuple[int, ...], *, description: str,
        params: list[Schema] | None = None, body: Schema | None = None) -> Schema:
    operation: Schema = {"operationId": op_id, "summary": summary, "description": description,
                         "tags": ["admin"],
                         "responses": {"200": ok, **{str(s): {"$ref": f"{E}{s}"} for s in sorted({400,
                                                                                                  *errors})}}}
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def _path(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string", "minLength": 1, "maxLength": 100,
                                 "pattern": "^[A-Za-z0-9][A-Za-z0-9_.@+-]*$"}}


def admin_schemas() -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for name, model in MODELS.items():
        schema = model.model_json_schema(ref_template=S + "Admin{model}")
        for inner, definition in schema.pop("$defs", {}).items():
            out[f"Admin{inner}"] = definition
        out[name] = schema
    version = {"type": "object", "required": ["version", "at", "actor", "action", "summary"],
               "properties": {"version": {"type": "integer", "minimum": 1}, "at": {"type": "number"},
                              "actor": STR, "action": {"enum": ["seed", "file", "change", "import",
                                                                "rollback"]},
                              "summary": {"type": "array", "items": STR}}}
    return {
        **out,
        "AdminVersion": version,
        "AdminVersions": {"type": "object", "required": ["running", "versions"],
                          "properties": {"running": {"type": "integer"},
                                         "versions": {"type": "array",
                                                      "items": {"$ref": f"{S}AdminVersion"}}}},
        "AdminConfig": {"type": "object", "required": ["version", "document"],
                        "properties": {"version": {"type": "integer"},
                                       "document": {"type": "object", "description": "the live sections; "
                                                    "agents show has_password, never the hash"}}},
        "DeskOptions": {"type": "object", "required": ["dispositions", "away_reasons", "canned_replies"],
                        "properties": {"dispositions": {"type": "array", "items": STR},
                                       "away_reasons": {"type": "array", "items": STR},
                                       "canned_replies": {"type": "array", "items": {
                                           "type": "object", "required": ["id", "title", "body"],
                                           "properties": {"id": STR, "title": STR, "body": STR}}}}},
        "AdminDiff": {"type": "object", "required": ["version", "against", "changes"],
                      "properties": {"version": {"type": "integer"}, "against": {"type": "integer"},
                                     "changes": {"type": "array", "items": STR}}},
    }


def admin_paths() -> dict[str, Schema]:
    version = _path("version", "a version number", {"type": "string", "pattern": "^[0-9]{1,12}$"})
    section = _path("section", "a live section", {"enum": list(SECTIONS)})
    named = _path("section", "a section of named items", {"enum": [*NAMED, *MAPPED]})
    whole = _path("section", "a section set whole", {"enum": [*OBJECTS, *LISTS]})
    name = _path("name", "the item's name (a queue, team, business hours) or id (an agent, a canned reply)")
    changed = _ok({"$ref": f"{S}AdminVersion"}, "the new version, with what changed")
    item_body = {"type": "object", "description": "the item, by section: AdminQueue, AdminAgent "
                 "(without `password` an existing agent keeps theirs), AdminTeam, AdminCannedReply, "
                 "AdminBusinessHours"}
    return {
        "/api/desk-options": {"get": {**_op(
            "Dispositions, away reasons and canned replies", "deskOptions",
            _ok({"$ref": f"{S}DeskOptions"}, "what the admins set; empty lists: anything goes"), (401,),
            description="For every logged-in user; canned replies are those of the caller's team "
                        "(supervisors: their teams; admins: all; a reply with no team: everyone's). "
                        "When the admins list dispositions or away reasons, "
                        "completing or going away with another is refused (400 unknown-disposition, "
                        "unknown-reason)."), "tags": ["agents"]}},
        "/api/admin/config": {"get": _op(
            "The running configuration's live sections", "adminConfig",
            _ok({"$ref": f"{S}AdminConfig"}, "the version running on this node and its document"), (401,
                                                                                                    403, 503),
            description="Admins only. Password hashes are never shown.")},
        "/api/admin/versions": {"get": _op(
            "The versions, newest first", "adminVersions", _ok({"$ref": f"{S}AdminVersions"}, "the versions"),
            (401, 403, 503), description="Who made each version, when, how and what it changed.",
            params=[{"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "string", "pattern": "^[0-9]{1,3}$"}}])},
        "/api/admin/versions/{version}/diff": {"get": _op(
            "What a version changed", "adminVersionDiff", _ok({"$ref": f"{S}AdminDiff"}, "the changes"),
            (401, 403, 404, 503), params=[version, {"name": "against", "in": "query", "required": False,
                                                    "schema": {"type": "string",
                                                               "pattern": "^[0-9]{1,12}$"}}],
            description="From the version before (or `against`) to this one.")},
        "/api/admin/versions/{version}/rollback": {"post": _op(
            "Run an earlier version again", "adminRollback", changed, (401, 403, 404, 409,
                                                                       503), params=[version],
            description="Stores a copy of that version as the newest, audited like any change; every node "
                        "runs it within a second.")},
        "/api/admin/skills": {"get": _op(
            "Every skill in use", "adminSkills",
            _ok({"type": "object", "additionalProperties": {"type": "object"}},
                "skill: its queues and agents"),
            (401, 403, 503), description="Skills are set on queues (required) and agents (levels 1-10).")},
        "/api/admin/{section}": {
            "get": _op("A live section", "adminSection", _ok({}, "the section as stored (agents redacted)"),
                       (401, 403, 404, 503), params=[section], description="Any live section."),
            "put": _op("Set a whole section (chat, routing, dispositions, away reasons)", "adminPutSection",
                       changed, (401, 403, 404, 409, 413, 503), params=[whole], description=CHECKED,
                       body={"type": "object", "required": ["value"], "properties": {"value": {}},
                             "additionalProperties": False}),
        },
        "/api/admin/{section}/{name}": {
            "get": _op("One item of a section", "adminItem", _ok({"type": "object"}, "the item"),
                       (401, 403, 404, 503), params=[named, name], description="Agents redacted."),
            "put": _op("Add or replace an item", "adminPutItem", changed, (401, 403, 404, 409, 413, 503),
                       params=[named, name], body=item_body, description=CHECKED),
            "patch": _op("Change some fields of an item", "adminPatchItem", changed, (401, 403, 404, 409,
                                                                                      413, 503),
                         params=[named, name], body=item_body,
                         description="The fields sent replace the item's (a mapping such as "
                                     "service_targets is replaced whole). " + CHECKED),
            "delete": _op("Remove an item", "adminDeleteItem", changed, (401, 403, 404, 409, 503),
                          params=[named, name], description=CHECKED),
        },
    }
