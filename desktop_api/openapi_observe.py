"""The OpenAPI parts of operations: ``/metrics`` and ``/readyz`` (merged into
``desktop_api.openapi``'s document; docs/operations.md says what they contain)."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
STR: Schema = {"type": "string"}
E = "#/components/responses/E"

_READINESS: Schema = {
    "type": "object", "additionalProperties": False,
    "required": ["status", "node", "checks", "down"],
    "properties": {
        "status": {"type": "string", "enum": ["ready", "not-ready"]},
        "node": STR,
        "checks": {"type": "object", "description": "database, redis and ami when configured: "
                                                    "\"ok\" or \"down: <error class>\"",
                   "additionalProperties": STR},
        "down": {"type": "array", "items": STR, "description": "the names of the checks that failed"},
    },
}


def observe_paths() -> dict[str, Schema]:
    return {
        "/metrics": {"get": {
            "operationId": "metrics", "summary": "Prometheus metrics of this node", "tags": ["system"],
            "description": "For an allow-listed address (metrics.allow, loopback by default) or with "
                           "the metrics token as a Bearer token (metrics.token); not the log-in token.",
            "security": [],
            "responses": {
                "200": {"description": "the Prometheus text exposition format",
                        "content": {"text/plain": {"schema": STR}}},
                "400": {"$ref": f"{E}400"},
                "401": {"$ref": f"{E}401"},  # bad-metrics-token, metrics-token-required
                "403": {"$ref": f"{E}403"},  # metrics-not-allowed
            },
        }},
        "/readyz": {"get": {
            "operationId": "ready", "summary": "Readiness: the node's database, Redis and AMI link answer",
            "tags": ["system"], "security": [],
            "responses": {
                "200": {"description": "ready", "content": {"application/json": {"schema": _READINESS}}},
                "400": {"$ref": f"{E}400"},
                "503": {"description": "something the node needs is down: `down` names it",
                        "content": {"application/json": {"schema": _READINESS}}},
            },
        }},
    }
