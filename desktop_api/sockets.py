"""The open WebSockets of an application, so a shutdown can close them.

aiohttp waits for every handler to return before it stops; a WebSocket handler returns only
when its socket closes, so without this a stopping node would hang for the whole shutdown
timeout and its agents and visitors would see a dead socket instead of a clean close they can
reconnect on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator

from aiohttp import WSCloseCode, web

OPEN_SOCKETS = web.AppKey("open_sockets", set[web.WebSocketResponse])
# Open sockets by kind ("agent", "supervisor", "admin", "visitor"), for the metrics.
SOCKET_COUNTS = web.AppKey("socket_counts", Counter[str])
# The socket a request upgraded to: after the upgrade an error must close it, not answer in HTTP.
UPGRADED = web.RequestKey("upgraded_socket", web.WebSocketResponse)


def track_sockets(app: web.Application) -> None:
    """Register the set and the shutdown hook once per application."""
    if OPEN_SOCKETS in app:
        return
    app[OPEN_SOCKETS] = set()
    app[SOCKET_COUNTS] = Counter()
    app.on_shutdown.append(_close_all)


@contextlib.contextmanager
def tracked(request: web.Request, ws: web.WebSocketResponse, kind: str) -> Iterator[None]:
    sockets = request.app[OPEN_SOCKETS]
    counts = request.app[SOCKET_COUNTS]
    sockets.add(ws)
    counts[kind] += 1
    request[UPGRADED] = ws
    try:
        yield
    finally:
        sockets.discard(ws)
        counts[kind] -= 1


async def _close_all(app: web.Application) -> None:
    open_now: set[web.WebSocketResponse] = app[OPEN_SOCKETS]
    sockets = list(open_now)
    if sockets:
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
                               for ws in sockets), return_exceptions=True)
