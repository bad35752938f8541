"""The OpenAPI parts of the event log and figures (merged into ``desktop_api.openapi``'s document)."""

from __future__ import annotations

from typing import Any

from cti.eventlog import EntryKind
from cti.figures import Bucket, GroupBy
from cti.segments import Outcome

Schema = dict[str, Any]
STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
E = "#/components/responses/E"
S = "#/components/schemas/"


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _op(summary: str, op_id: str, ok: Schema, errors: tuple[int, ...], *, description: str,
        params: list[Schema]) -> Schema:
    return {"operationId": op_id, "summary": summary, "description": description, "tags": ["reports"],
            "parameters": params,
            "responses": {"200": {"description": "the answer",
                                  "content": {"application/json": {"schema": ok}}},
                          **{str(s): {"$ref": f"{E}{s}"} for s in errors}}}


def figures_schemas() -> dict[str, Schema]:
    figure_ints = ("offered", "answered", "abandoned", "short_abandoned", "answered_in_target",
                   "abandoned_in_target", "handled", "transfers", "holds")
    return {
        "LogEntry": {"type": "object", "required": ["interaction_id", "kind", "at", "channel", "queue"],
                     "properties": {"interaction_id": STR, "kind": {"enum": [k.value for k in EntryKind]},
                                    "at": NUM, "channel": STR, "queue": STR, "agent_id": _nullable(STR),
                                    "details": {"type": "object"}, "node": _nullable(STR), "key": STR}},
        "Segment": {"type": "object", "description": "one agent's part of an interaction (docs/reports.md)",
                    "properties": {"interaction_id": STR, "index": INT, "channel": STR, "queue": STR,
                                   "agent_id": _nullable(STR), "started_at": NUM,
                                   "queued_why": _nullable(STR),
                                   "wait": _nullable(NUM), "answered_at": _nullable(NUM),
                                   "ended_at": _nullable(NUM),
                                   "outcome": {"enum": [o.value for o in Outcome]},
                                   "ended_by": _nullable(STR), "talk": NUM, "hold": NUM, "wrap_up": NUM,
                                   "holds": INT, "consults": INT, "offers": INT, "missed_offers": INT,
                                   "overflowed_from": {"type": "array", "items": STR}}},
        "InteractionLog": {"type": "object", "required": ["interaction_id", "events", "segments"],
                           "properties": {"interaction_id": STR,
                                          "events": {"type": "array", "items": {"$ref": f"{S}LogEntry"}},
                                          "segments": {"type": "array", "items": {"$ref": f"{S}Segment"}}}},
        "FigureRow": {"type": "object", "required": ["bucket", "group", *figure_ints],
                      "properties": {"bucket": NUM, "group": _nullable(STR),
                                     **{name: INT for name in figure_ints},
                                     "service_level": _nullable(NUM),
                                     "average_speed_of_answer": _nullable(NUM),
                                     "average_handle_time": _nullable(NUM), "talk": NUM, "hold": NUM,
                                     "wrap_up": NUM}},
        "Figures": {"type": "object", "required": ["from", "to", "by", "rows"],
                    "properties": {"from": NUM, "to": NUM, "by": {"enum": [b.value for b in Bucket]},
                                   "group": _nullable({"enum": [g.value for g in GroupBy]}),
                                   "short_abandon": NUM,
                                   "rows": {"type": "array", "items": {"$ref": f"{S}FigureRow"}}}},
    }


def figures_paths() -> dict[str, Schema]:
    moment = {"description": "seconds since the epoch, or ISO 8601 (UTC without an offset)",
              "schema": {"anyOf": [NUM, {"type": "string", "format": "date-time"}]}}
    return {
        "/api/interactions/{interaction_id}/events": {"get": _op(
            "An interaction's event log and the segments read from it", "getInteractionEvents",
            {"$ref": f"{S}InteractionLog"}, (400, 401, 403, 404),
            description="Supervisors (an interaction of their teams' queues or agents) and admins; "
                        "agents are refused. Entry kinds and segment rules: docs/reports.md.",
            params=[{"name": "interaction_id", "in": "path", "required": True, "schema": STR}])},
        "/api/figures": {"get": _op(
            "Figures per time bucket (and queue, channel or agent) read from the event log", "getFigures",
            {"$ref": f"{S}Figures"}, (400, 401, 403, 503),
            description="Offered, answered, abandoned (short abandons apart), service level, average "
                        "speed of answer, average handle time, transfers and holds of the segments "
                        "that started in [from, to); formulas in docs/reports.md. Supervisors see their "
                        "teams' queues only (another queue or agent asked for is 403); admins all; "
                        "agents are refused. At most 93 days.",
            params=[
                {"name": "from", "in": "query", "required": True, **moment},
                {"name": "to", "in": "query", "required": True, **moment},
                {"name": "by", "in": "query", "required": False, "description": "bucket (default hour, UTC)",
                 "schema": {"enum": [b.value for b in Bucket]}},
                {"name": "group", "in": "query", "required": False, "description": "one row per …",
                 "schema": {"enum": [g.value for g in GroupBy]}},
                {"name": "queue", "in": "query", "required": False, "schema": STR},
                {"name": "channel", "in": "query", "required": False,
                 "schema": {"enum": ["voice", "chat", "email", "sms", "x", "slack", "callback"]}},
                {"name": "agent", "in": "query", "required": False, "schema": STR},
                {"name": "short_abandon", "in": "query", "required": False,
                 "description": "seconds (default 5, at most 3600)",
                 "schema": {"type": "number", "minimum": 0, "maximum": 3600}},
            ])},
    }
