"""Serving the application on a TCP port, with the limits of ``traffic:`` that aiohttp lacks.

- aiohttp's own ``keepalive_timeout`` (``traffic.http_keepalive_timeout``) is armed when a
  connection opens and after each response, and drops a connection whose request has not fully
  arrived by then: it is the header-read time-out as well as the idle one.
- aiohttp has no cap on open connections: ``ConnectionCap`` wraps its protocol factory and closes
  a connection over the cap as soon as it is accepted, so descriptors never run out.
- When descriptors run out all the same, asyncio logs ``socket.accept() out of system resource``
  for every connection waiting in the backlog, again after each one-second pause (16,000 lines
  were seen): ``RateLimitFilter`` lets one such line through per second and counts the others.
- Python's collector walks every live object at each full collection, and an idle desktop socket
  holds ~90 of them: at the default thresholds 5,000 desktops reconnecting after a restart caused
  seven or eight full collections, each pausing the loop longer than the last (0.1 to 0.5 s at the
  end) and together a sixth of the server's CPU for the storm. ``run`` makes them rarer
  (``FULL_COLLECTION_EVERY``); young objects are collected as often as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import time
from collections.abc import Callable

from aiohttp import web

from cti.settings.traffic import TrafficSettings

log = logging.getLogger(__name__)

OUT_OF_RESOURCES = "out of system resource"  # asyncio's words when accept() fails with EMFILE
# A full collection is considered after this many middle-generation ones (Python's default is 10,
# about every 85,000 objects kept); Python's own rule, 25 % more long-lived objects since the last
# full collection, still applies. Cyclic garbage that outlived two young collections waits longer.
FULL_COLLECTION_EVERY = 100


class RateLimitFilter(logging.Filter):
    """At most one record containing ``text`` per ``interval`` seconds; the next one let through
    says how many were dropped meanwhile. Other records pass untouched."""

    def __init__(self, text: str, *, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._text = text
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self._text not in record.getMessage():
            return True
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            self.suppressed += 1
            return False
        self._last = now
        if self.suppressed:
            record.msg = f"{record.getMessage()} ({self.suppressed} more in the last interval not logged)"
            record.args = None
            self.suppressed = 0
        return True


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP connection
        transport.abort()  # at once: the point is to hand the descriptor back


class ConnectionCap:
    """aiohttp's protocol factory, refusing connections past ``limit`` open ones.

    The count is aiohttp's own list of open connections; connections accepted in the same loop
    tick are counted only once they start, so the cap may be passed by one accept batch. That list
    is copied each time it is read, so it is read only when the connections counted at the last
    reading plus those accepted since (an upper bound: closes only lower it) reach the cap; an
    accept otherwise costs nothing however many sockets are open (5,000 agents reconnecting
    after a restart made it quadratic).
    """

    def __init__(self, server: web.Server, limit: int) -> None:
        self._server = server
        self._limit = limit
        self._counted = 0  # open connections at the last reading of the list
        self._accepted = 0  # accepted since then
        self._filter = RateLimitFilter("connection cap reached")
        log.addFilter(self._filter)

    def __call__(self) -> asyncio.BaseProtocol:
        if self._counted + self._accepted >= self._limit:
            self._counted, self._accepted = len(self._server.connections), 0
            if self._counted >= self._limit:
                log.warning("connection cap reached (%d open): new connections are refused", self._limit)
                return _Refused()
        self._accepted += 1
        return self._server()

    def close(self) -> None:
        log.removeFilter(self._filter)


def _warn_if_descriptors_short(traffic: TrafficSettings) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft <= traffic.http_max_connections:
        log.warning("traffic.http_max_connections=%d is not below the descriptor limit %d: raise "
                    "ulimit -n or lower the cap, or descriptors may run out first",
                    traffic.http_max_connections, soft)


class ListenError(Exception):
    """The address cannot be listened on (taken, not this machine's, not allowed): one line."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot use {host}:{port}: {reason}")


async def serve(app: web.Application, *, host: str, port: int, traffic: TrafficSettings,
                reuse_port: bool = False, announce: Callable[[int], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then stop as ``web.run_app`` does (sockets closed, cleanup).
    ``reuse_port``: share the port with the other workers of ``cti serve --workers``.

    The port is taken before the application starts, so a taken one fails at once with
    ``ListenError`` and nothing else; ``announce`` is then told the port (``--port 0``: the
    one the kernel chose)."""
    loop = asyncio.get_running_loop()
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=traffic.http_keepalive_timeout)
    cap: ConnectionCap | None = None

    def protocol() -> asyncio.BaseProtocol:
        assert cap is not None  # nothing is accepted before start_serving(), after the cap is made
        return cap()

    try:
        # Bound now, listening only once the application has started.
        listener = await loop.create_server(protocol, host, port, reuse_address=True,
                                             reuse_port=reuse_port or None, backlog=128,
                                             start_serving=False)
    except OSError as exc:
        raise ListenError(host, port, os.strerror(exc.errno) if exc.errno else str(exc)) from exc
    if announce is not None:
        announce(int(listener.sockets[0].getsockname()[1]))
    asyncio_log = logging.getLogger("asyncio")
    fd_filter = RateLimitFilter(OUT_OF_RESOURCES)
    asyncio_log.addFilter(fd_filter)
    _warn_if_descriptors_short(traffic)
    stop = asyncio.Event()
    try:
        await runner.setup()  # a Ctrl-C here interrupts it, as before the handlers below
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            assert runner.server is not None  # set by setup()
            cap = ConnectionCap(runner.server, traffic.http_max_connections)
            await listener.start_serving()
            await stop.wait()
        finally:
            listener.close()
            await runner.cleanup()
    finally:
        listener.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
        if cap is not None:
            cap.close()
        asyncio_log.removeFilter(fd_filter)


def run(app: web.Application, *, host: str, port: int, traffic: TrafficSettings,
        reuse_port: bool = False, announce: Callable[[int], None] | None = None) -> None:
    """``serve`` in a loop of its own. Raises ``ListenError``."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    asyncio.run(serve(app, host=host, port=port, traffic=traffic, reuse_port=reuse_port,
                      announce=announce))
