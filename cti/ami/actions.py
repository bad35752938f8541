"""AMI actions on the wire: how one is encoded, and how the answers to one are collected.

``encode_action`` turns the fields of an action into a frame (refusing what could smuggle headers
onto the wire); a ``PendingAction`` takes the messages that answer it (a response, then for a
list action the events up to the closing ``...Complete``) and settles its future. Pure
bookkeeping: the link (``link.py``) writes the frames and routes the answers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cti.ami.errors import AmiActionError
from cti.ami.frames import AmiMessage
from cti.errors import InvalidInput

__all__ = ["LINE_BREAK", "ActionFields", "PendingAction", "action_name", "encode_action", "ends_list",
           "starts_list"]

ActionFields = Mapping[str, str | Sequence[str]]

_OK_RESPONSES = frozenset({"Success", "Goodbye", "Follows"})
_HEADER_KEY = re.compile(r"[A-Za-z0-9_-]+")
LINE_BREAK = re.compile(r"[\r\n]")


@dataclass(eq=False)
class PendingAction:
    """An action sent and not yet fully answered."""

    action_id: str
    name: str
    as_list: bool
    future: asyncio.Future[None]
    on_success: Callable[[AmiMessage], None] | None = None
    response: AmiMessage | None = None
    items: list[AmiMessage] = field(default_factory=list)

    def feed(self, msg: AmiMessage) -> bool:
        """Take ``msg`` if it answers this action; True when taken."""
        if self.future.done():
            return False
        if self.response is None:
            if msg.response is None:
                return False  # an event naming our ActionID before the response: not an answer
            self.response = msg
            if msg.response not in _OK_RESPONSES:
                message = msg.get("Message") or msg.response
                self.future.set_exception(AmiActionError(self.name, message, msg))
                return True
            if self.on_success is not None:
                self.on_success(msg)
            if not (self.as_list and starts_list(msg)):
                self.future.set_result(None)
            return True
        if msg.event is None:
            return False
        if ends_list(msg):
            self.future.set_result(None)
        else:
            self.items.append(msg)
        return True


def starts_list(msg: AmiMessage) -> bool:
    return ((msg.get("EventList") or "").lower() == "start"
            or "will follow" in (msg.get("Message") or "").lower())


def ends_list(msg: AmiMessage) -> bool:
    marker = (msg.get("EventList") or "").lower()
    return marker in ("complete", "cancelled") or (msg.event or "").endswith("Complete")


def action_name(action: ActionFields) -> str:
    for key, value in action.items():
        if key.lower() == "action" and isinstance(value, str):
            return value
    return "?"


def encode_action(action_id: str, action: ActionFields) -> tuple[str, bytes]:
    """The action as a wire frame: ``Action``, ``ActionID``, then the headers in the given order."""
    name: str | None = None
    lines: list[str] = []
    for key, value in action.items():
        values = [value] if isinstance(value, str) else list(value)
        if not _HEADER_KEY.fullmatch(key):
            raise InvalidInput("ami-bad-header", f"not an AMI header name: {key!r}")
        if any(not isinstance(v, str) or LINE_BREAK.search(v) for v in values):
            # A line break in a value would smuggle headers, or a whole action, onto the wire.
            raise InvalidInput("ami-bad-header", f"the AMI header {key} must be text on one line")
        lowered = key.lower()
        if lowered == "action":
            if not isinstance(value, str) or not value:
                raise InvalidInput("ami-bad-header", "Action must be one action name")
            name = value
        elif lowered == "actionid":
            raise InvalidInput("ami-bad-header", "the link sets the ActionID itself")
        else:
            lines.extend(f"{key}: {v}" for v in values)
    if name is None:
        raise InvalidInput("ami-bad-header", "an AMI action needs an Action header")
    text = "\r\n".join([f"Action: {name}", f"ActionID: {action_id}", *lines]) + "\r\n\r\n"
    return name, text.encode("utf-8")
