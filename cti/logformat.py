"""Log lines that a value from outside cannot break or forge.

Whatever reaches a log message (an id from a webhook, a name, a header) is written on the line
it belongs to: control characters, line and paragraph separators and lone surrogates in the
message are escaped (``\\n`` becomes the two characters ``\\`` ``n``), so no value can start a
line that looks like another record or move the cursor of the terminal showing the log. The
traceback the formatter appends after the message keeps its own line breaks.

This is the last line of defence; the boundary refuses such characters in ids, names, reasons
and dispositions first (``cti.text``).
"""

from __future__ import annotations

import logging
import re

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["BadRequestsBriefly", "OneLineFormatter", "escape_controls", "use_one_line_logs"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    return _CONTROL.sub(_escaped, text)


class OneLineFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class BadRequestsBriefly(logging.Filter):
    """aiohttp logs a request it cannot parse (a control character in a header, a broken request
    line) at ERROR with a traceback. That is the client's fault, answered 400, and anyone can send
    thousands: one WARNING line each, without the traceback, is what an operator needs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = f"{record.msg}: bad request (%s)"
            record.args = (*(record.args if isinstance(record.args, tuple) else ()),
                           str(exc.message).splitlines()[0] if exc.message else exc.code)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def use_one_line_logs(logger: logging.Logger | None = None) -> None:
    """Give every handler of ``logger`` (the root logger by default) a one-line formatter that
    keeps the handler's format, and shorten aiohttp's reports of unparseable requests."""
    logging.getLogger("aiohttp.server").addFilter(BadRequestsBriefly())
    for handler in (logger or logging.getLogger()).handlers:
        current = handler.formatter
        handler.setFormatter(OneLineFormatter(current._fmt if current else None,
                                              current.datefmt if current else None))
