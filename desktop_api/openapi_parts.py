"""The pieces every part of the OpenAPI description builds its operations from, in one place.

Why hand-built: the description is written next to each route group (openapi_*.py) rather than
generated from the handlers, so each group needs the same operation shape; this is that shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Schema = dict[str, Any]

E = "#/components/responses/E"  # + status: the shared error responses
S = "#/components/schemas/"


def json_content(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def error_refs(statuses: Iterable[int]) -> Schema:
    return {str(s): {"$ref": f"{E}{s}"} for s in statuses}


def operation(summary: str, op_id: str, ok: Schema, errors: Iterable[int], *, description: str, tag: str,
              params: list[Schema] | None = None, body: Schema | None = None, status: int = 200,
              public: bool = False) -> Schema:
    """One JSON operation: ``ok`` is the schema of the ``status`` answer, ``errors`` the shared
    error responses it may give; ``public`` needs no token."""
    op: Schema = {"operationId": op_id, "summary": summary, "description": description, "tags": [tag],
                  "parameters": list(params or []),
                  "responses": {str(status): {"description": "the answer", **json_content(ok)},
                                **error_refs(errors)}}
    if body is not None:
        op["requestBody"] = {"required": True, **json_content(body)}
    if public:
        op["security"] = []
    return op
