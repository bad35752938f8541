"""Delivery of what the AMI link receives, in order, to the bridge's callbacks.

Event order: everything Asterisk sends that is not an answer to one of our actions goes, in
arrival order, through one queue to ``on_event``, and the link's own milestones go through the
same queue: ``on_disconnected`` comes after the last event of the lost session, and after each
login ``on_connected`` (the bridge's resync) runs before any event of the new session. Events
that arrive while ``on_connected`` runs (``FullyBooted`` too) wait in the queue and are delivered
after it returns, so the tracker applies the snapshot first and then what happened around it;
an event that Asterisk sent before it answered a resync action is therefore replayed on top of a
snapshot that already shows it, and the tracker must treat it as a repeat. The answers to the
resync actions themselves are not in that queue: they go straight to ``send``/``send_list``. If
``on_connected`` raises, the session's events are dropped (there is no snapshot to apply them
to) and the connection is dropped so that the next one resyncs again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from cti.ami.errors import AmiDisconnected
from cti.ami.frames import AmiMessage
from cti.ami.protocol import AmiProtocol

__all__ = ["Delivery", "OnConnected", "OnDisconnected", "OnEvent"]

# Under the link's name: delivery is the link's story in the logs.
log = logging.getLogger("cti.ami.link")

_T = TypeVar("_T")
OnEvent = Callable[[AmiMessage], Awaitable[None] | None]
OnConnected = Callable[[], Awaitable[None]]
OnDisconnected = Callable[[str], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class _Event:
    session: int
    message: AmiMessage


@dataclass(frozen=True, slots=True)
class _Up:
    protocol: AmiProtocol


@dataclass(frozen=True, slots=True)
class _Down:
    session: int
    why: str


_Item = _Event | _Up | _Down | None  # None stops the dispatcher


class Delivery:
    """The link's one queue to the bridge, and the task that empties it in order.

    The queue is unbounded on purpose: pausing the socket instead would also hold back the
    answers to the resync and the keep-alive, and the link would drop itself.
    """

    def __init__(self, *, on_event: OnEvent, on_connected: OnConnected | None,
                 on_disconnected: OnDisconnected | None) -> None:
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()

    def event(self, session: int, message: AmiMessage) -> None:
        self._queue.put_nowait(_Event(session, message))

    def up(self, protocol: AmiProtocol) -> None:
        """A login: ``on_connected`` runs before any event queued after this."""
        self._queue.put_nowait(_Up(protocol))

    def down(self, session: int, why: str) -> None:
        """A logged-in session is over: ``on_disconnected`` runs after its last event."""
        self._queue.put_nowait(_Down(session, why))

    def stop(self) -> None:
        """``run`` returns once what is queued now is delivered."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        """Deliver the queue in order (see the module docstring)."""
        untrusted: int | None = None  # a session whose resync failed: its events are dropped
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, _Up):
                untrusted = None
                if item.protocol.lost.done():
                    # Lost before its resync could start: nothing to resync against, and the
                    # events it brought have no snapshot under them.
                    untrusted = item.protocol.session
                    continue
                if self._on_connected is None:
                    continue
                try:
                    await self._on_connected()
                except Exception as exc:
                    untrusted = item.protocol.session
                    item.protocol.resync_failed = True
                    if isinstance(exc, AmiDisconnected):
                        log.warning("ami link: resync interrupted: %s", exc)
                    else:
                        log.exception("ami link: on_connected failed; dropping the connection to retry")
                    item.protocol.abort("resync failed")
            elif isinstance(item, _Down):
                if self._on_disconnected is not None:
                    await _call_safely(self._on_disconnected, item.why, "on_disconnected")
            elif item.session != untrusted:
                await _call_safely(self._on_event, item.message, "on_event")


async def _call_safely(callback: Callable[[_T], Awaitable[None] | None], arg: _T, name: str) -> None:
    # One callback failing on one event must not stop the delivery of the next ones.
    try:
        result = callback(arg)
        if inspect.isawaitable(result):
            await result
    except Exception:
        subject = arg.event if isinstance(arg, AmiMessage) else arg
        log.exception("ami link: %s failed on %s; going on", name, subject)

