"""``SipEndpoint``: the asyncio side of ``SipCore`` — one UDP socket, ``loop.call_later`` timers.

No thread and no polling: the loop wakes for a datagram or a timer, hands it to the core and
carries out the actions it returns. TU events go to ``on_event`` when the TU sets it (the adapter),
else into a bounded buffer read by ``next_event``/``drain`` (tests, bench); a TU that stops reading
loses the oldest events rather than the server its memory (logged).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections import deque
from collections.abc import Callable

from adapters.sip.sipcore.core import SipCore
from adapters.sip.sipcore.digest import Credentials
from adapters.sip.sipcore.events import Action, SipEvent
from adapters.sip.sipcore.message import Addr
from adapters.sip.sipcore.transaction import Send, StartTimer, StopTimer, TimerKey

log = logging.getLogger(__name__)

EVENT_QUEUE = 1000


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.endpoint.on_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.warning("sip.udp_error", extra={"error": str(exc)})


class SipEndpoint:
    def __init__(self, core: SipCore) -> None:
        self.core = core
        self.on_event: Callable[[SipEvent], None] | None = None
        self._pending: deque[SipEvent] = deque()
        self._waiters: list[asyncio.Future[None]] = []  # ``next_event`` calls waiting for news
        self.sent: int = 0
        # sees every datagram, "in" or "out" (tests and traces); never changes what is sent
        self.tap: Callable[[str, bytes, Addr], None] | None = None
        self._timers: dict[TimerKey, asyncio.TimerHandle] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resolving: set[asyncio.Task[None]] = set()
        self._drained: asyncio.Event | None = None  # set by ``shutdown`` once nothing is in flight

    @classmethod
    async def open(cls, host: str, port: int, *, outbound: Addr | None = None,
                   user: str = "line", credentials: Credentials | None = None) -> SipEndpoint:
        """Bind ``host:port`` (0: any free port) and start; the core advertises the bound port."""
        loop = asyncio.get_running_loop()
        ep = cls(SipCore((host, port), outbound=outbound, user=user, credentials=credentials))
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(ep), local_addr=(host, port))
        ep._udp, ep._loop = transport, loop
        bound = transport.get_extra_info("sockname")
        ep.core.local = (host, int(bound[1]))
        return ep

    @property
    def local(self) -> Addr:
        return self.core.local

    def on_datagram(self, data: bytes, source: Addr) -> None:
        if self.tap is not None:
            self.tap("in", data, source)
        self.run(self.core.on_datagram(data, source))

    def _fire(self, key: TimerKey) -> None:
        self._timers.pop(key, None)
        self.run(self.core.on_timer(key))

    def run(self, actions: list[Action]) -> None:
        """Carry out the core's actions in order."""
        for act in actions:
            if isinstance(act, Send):
                data = act.message.encode()
                if self.tap is not None:
                    self.tap("out", data, act.addr)
                if is_ip(act.addr[0]):
                    self._sendto(data, act.addr)
                elif self._loop is not None:  # a name: resolved off the loop, sent when known
                    task = self._loop.create_task(self._send_resolved(data, act.addr))
                    self._resolving.add(task)
                    task.add_done_callback(self._resolving.discard)
            elif isinstance(act, StartTimer):
                if (old := self._timers.pop(act.key, None)) is not None:
                    old.cancel()
                if self._loop is not None:
                    self._timers[act.key] = self._loop.call_later(act.delay, self._fire, act.key)
            elif isinstance(act, StopTimer):
                if (handle := self._timers.pop(act.key, None)) is not None:
                    handle.cancel()
            else:
                self._event(act)
        if self._drained is not None and not self.in_flight():
            self._drained.set()

    def _sendto(self, data: bytes, addr: Addr) -> None:
        if self._udp is None:
            return
        try:
            self._udp.sendto(data, addr)
        except OSError as exc:
            log.warning("sip.send_failed", extra={"to": f"{addr[0]}:{addr[1]}", "error": str(exc)})
            return
        self.sent += 1

    async def _send_resolved(self, data: bytes, addr: Addr) -> None:
        """RFC 3263 reduced to an A lookup: no NAPTR/SRV (the proxy is configured by address)."""
        assert self._loop is not None
        try:
            infos = await self._loop.getaddrinfo(addr[0], addr[1], family=socket.AF_INET,
                                                 type=socket.SOCK_DGRAM)
        except OSError as exc:
            log.warning("sip.resolve_failed", extra={"host": addr[0], "error": str(exc)})
            return
        self._sendto(data, (str(infos[0][4][0]), addr[1]))

    def in_flight(self) -> bool:
        """A request of ours still waits for its final answer."""
        return any(t.state in ("calling", "trying", "proceeding") for t in self.core.clients.values())

    async def shutdown(self, timeout: float = 3.0) -> None:
        """End every call (BYE through the route set, CANCEL, 480), remove the registrations,
        wait up to ``timeout`` for their answers, then close."""
        self._drained = asyncio.Event()
        self.run(self.core.shutdown())
        try:
            async with asyncio.timeout(timeout):
                await self._drained.wait()
        except TimeoutError:
            log.warning("sip.shutdown_timeout", extra={"in_flight": sum(
                t.state in ("calling", "trying", "proceeding") for t in self.core.clients.values())})
        self.close()

    def _event(self, event: SipEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)
            return
        if len(self._pending) >= EVENT_QUEUE:
            dropped = self._pending.popleft()
            log.warning("sip.event_dropped", extra={"event": type(dropped).__name__, "leg": dropped.leg})
        self._pending.append(event)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def discard(self, leg: str) -> None:
        """Drop the buffered events of a leg that is over (its provisionals, an Ended nobody
        waits for): a leg's life ends in the TU, which alone knows nothing will ask for them."""
        self._pending = deque(e for e in self._pending if e.leg != leg)

    async def next_event(self, kind: type[SipEvent] | tuple[type[SipEvent], ...] = SipEvent,
                         leg: str | None = None, timeout: float = 10.0) -> SipEvent:
        """The oldest buffered event of ``kind`` (for ``leg``), waiting for it if need be. Any
        number of callers may wait at once, each for its own leg."""
        async with asyncio.timeout(timeout):
            while True:
                for i, event in enumerate(self._pending):
                    if isinstance(event, kind) and (leg is None or event.leg == leg):
                        del self._pending[i]
                        return event
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

    def drain(self) -> list[SipEvent]:
        """Every buffered event, oldest first; the buffer is left empty."""
        events, self._pending = list(self._pending), deque()
        return events

    @property
    def pending_timers(self) -> int:
        return len(self._timers)

    def close(self) -> None:
        for task in self._resolving:
            task.cancel()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
