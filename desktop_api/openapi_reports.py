"""The OpenAPI parts of the reports (merged into ``desktop_api.openapi``'s document)."""

from __future__ import annotations

from cti.domain import Channel
from cti.figures import Bucket
from cti.reports import COLUMNS, MAX_FCR_DAYS, ReportGroup, StepOutcome
from desktop_api.openapi_figures import INT, NUM, STR, E, S, Schema, _nullable
from desktop_api.rest_reports import MAX_BUCKETS, MAX_JOURNEY, MAX_TOP

_CSV = {"type": "string", "description": "RFC 4180, a header line first; a text cell that a "
        "spreadsheet would run as a formula starts with an apostrophe"}


def _op(summary: str, op_id: str, ok: Schema, *, description: str, params: list[Schema],
        csv: bool) -> Schema:
    content: Schema = {"application/json": {"schema": ok}}
    if csv:
        content["text/csv"] = {"schema": _CSV}
    return {"operationId": op_id, "summary": summary, "description": description, "tags": ["reports"],
            "parameters": params,
            "responses": {"200": {"description": "the answer (CSV with format=csv)", "content": content},
                          **{str(s): {"$ref": f"{E}{s}"} for s in (400, 401, 403, 404, 503)}}}


def _q(name: str, schema: Schema, description: str = "", *, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


_MOMENT = {"anyOf": [NUM, {"type": "string", "format": "date-time"}]}
_RANGE = [_q("from", _MOMENT, "seconds since the epoch, or ISO 8601 (UTC without an offset)", required=True),
          _q("to", _MOMENT, "after from, at most 93 days later", required=True)]
_FORMAT = _q("format", {"enum": ["json", "csv"]}, "json (default) or csv")
_FCR = _q("fcr_days", {"type": "integer", "minimum": 0, "maximum": MAX_FCR_DAYS},
          "first-contact resolution window N in days (default 7)")


def reports_schemas() -> dict[str, Schema]:
    ints = {"offered", "answered", "abandoned", "short_abandoned", "answered_in_target",
            "abandoned_in_target", "handled", "transfers", "holds", "fcr_contacts", "fcr_resolved",
            "fcr_pending", "csat_count"}
    ratios = {"service_level", "average_speed_of_answer", "average_handle_time", "first_contact_resolution",
              "csat_average"}
    return {
        "ReportRow": {"type": "object", "required": list(COLUMNS), "properties": {
            name: INT if name in ints else _nullable(NUM) if name in ratios else NUM for name in COLUMNS}
            | {"group": _nullable(STR)}},
        "Report": {"type": "object", "required": ["from", "to", "by", "rows"], "properties": {
            "from": NUM, "to": NUM, "by": {"enum": [b.value for b in Bucket]},
            "group": _nullable({"enum": [g.value for g in ReportGroup]}), "short_abandon": NUM,
            "fcr_days": INT, "rows": {"type": "array", "items": {"$ref": f"{S}ReportRow"}}}},
        "Trends": {"type": "object", "required": ["weeks", "rows"], "properties": {
            "from": NUM, "to": NUM,
            "weeks": {"type": "array", "items": NUM, "description": "each ISO week's start"},
            "rows": {"type": "array", "items": {"type": "object", "properties": {
                "reason": STR, "counts": {"type": "array", "items": INT}, "total": INT, "change": INT}}}}},
        "JourneyStep": {"type": "object", "properties": {
            "interaction_id": STR, "channel": STR, "direction": STR, "arrived_at": NUM,
            "ended_at": _nullable(NUM), "outcome": {"enum": [o.value for o in StepOutcome]},
            "queues": {"type": "array", "items": STR}, "agents": {"type": "array", "items": STR},
            "wait": NUM, "handle_time": NUM, "transfers": INT, "disposition": _nullable(STR),
            "reasons": {"type": "array", "items": STR}, "csat": _nullable(INT),
            "first_contact_resolved": _nullable({"type": "boolean"}), "repeated_by": _nullable(STR)}},
        "Journey": {"type": "object", "required": ["customer_id", "steps"], "properties": {
            "customer_id": STR, "display_name": _nullable(STR), "fcr_days": INT,
            "steps": {"type": "array", "items": {"$ref": f"{S}JourneyStep"}}}},
    }


def reports_paths() -> dict[str, Schema]:
    scope = ("Supervisors see their teams' queues (naming another queue, agent or team is 403); admins "
             "all; agents are refused. Formulas: docs/reports.md.")
    return {
        "/api/reports/figures": {"get": _op(
            "Report: figures, first-contact resolution and CSAT per bucket and group", "getReport",
            {"$ref": f"{S}Report"}, csv=True,
            description="The live board's figures of the segments that started in [from, to), with the "
                        "first-contact resolution (across channels, window fcr_days) of the inbound "
                        f"contacts that arrived in it and the surveys answered in it. At most {MAX_BUCKETS} "
                        f"buckets. {scope}",
            params=[*_RANGE, _q("by", {"enum": [b.value for b in Bucket]}, "bucket (default hour, UTC)"),
                    _q("group", {"enum": [g.value for g in ReportGroup]}, "one row per …"),
                    _q("queue", STR), _q("channel", {"enum": [c.value for c in Channel]}),
                    _q("agent", STR), _q("team", STR),
                    _q("short_abandon", {"type": "number", "minimum": 0, "maximum": 3600},
                       "seconds (default 5)"), _FCR, _FORMAT])},
        "/api/reports/trends": {"get": _op(
            "Report: the top contact reasons week over week", "getTrends", {"$ref": f"{S}Trends"}, csv=True,
            description="Dispositions, IVR reasons and tags (campaign:<slug>) of the contacts that arrived "
                        f"in [from, to), counted per ISO week, most frequent first. {scope}",
            params=[*_RANGE, _q("top", {"type": "integer", "minimum": 1, "maximum": MAX_TOP},
                                "how many reasons (default 10)"), _FORMAT])},
        "/api/reports/journey/{customer_id}": {"get": _op(
            "Report: one customer's contacts across channels with their outcomes", "getJourney",
            {"$ref": f"{S}Journey"}, csv=False,
            description="A customer the caller may read (as the timeline; 404 otherwise), oldest contact "
                        "first. Supervisors and admins; agents are refused.",
            params=[{"name": "customer_id", "in": "path", "required": True, "schema": STR}, _FCR,
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": MAX_JOURNEY},
                       "the newest contacts shown (default 50)")])},
    }
