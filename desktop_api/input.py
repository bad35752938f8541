"""The one gate every request, body and socket frame passes before a handler sees it.

* JSON is parsed by the standard library and then walked once, without recursion: the walk
  refuses nesting deeper than ``MAX_JSON_DEPTH`` (``too-deep``) and any string, key or value,
  with a character free text may not hold (``bad-characters``, see ``cti.text``).
  Why parse first and measure after, rather than scan the raw text for brackets: the parser is the
  only thing that knows where strings start and end, so a hand-written pre-scan would be a second
  JSON tokenizer to keep right. CPython's decoder guards its own recursion and raises
  ``RecursionError`` cleanly (no stack overflow) for input like 60 kB of ``[``; that is caught
  here and answered ``too-deep`` too. The iterative walk then makes sure nothing deeper than the
  limit reaches code that recurses (pydantic, ``jsonable``, the JSON columns of the database).
  ``NaN`` and ``Infinity`` are refused: they are not JSON and would be written back as invalid JSON.
* A middleware checks every path parameter as an id (``cti.text.bad_id``) and every query key and
  value as one line, before the handler runs, so no handler can forget.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiohttp import web

from cti.errors import InvalidInput
from cti.text import bad_id, has_bad_line_chars, has_bad_text_chars

__all__ = ["MAX_JSON_DEPTH", "MAX_QUERY_VALUE", "check_lines", "check_request", "check_tree",
           "input_middleware", "load_json", "parse_json"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_JSON_DEPTH = 32  # our deepest document (a link request) is 3 levels; 32 leaves room for clients
MAX_QUERY_VALUE = 4096  # a bearer token on a WebSocket upgrade is the longest (~300 characters)
ID_QUERY_KEYS = frozenset({"agent_id", "target"})  # query values that are ids, checked as such


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: str | bytes) -> Any:
    """The JSON value in ``raw``, checked for depth and characters; ``InvalidInput`` otherwise."""
    data = load_json(raw)
    check_tree(data)
    return data


def load_json(raw: str | bytes) -> Any:
    """The JSON value in ``raw``, parsed safely but not yet checked: call :func:`check_tree`."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise InvalidInput("too-deep", f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
                           limit=MAX_JSON_DEPTH) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        # The decoder's message quotes at most a position, never the input.
        raise InvalidInput("malformed-json", f"not valid JSON: {exc}") from exc
    return data


def check_tree(data: Any) -> None:
    """Refuse nesting deeper than ``MAX_JSON_DEPTH`` and bad characters in any string or key."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise InvalidInput("too-deep", f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
                                   limit=MAX_JSON_DEPTH)
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key, where or "(key)")
                    stack.append((item, depth + 1, f"{where}.{key}" if where else key))
            else:
                stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))


def _check_text(value: str, where: str) -> None:
    if has_bad_text_chars(value):
        raise InvalidInput("bad-characters", "control characters, NUL or lone surrogates are not "
                           "accepted", field=where or "(body)")


def check_lines(data: dict[str, Any], names: tuple[str, ...]) -> None:
    """Refuse line breaks and control characters in the named string fields of ``data``."""
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and has_bad_line_chars(value):
            raise InvalidInput("bad-characters", f"{name!r} must be one line without control characters",
                               field=name)


def check_request(request: web.Request) -> None:
    """Every path parameter is an id; every query key and value one bounded line."""
    for name, value in request.match_info.items():
        why = bad_id(value)
        if why is not None:
            raise InvalidInput(why, f"{name!r} is not a valid id", field=name)
    for key, value in request.query.items():
        if has_bad_line_chars(key) or has_bad_line_chars(value):
            field = key if not has_bad_line_chars(key) else "(query)"
            raise InvalidInput("bad-characters", "control characters are not accepted in the query",
                               field=field)
        if key in ID_QUERY_KEYS and (why := bad_id(value)) is not None:
            raise InvalidInput(why, f"{key!r} is not a valid id", field=key)
        if len(value) > MAX_QUERY_VALUE:
            raise InvalidInput("query-too-long", f"a query value exceeds {MAX_QUERY_VALUE} characters",
                               field=key, limit=MAX_QUERY_VALUE)


@web.middleware
async def input_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    check_request(request)
    return await handler(request)
