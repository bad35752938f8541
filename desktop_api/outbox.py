"""One WebSocket's bounded outbound queue and its own sender task.

Whoever has a frame for a socket (the hub's forwarders, a command's answer) puts it here and
never waits: only this socket's sender awaits the network. So a client that stops reading stalls
its own sender and nobody else's. The sender task exists only while frames are queued (the first
``put`` starts it, it ends when the queue is empty): thousands of idle agent sockets hold no task
and no queue machinery, only an empty deque.

- ``put`` never blocks. When the queue is full the frame is dropped and the outbox is *lagged*:
  once the frames queued before the drop are sent, an agent's or supervisor's socket gets one
  ``lagged`` frame (its page reloads what it shows); a visitor's socket is closed with 1013
  (try again later) instead, and the widget's reconnect brings the stored transcript, so nothing is lost.
- A frame the socket has not taken within ``deadline`` seconds means the client has stopped
  reading (its queue fills behind that frame): the socket is closed with 1008 and its transport
  aborted, because a graceful close would wait on the very buffers the client does not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

LAGGED = {"type": "lagged", "message": "events were dropped; reload state"}
CLOSE_TIMEOUT = 1.0  # seconds a close frame may take before the connection is cut


class Outbox:
    __slots__ = ("_close_on_lag", "_closing", "_deadline", "_frames", "_lag_after", "_name", "_request",
                 "_seq", "_size", "_task", "_ws")

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, *, size: int, deadline: float,
                 name: str, close_on_lag: bool = False) -> None:
        """``close_on_lag``: a dropped frame closes the socket (1013) instead of a ``lagged`` frame,
        for clients that resynchronise by reconnecting."""
        self._ws = ws
        self._request = request
        self._deadline = deadline
        self._name = name
        self._close_on_lag = close_on_lag
        self._size = size
        self._frames: deque[tuple[int, dict[str, Any]]] = deque()  # not yet taken by the sender
        self._seq = 0  # frames queued so far
        self._lag_after: int | None = None  # the lag is reported after this frame is sent
        self._closing = False
        self._task: asyncio.Task[None] | None = None  # the sender, while there is something to send

    @property
    def closing(self) -> bool:
        return self._closing

    def put(self, frame: dict[str, Any]) -> bool:
        """Queue ``frame``; False when it was dropped (the socket is full or closing)."""
        if self._closing or self._ws.closed:
            return False
        if len(self._frames) >= self._size:
            self._lag_after = self._seq  # reported once everything queued before it is out
            return False
        self._seq += 1
        self._frames.append((self._seq, frame))
        if self._task is None:
            self._task = asyncio.create_task(self._send_all(), name=f"outbox-{self._name}")
        return True

    async def close(self, code: int = WSCloseCode.OK, message: bytes = b"") -> None:
        """Send what is queued (each frame within the deadline), then close with ``code``."""
        if self._closing:
            return
        self._closing = True
        task = self._task
        if task is not None and task is not asyncio.current_task():
            await asyncio.wait({task}, timeout=self._deadline)  # the sender ends once all is sent
        await self._stop_sender()
        await self._close_socket(code, message)

    async def aclose(self) -> None:
        """Stop the sender (the socket's handler is ending); frames still queued are dropped."""
        self._closing = True
        await self._stop_sender()

    async def _stop_sender(self) -> None:
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send_all(self) -> None:
        try:
            while self._frames:
                seq, frame = self._frames.popleft()
                if not await self._send(frame):
                    return
                if self._lag_after is not None and seq >= self._lag_after:
                    self._lag_after = None
                    if self._close_on_lag:
                        log.info("socket %s lagged: closed for a reconnect", self._name)
                        self._closing = True
                        await self._close_socket(WSCloseCode.TRY_AGAIN_LATER, b"lagged, reconnect")
                        return
                    if not await self._send(LAGGED):
                        return
        finally:
            # Empty (nothing left to send), or stopped: what is still queued is never sent. No
            # await between the loop's last check and here, so no frame is put in between.
            self._frames.clear()
            self._task = None

    async def _send(self, frame: dict[str, Any]) -> bool:
        """Send one frame; False when the socket is gone or was closed for being too slow."""
        try:
            await asyncio.wait_for(self._ws.send_json(frame), self._deadline)
        except TimeoutError:
            log.warning("socket %s took no frame for %.0f s: closed", self._name, self._deadline)
            self._closing = True
            await self._close_socket(WSCloseCode.POLICY_VIOLATION, b"too slow", cut=True)
            return False
        except (ConnectionError, RuntimeError):
            self._closing = True
            return False
        return True

    async def _close_socket(self, code: int, message: bytes, *, cut: bool = False) -> None:
        """``cut``: the client is known not to read; reset the connection after the close frame."""
        try:
            await asyncio.wait_for(self._ws.close(code=code, message=message, drain=False), CLOSE_TIMEOUT)
        except (TimeoutError, ConnectionError, RuntimeError):
            cut = True
        transport = self._request.transport
        if cut and transport is not None:
            # The client does not read its close frame either: a graceful close would keep the
            # buffers (and, for the kernel, the connection) until TCP gives up on a closed
            # window. Reset it instead: linger 0 makes close() send RST and drop what is unsent.
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
