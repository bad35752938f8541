"""AMI wire frames to messages (pure, no I/O).

A frame is the text Asterisk sends up to a blank line (``\\r\\n\\r\\n``); it normally holds one
message, an ordered list of ``Key: Value`` lines. What real links show and this module copes with:

* The banner ``Asterisk Call Manager/11.0.0\\r\\n`` comes alone, without a blank line after it.
  ``split_stream`` returns it as a frame of its own; ``parse_frame`` skips it (``banner_of``
  tells the link which version it greeted).
* Keys repeat (several ``Variable:`` lines) and values may be empty (``AccountCode: ``), so a
  message is a list of pairs, not a dict. Keys are case-sensitive, exactly as Asterisk spells
  them, and Asterisk is not consistent (``BridgeId`` in ``CoreShowChannel``, ``BridgeID`` in
  ``Status``): look up the spelling the event really uses.
* Two messages run together without their blank line: a second ``Event:`` line starts a new
  message, and so does a ``Response:`` line, except inside the events that carry a ``Response``
  header of their own (``OriginateResponse``: ``Response: Success``/``Failure``).
* Stray ``\\r`` or ``\\n`` line ends.
* Lines without ``": "`` are kept out of the headers and recorded in ``AmiMessage.malformed``
  so that the link can log them and go on. A frame with content but not a single header raises
  ``FrameError``: there is nothing to go on with. Nothing else is ever raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

__all__ = [
    "BANNER_PREFIX",
    "FRAME_END",
    "AmiMessage",
    "FrameError",
    "banner_of",
    "parse_frame",
    "split_stream",
]

FRAME_END = "\r\n\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"

# Events whose own payload has a ``Response`` header: a ``Response:`` line inside them is data,
# not the start of an action's response that lost its blank line.
_EVENTS_WITH_RESPONSE_HEADER = frozenset({"OriginateResponse"})

_LINE_END = re.compile(r"\r\n|\r|\n")


class FrameError(ValueError):
    """A frame that holds no AMI header at all (garbage, or a truncated stream)."""

    def __init__(self, message: str, frame: str) -> None:
        super().__init__(message)
        self.frame = frame


@dataclass(frozen=True, slots=True)
class AmiMessage:
    """One AMI message: its ``(key, value)`` headers in wire order, keys case-sensitive."""

    headers: tuple[tuple[str, str], ...]
    malformed: tuple[str, ...] = ()  # lines of the frame without ": ", in order

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str) -> str: ...

    @overload
    def get(self, key: str, default: str | None) -> str | None: ...

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (case-sensitive), else ``default``."""
        for k, v in self.headers:
            if k == key:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self.headers if k == key]

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self.headers)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def __len__(self) -> int:
        return len(self.headers)

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        """Headers as a dict; a repeated key keeps its first value (use ``get_all`` for the rest)."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            out.setdefault(k, v)
        return out


def banner_of(frame: str) -> str | None:
    """The banner line (``Asterisk Call Manager/11.0.0``) if the frame starts with it."""
    if not frame.startswith(BANNER_PREFIX):
        return None
    return _LINE_END.split(frame, maxsplit=1)[0]


def _split_line(line: str) -> tuple[str, str] | None:
    key, sep, value = line.partition(": ")
    if sep:
        return (key, value) if key else None
    # A header whose empty value lost its trailing space ("AccountCode:") is still a header.
    if line.endswith(":") and " " not in line and len(line) > 1:
        return line[:-1], ""
    return None


def _starts_new_message(key: str, current: Sequence[tuple[str, str]]) -> bool:
    if key not in ("Event", "Response") or not current:
        return False
    keys = {k for k, _ in current}
    if key == "Event":
        return "Event" in keys or "Response" in keys
    if "Response" in keys:
        return True
    event = next((v for k, v in current if k == "Event"), None)
    return event is not None and event not in _EVENTS_WITH_RESPONSE_HEADER


def parse_frame(text: str) -> list[AmiMessage]:
    """One wire frame (with or without its blank line) into its messages, in order.

    Returns ``[]`` for an empty frame (EOF) and for the banner alone. Raises only ``FrameError``.
    """
    try:
        return _parse(text)
    except FrameError:
        raise
    except Exception as exc:  # a bug here must not kill the link: report it as a bad frame
        raise FrameError(f"unparsable frame: {exc!r}", str(text)) from exc


def _parse(text: str) -> list[AmiMessage]:
    if not isinstance(text, str):
        raise FrameError(f"a frame is text, not {type(text).__name__}", repr(text))
    messages: list[AmiMessage] = []
    headers: list[tuple[str, str]] = []
    malformed: list[str] = []
    orphans: list[str] = []  # malformed lines seen before any header: they go with the first message

    def flush() -> None:
        nonlocal headers, malformed
        if headers:
            messages.append(AmiMessage(tuple(headers), tuple(malformed)))
        headers, malformed = [], []

    for line in _LINE_END.split(text):
        if not line.strip():
            continue
        if line.startswith(BANNER_PREFIX) and not headers and not messages:
            continue
        pair = _split_line(line)
        if pair is None:
            (malformed if headers else orphans).append(line)
            continue
        if _starts_new_message(pair[0], headers):
            flush()
        headers.append(pair)
    flush()
    if not messages:
        if orphans:
            raise FrameError(f"no AMI header in frame ({len(orphans)} line(s) without ': ')", text)
        return []
    if orphans:
        first = messages[0]
        messages[0] = AmiMessage(first.headers, (*orphans, *first.malformed))
    return messages


def split_stream(buffer: str) -> tuple[list[str], str]:
    """Cut a received buffer into complete frames (each ending in ``\\r\\n\\r\\n``) and the rest.

    A leading banner line is a frame of its own: Asterisk sends it without a blank line and then
    waits for the Login, so waiting for ``\\r\\n\\r\\n`` would stall on it.
    """
    frames: list[str] = []
    rest = buffer
    if rest.startswith(BANNER_PREFIX):
        end = rest.find("\r\n")
        if end < 0:
            return frames, rest
        frames.append(rest[: end + 2])
        rest = rest[end + 2:]
    while True:
        end = rest.find(FRAME_END)
        if end < 0:
            return frames, rest
        frames.append(rest[: end + len(FRAME_END)])
        rest = rest[end + len(FRAME_END):]
