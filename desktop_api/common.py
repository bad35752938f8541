"""What every handler needs: the principal, a checked JSON body, JSON responses, errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from aiohttp import WSCloseCode, web
from pydantic import BaseModel, ValidationError

from cti.errors import CtiError, InvalidInput
from cti.text import bad_id, has_bad_line_chars
from desktop_api.auth import Principal, request_principal
from desktop_api.input import parse_json
from desktop_api.sockets import UPGRADED

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TextKind = Literal["text", "line", "id"]


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
    data = parse_json(raw)  # depth and characters checked (too-deep, bad-characters)
    if not isinstance(data, dict):
        raise InvalidInput("malformed-json", "the body must be a JSON object")
    return data


def field_str(data: dict[str, Any], name: str, *, required: bool = True,
              max_len: int = 10_000, kind: TextKind = "text") -> str | None:
    """A string field; ``kind`` says which characters it may hold (``cti.text``): free ``text``,
    one ``line`` (anything that reaches a log line: names, reasons, dispositions) or an ``id``."""
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInput("missing-field", f"{name!r} is required", field=name)
        return None
    if not isinstance(value, str):
        raise InvalidInput("bad-field", f"{name!r} must be a string", field=name)
    if kind == "id" and (why := bad_id(value)) is not None:
        raise InvalidInput(why, f"{name!r} is not a valid id", field=name)
    if kind == "line" and has_bad_line_chars(value):
        raise InvalidInput("bad-characters", f"{name!r} must be one line without control characters",
                           field=name)
    if len(value) > max_len:
        raise InvalidInput("field-too-long", f"{name!r} exceeds {max_len} characters", field=name)
    return value


Model = TypeVar("Model", bound=BaseModel)


def typed_query(model: type[Model], request: web.Request) -> Model:
    """The request's query parameters as ``model``; 400 ``bad-query`` naming each problem."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise InvalidInput("bad-query", "invalid query parameters",
                           problems=[f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                     for e in exc.errors()]) from exc


async def typed_body(model: type[Model], request: web.Request) -> Model:
    """The request's JSON body as ``model``; 400 ``bad-body`` naming each problem."""
    try:
        return model.model_validate(await json_body(request))
    except ValidationError as exc:
        raise InvalidInput("bad-body", "invalid request body",
                           problems=[f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                     for e in exc.errors()]) from exc


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as exc:
        upgraded: web.WebSocketResponse | None = request.get(UPGRADED)
        if upgraded is not None and upgraded.prepared:
            # After the 101 the stream is WebSocket frames: an HTTP answer written into it would
            # be garbage to the client. Log once and close the socket as a server error.
            log.exception("unhandled error on socket %s", request.path)
            await upgraded.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error")
            return upgraded
        if isinstance(exc, CtiError):
            return web.json_response(exc.to_dict(), status=exc.status)
        if isinstance(exc, web.HTTPException):
            if exc.status >= 400 and request.path.startswith("/api/"):
                return web.json_response({"error_id": f"http-{exc.status}", "message": exc.reason,
                                          "details": {}}, status=exc.status)
            raise
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error_id": "internal-error", "message": "internal error",
                                  "details": {}}, status=500)
