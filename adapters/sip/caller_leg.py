"""The caller's half of the SIP line, on ``sipcore``: the line's registration and the calls that
come in through the trunk's proxy.

One ``SipEndpoint`` on the line's ``sip_port`` keeps ``sip:<user>@<server>`` registered (digest
answered, refreshed at half the expiry, retried with back-off for ever, reported lost when the
binding lapses unrefreshed) and answers OPTIONS. An INVITE gets 100 from the core's server
transaction, then 180; over ``max_calls`` 486, without a usable G.711 offer 488, with no RTP port
free 503. After ``pickup_seconds`` the call is handed to the adapter (``CallerEvents.on_incoming``)
with a bound RTP socket; the adapter opens its media and ``answer``s: a 200 with the SDP answer in
the caller's law, resent until the ACK (the core: T1 doubling to T2, BYE after 64*T1). A CANCEL
before that gets 200 and the INVITE 487 (the core, §9.2); the caller's INFO keys, BYE and
re-INVITE come back as events. ``hangup`` ends a call: BYE through the dialog's route set once
answered, 480 while it rings.

Everything runs on the loop: the endpoint wakes for a datagram or a timer, nothing polls.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from typing import Protocol

from adapters.sip.caller_call import Refuse, Take, admit, info_key, moved_to, user_part
from adapters.sip.config import SipConfig
from adapters.sip.media import MediaLeg
from adapters.sip.sipcore.digest import Credentials
from adapters.sip.sipcore.events import (
    Cancelled,
    Confirmed,
    Ended,
    IncomingCall,
    InDialogRequest,
    Registered,
    RegistrationFailed,
    RegistrationLapsed,
    SipEvent,
)
from adapters.sip.sipcore.message import Addr, Request
from adapters.sip.sipcore.sdp import Session
from adapters.sip.sipcore.transport import SipEndpoint

log = logging.getLogger(__name__)


class CallerEvents(Protocol):
    """What the line tells the adapter, on the loop."""

    def on_registered(self, ok: bool, why: str) -> None: ...
    def on_incoming(self, call: CallerCall) -> None: ...
    def on_dtmf(self, call: CallerCall, digit: str) -> None: ...
    def on_ended(self, call: CallerCall, why: str) -> None: ...


class CallerCall:
    """One caller's call. Its RTP socket is the adapter's from ``on_incoming`` on (it opens the
    call's ``MediaLeg`` on it, or closes it)."""

    def __init__(self, line: CallerLine, invite: Request, take: Take, sock: socket.socket) -> None:
        self._line = line
        self.call_id = invite.call_id
        self.caller = user_part(invite.need("From"))  # as the trunk sent it: asserted, not proven
        self.called = user_part(invite.need("To"))
        self.sock = sock
        self.remote: Addr = (take.offer.address, take.offer.port)
        self.payload_type = take.codec
        self.dtmf_payload_type = take.offer.dtmf
        local_port = int(sock.getsockname()[1])
        self.answer_body = Session(line.config.local_ip, local_port).answer(take.offer, (take.codec,))
        self.state = "ringing"  # ringing, answered, ended
        self.handed = False  # the adapter has it (and its socket)
        self.media: MediaLeg | None = None  # the adapter's media for it: a re-INVITE moves its far end
        self.pickup: asyncio.TimerHandle | None = None

    def answer(self) -> bool:
        """200 with our SDP answer (resent until the caller's ACK); False if the call is over
        (cancelled meanwhile)."""
        if self.state != "ringing":
            return False
        endpoint = self._line.endpoint
        actions = endpoint.core.answer(self.call_id, 200, self.answer_body) if endpoint else []
        if endpoint is None or not actions:
            return False
        self.state = "answered"
        endpoint.run(actions)
        return True

    def hangup(self) -> None:
        """Our end of the call: BYE through the dialog's route set, or 480 while it still rings."""
        if self.state == "ended":
            return
        was, self.state = self.state, "ended"
        self._line.forget(self)
        endpoint = self._line.endpoint
        if endpoint is None:
            return
        core = endpoint.core
        endpoint.run(core.bye(self.call_id) if was == "answered" else
                     core.answer(self.call_id, 480, reason="Temporarily Unavailable"))


class CallerLine:
    def __init__(self, config: SipConfig, events: CallerEvents) -> None:
        self.config = config
        self.events = events
        self.endpoint: SipEndpoint | None = None
        self.calls: dict[str, CallerCall] = {}  # Call-ID -> a call not ended
        self.registered = False

    @property
    def aor(self) -> str:
        return f"sip:{self.config.user}@{self.config.server}"

    async def start(self) -> None:
        c = self.config
        self.attach(await SipEndpoint.open(
            c.local_ip, c.sip_port, outbound=(c.server, c.port), user=c.user,
            credentials=Credentials(c.user, c.password) if c.password else None))

    def attach(self, endpoint: SipEndpoint) -> None:
        """Take ``endpoint``'s events and register through it (``start``; tests without a socket)."""
        self.endpoint = endpoint
        endpoint.on_event = self._on_event
        endpoint.run(endpoint.core.register(self.aor, self.config.register_expires))

    async def stop(self) -> None:
        """480 to every call still ringing, BYE to every answered one, the registration removed;
        their answers waited for a moment, then the socket closed."""
        endpoint = self.endpoint
        if endpoint is None:
            return
        await endpoint.shutdown()
        self.endpoint = None
        for call in list(self.calls.values()):
            call.state = "ended"
            self.forget(call)

    def forget(self, call: CallerCall) -> None:
        self.calls.pop(call.call_id, None)
        if call.pickup is not None:
            call.pickup.cancel()
        if not call.handed:
            call.sock.close()

    # --- the core's events -------------------------------------------------------------------

    def _on_event(self, event: SipEvent) -> None:
        if isinstance(event, Registered | RegistrationFailed | RegistrationLapsed):
            self._registration(event)
        elif isinstance(event, IncomingCall):
            self._incoming(event.request)
        elif (call := self.calls.get(event.leg)) is None:
            return  # a call we ended (its BYE's answer), or one refused
        elif isinstance(event, Cancelled):
            log.info("sip caller cancelled before the answer call=%s from=%s", call.call_id, call.caller)
            self._ended(call, "cancelled")
        elif isinstance(event, Ended):
            self._ended(call, "remote-bye" if event.by == "remote" else event.by)
        elif isinstance(event, InDialogRequest):
            self._in_dialog(call, event.request)
        elif isinstance(event, Confirmed):
            log.debug("sip caller ACKed call=%s", call.call_id)

    def _registration(self, event: Registered | RegistrationFailed | RegistrationLapsed) -> None:
        if isinstance(event, Registered):
            if event.expires == 0 or self.registered:
                return  # the removal at stop, or a refresh
            self.registered = True
            self.events.on_registered(True, "")
            return
        self.registered = False
        why = (f"registrar answered {event.status}, retry in {event.retry_in:.0f} s"
               if isinstance(event, RegistrationFailed) else "the binding expired unrefreshed")
        self.events.on_registered(False, why)

    def _incoming(self, invite: Request) -> None:
        endpoint = self.endpoint
        if endpoint is None:
            return
        call_id = invite.call_id
        decision = admit(invite, len(self.calls), self.config.max_calls)
        sock = self._rtp_socket() if isinstance(decision, Take) else None
        if isinstance(decision, Take) and sock is None:
            decision = Refuse(503, "Service Unavailable")
        if isinstance(decision, Refuse) or sock is None:
            assert isinstance(decision, Refuse)
            log.warning("sip call refused call=%s status=%d why=%s calls=%d", call_id, decision.status,
                        decision.reason, len(self.calls))
            endpoint.run(endpoint.core.answer(call_id, decision.status, reason=decision.reason))
            return
        call = CallerCall(self, invite, decision, sock)
        self.calls[call_id] = call
        endpoint.run(endpoint.core.answer(call_id, 180))
        if self.config.pickup_seconds > 0:
            call.pickup = asyncio.get_running_loop().call_later(self.config.pickup_seconds, self._hand, call)
        else:
            self._hand(call)

    def _hand(self, call: CallerCall) -> None:
        call.pickup = None
        if call.state != "ringing" or call.call_id not in self.calls:
            return
        call.handed = True
        self.events.on_incoming(call)

    def _ended(self, call: CallerCall, why: str) -> None:
        call.state = "ended"
        self.forget(call)
        if call.handed:
            self.events.on_ended(call, why)

    def _in_dialog(self, call: CallerCall, request: Request) -> None:
        if request.method == "INFO":
            key = info_key(request)
            if key is not None and call.handed:
                self.events.on_dtmf(call, key)
        elif request.method == "INVITE":  # answered 200 with our SDP by the core
            where = moved_to(request.body, call.payload_type)
            if where is not None and where != call.remote:
                log.info("sip caller re-INVITE moves its audio call=%s to=%s:%d", call.call_id, *where)
                call.remote = where
                if call.media is not None:
                    call.media.remote = where

    def _rtp_socket(self) -> socket.socket | None:
        """A socket bound to a free even port of the RTP range (random, so a port just freed is
        not reused at once by the next call)."""
        c = self.config
        ports = list(range(c.rtp_port_low + (c.rtp_port_low & 1), c.rtp_port_high + 1, 2))
        random.shuffle(ports)
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((c.local_ip, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            return sock
        return None
