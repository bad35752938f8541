"""What every handler needs: the principal, a checked JSON body, JSON responses, errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cti.errors import CtiError, InvalidInput
from desktop_api.auth import Principal, request_principal

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def principal(request: web.Request) -> Principal:
    """Who sent the request, as ``auth_middleware`` checked it (raises the 401 it found)."""
    return request_principal(request)


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise InvalidInput("body-too-large", f"the body exceeds {MAX_BODY} bytes", limit=MAX_BODY)
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise InvalidInput("body-too-large", f"the body exceeds {MAX_BODY} bytes", limit=MAX_BODY)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("malformed-json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput("malformed-json", "the body must be a JSON object")
    return data


def field_str(data: dict[str, Any], name: str, *, required: bool = True,
              max_len: int = 10_000) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInput("missing-field", f"{name!r} is required", field=name)
        return None
    if not isinstance(value, str):
        raise InvalidInput("bad-field", f"{name!r} must be a string", field=name)
    if len(value) > max_len:
        raise InvalidInput("field-too-long", f"{name!r} exceeds {max_len} characters", field=name)
    return value


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CtiError as exc:
        return web.json_response(exc.to_dict(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            return web.json_response({"error_id": f"http-{exc.status}", "message": exc.reason,
                                      "details": {}}, status=exc.status)
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error_id": "internal-error", "message": "internal error",
                                  "details": {}}, status=500)
