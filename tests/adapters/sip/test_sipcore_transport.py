"""``SipEndpoint``, the asyncio side of the SIP layer, against plain UDP sockets on loopback."""

from __future__ import annotations

import asyncio
import socket
import time

from adapters.sip.sipcore.events import Ringing, SipEvent
from adapters.sip.sipcore.message import Request, Response, parse, response_to
from adapters.sip.sipcore.transaction import Send
from adapters.sip.sipcore.transport import SipEndpoint


def listener() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


async def receive(s: socket.socket, timeout: float) -> tuple[bytes, tuple[str, int]] | None:
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.sock_recvfrom(s, 65535), timeout)
    except TimeoutError:
        return None


async def test_timer_a_retransmits_on_the_loop_until_a_provisional() -> None:
    """The INVITE to a silent peer is sent again after 0.5 s, then after 1 s more (Timer A on
    call_later); a 100 stops it."""
    silent = listener()
    port = silent.getsockname()[1]
    ep = await SipEndpoint.open("127.0.0.1", 0, outbound=("127.0.0.1", port))
    try:
        start = time.monotonic()
        _, actions = ep.core.invite(f"sip:agent@127.0.0.1:{port}", from_uri="sip:line@127.0.0.1")
        ep.run(actions)
        times = []
        for _ in range(3):
            got = await receive(silent, 2.0)
            assert got is not None
            times.append(time.monotonic() - start)
            data, source = got
        # lower bounds only: a loaded machine may fire a timer late, never early
        assert times[1] - times[0] >= 0.45 and times[2] - times[1] >= 0.95
        invite = parse(data)
        assert isinstance(invite, Request)
        trying = response_to(invite, 100)
        silent.sendto(trying.encode(), source)
        assert await receive(silent, 1.5) is None  # Timer A stopped
    finally:
        ep.close()
        silent.close()


async def test_a_name_is_resolved_off_the_loop_and_an_unknown_one_is_dropped() -> None:
    peer = listener()
    port = peer.getsockname()[1]
    ep = await SipEndpoint.open("127.0.0.1", 0)
    try:
        ok = Response(status=200, reason="OK", headers=[("Call-ID", "x")])
        ep.run([Send(ok, ("nowhere.invalid", port)), Send(ok, ("localhost", port))])
        got = await receive(peer, 5.0)
        assert got is not None and got[0].startswith(b"SIP/2.0 200 OK")
        assert ep.sent == 1
    finally:
        ep.close()
        peer.close()


async def test_an_idle_endpoint_holds_no_timer() -> None:
    ep = await SipEndpoint.open("127.0.0.1", 0)
    try:
        await asyncio.sleep(0.1)
        assert ep.pending_timers == 0
    finally:
        ep.close()


async def test_waiters_for_different_legs_each_get_their_own_event() -> None:
    """The adapter waits on many legs at once: an event read while looking for another leg's must
    still reach its own waiter."""
    ep = await SipEndpoint.open("127.0.0.1", 0)
    try:
        waiters = [asyncio.create_task(ep.next_event(Ringing, leg, timeout=2.0)) for leg in ("a", "b")]
        await asyncio.sleep(0)
        ep.run([Ringing("b", 180), Ringing("a", 183)])
        assert await asyncio.gather(*waiters) == [Ringing("a", 183), Ringing("b", 180)]
        ep.run([Ringing("c", 180)])
        assert ep.drain() == [Ringing("c", 180)] and ep.drain() == []
    finally:
        ep.close()


async def test_a_callback_takes_events_instead_of_the_buffer() -> None:
    ep = await SipEndpoint.open("127.0.0.1", 0)
    try:
        seen: list[SipEvent] = []
        ep.on_event = seen.append
        ep.run([Ringing("a", 180)])
        assert seen == [Ringing("a", 180)] and ep.drain() == []
    finally:
        ep.close()


async def test_a_finished_legs_unclaimed_events_are_discarded() -> None:
    """Events nobody asks for (the 180s of a leg already over) do not fill the buffer for ever."""
    ep = await SipEndpoint.open("127.0.0.1", 0)
    try:
        ep.run([Ringing("leg-1", 180), Ringing("leg-2", 180), Ringing("leg-1", 183)])
        ep.discard("leg-1")
        event = await ep.next_event(Ringing, timeout=0.1)
        assert event.leg == "leg-2"
        try:
            await ep.next_event(Ringing, "leg-1", timeout=0.1)
        except TimeoutError:
            pass
        else:
            raise AssertionError("leg-1's events were kept")
    finally:
        ep.close()
