"""How the server writes its log: one JSON object per line, or one-line text on a terminal.

Every module keeps logging through the standard library (``logging.getLogger(__name__)``,
%-style arguments); only the root handler's formatter changes. structlog's
``ProcessorFormatter`` turns each record into a JSON object and merges what the current task
has bound with ``structlog.contextvars``: the request id and the caller's agent id (bound by the
HTTP edge for the whole request or socket), the interaction a command or an event is about, and
the node. So a line about an interaction carries its id without every call site passing it.

Both forms keep a line one line: JSON escapes every control character (and, ASCII-only, the
line and paragraph separators), the text form escapes them as ``cti.logformat`` always did.
Neither shows a secret: values under a secret-sounding key are masked and URLs lose their
password (``cti.redact``), on top of the call sites' own care.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, get_contextvars
from structlog.typing import EventDict, Processor

from cti.logformat import BadRequestsBriefly, OneLineFormatter, escape_controls
from cti.redact import MASK, safe_url

__all__ = ["LogFormat", "about", "bind_node", "configure_logging", "json_formatter", "resolve_format"]

LogFormat = Literal["auto", "json", "text"]

# Fields the context may carry, in the order the text form shows them.
CONTEXT_KEYS = ("request_id", "node", "agent", "interaction")
_SECRET_WORDS = ("password", "secret", "token", "authorization", "cookie", "api_key")


def resolve_format(fmt: LogFormat, stream: TextIO | None = None) -> Literal["json", "text"]:
    """``auto``: JSON unless the log goes to a terminal, where a person reads it."""
    if fmt != "auto":
        return fmt
    target = stream if stream is not None else sys.stderr
    try:
        return "text" if target.isatty() else "json"
    except (AttributeError, ValueError):  # a closed or unusual stream: a machine reads it
        return "json"


def _mask_secrets(_: Any, __: str, event: EventDict) -> EventDict:
    for key, value in list(event.items()):
        if key == "event":  # the message: its call site shows URLs through safe_url already
            continue
        if any(word in key.lower() for word in _SECRET_WORDS):
            event[key] = MASK
        elif isinstance(value, str) and "://" in value:
            event[key] = safe_url(value)
    return event


def _upper_level(_: Any, __: str, event: EventDict) -> EventDict:
    # As the text form writes it, so `grep ERROR` finds the same records in both.
    event["level"] = str(event.get("level", "")).upper()
    return event


def _worker(tag: str | None) -> Processor:
    def add(_: Any, __: str, event: EventDict) -> EventDict:
        if tag is not None:
            event["worker"] = tag
        return event
    return add


def json_formatter(*, worker: str | None = None) -> logging.Formatter:
    """Records as one JSON object each: ts, level, logger, message, the bound context, extras."""
    pre_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        _upper_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _worker(worker),
    ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # the traceback as one "exception" string
            _mask_secrets,
            structlog.processors.EventRenamer("message"),
            # ensure_ascii: U+2028/2029 and lone surrogates are escaped too, so no reader splits
            # a record in two.
            structlog.processors.JSONRenderer(sort_keys=False, ensure_ascii=True),
        ])


class ContextTextFormatter(OneLineFormatter):
    """The one-line text form, with the bound context appended as ``key=value``."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = get_contextvars()
        shown = [f"{k}={escape_controls(str(context[k]))}" for k in CONTEXT_KEYS if k in context]
        return f"{line} [{' '.join(shown)}]" if shown else line


def configure_logging(*, level: str, fmt: LogFormat, worker: str | None = None,
                      stream: TextIO | None = None) -> Literal["json", "text"]:
    """Set the root logger's one handler (again: ``cti serve`` re-applies the configuration's
    format once it has read the file). Returns the form chosen."""
    chosen = resolve_format(fmt, stream)
    root = logging.getLogger()
    root.setLevel(level.upper())
    handler: logging.Handler | None = next(
        (h for h in root.handlers if getattr(h, "_cti_handler", False)), None)
    target = stream if stream is not None else sys.stderr
    # Applied again with another stream (an earlier one may be closed since): a new handler, as
    # the first time; the old one is not flushed, its stream may be gone.
    if handler is None or getattr(handler, "stream", None) is not target:
        for old in list(root.handlers):
            root.removeHandler(old)
        handler = logging.StreamHandler(target)
        handler._cti_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if chosen == "json":
        handler.setFormatter(json_formatter(worker=worker))
    else:
        tag = f"[{worker}] " if worker else ""
        handler.setFormatter(ContextTextFormatter(f"%(asctime)s %(levelname)s {tag}%(name)s %(message)s"))
    aiohttp_server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, BadRequestsBriefly) for f in aiohttp_server.filters):
        aiohttp_server.addFilter(BadRequestsBriefly())
    return chosen


def bind_node(node_id: str) -> None:
    """The node for every line of this task and of the tasks it starts from now on."""
    bind_contextvars(node=node_id)


@contextmanager
def about(*, interaction: str | None = None, agent: str | None = None) -> Iterator[None]:
    """Lines logged inside are about this interaction and agent (given ones only)."""
    values: MutableMapping[str, str] = {}
    if interaction is not None:
        values["interaction"] = interaction
    if agent is not None:
        values["agent"] = agent
    with bound_contextvars(**values):
        yield
