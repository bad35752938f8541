"""``CallerLine`` driven with datagrams as bytes and timer expiries, on an endpoint with no socket:
what the adapter is told and what goes out, for each thing a caller or a registrar can do."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from adapters.sip.caller_leg import CallerCall, CallerLine
from adapters.sip.config import SipConfig
from adapters.sip.sipcore.core import SipCore
from adapters.sip.sipcore.message import Addr, Request, Response, parse, response_to
from adapters.sip.sipcore.sdp import PCMA, PCMU, Session
from adapters.sip.sipcore.sdp import parse as parse_sdp
from adapters.sip.sipcore.transport import SipEndpoint
from tests.adapters.sip.peers import free_udp_range

PROXY: Addr = ("127.0.0.1", 5060)
ME: Addr = ("127.0.0.1", 5070)
RR = "<sip:127.0.0.1:5060;lr;ftag=c1>"


@dataclass
class Heard:
    """The adapter's side: what the line told it."""

    registered: list[tuple[bool, str]] = field(default_factory=list)
    calls: list[CallerCall] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)

    def on_registered(self, ok: bool, why: str) -> None:
        self.registered.append((ok, why))

    def on_incoming(self, call: CallerCall) -> None:
        self.calls.append(call)

    def on_dtmf(self, call: CallerCall, digit: str) -> None:
        self.keys.append(digit)

    def on_ended(self, call: CallerCall, why: str) -> None:
        self.ended.append(why)


@dataclass
class Wire:
    line: CallerLine
    heard: Heard
    out: list[Request | Response] = field(default_factory=list)

    def feed(self, msg: Request | Response) -> list[Request | Response]:
        before = len(self.out)
        assert self.line.endpoint is not None
        self.line.endpoint.on_datagram(msg.encode(), PROXY)
        return self.out[before:]

    def statuses(self, msgs: list[Request | Response]) -> list[tuple[int, str]]:
        return [(m.status, m.cseq[1]) for m in msgs if isinstance(m, Response)]

    def close(self) -> None:
        for call in self.heard.calls:
            call.sock.close()
        for call in list(self.line.calls.values()):
            call.sock.close()


def wire(**overrides: object) -> Wire:
    low = free_udp_range(4)
    config = SipConfig(server="127.0.0.1", port=5060, user="line", password="", sip_port=ME[1],
                       rtp_port_low=low, rtp_port_high=low + 3, register_expires=60,
                       **overrides)  # type: ignore[arg-type]
    heard = Heard()
    line = CallerLine(config, heard)
    endpoint = SipEndpoint(SipCore(ME, outbound=PROXY, user="line"))
    w = Wire(line, heard)
    endpoint.tap = lambda way, data, addr: w.out.append(parse(data)) if way == "out" else None
    line.attach(endpoint)
    return w


def invite(offer: bytes, *, call_id: str = "c1@10.0.0.7", branch: str = "z9hG4bKc1") -> Request:
    req = Request(method="INVITE", uri="sip:line@127.0.0.1:5070")
    req.add("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch}")
    req.add("Record-Route", RR)
    req.add("From", '"Bob" <sip:15551234567@10.0.0.7>;tag=c1')
    req.add("To", "<sip:4420@127.0.0.1>")
    req.add("Call-ID", call_id)
    req.add("CSeq", "1 INVITE")
    req.add("Contact", "<sip:15551234567@10.0.0.7:5062>")
    req.add("Content-Type", "application/sdp")
    req.body = offer
    return req


def in_dialog(first: Request, ok: Response, method: str, seq: int) -> Request:
    req = Request(method=method, uri="sip:line@127.0.0.1:5070")
    req.add("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{method}{seq}")
    req.add("From", first.need("From"))
    req.add("To", ok.need("To"))
    req.add("Call-ID", first.call_id)
    req.add("CSeq", f"{seq} {method}")
    return req


OFFER = Session("10.0.0.7", 4000).offer((PCMA, PCMU))


def test_a_call_rings_is_handed_over_and_answered_in_the_callers_first_law() -> None:
    w = wire()
    try:
        out = w.feed(invite(OFFER))
        assert w.statuses(out) == [(100, "INVITE"), (180, "INVITE")]
        (call,) = w.heard.calls
        assert (call.caller, call.called, call.payload_type, call.remote) == (
            "15551234567", "4420", PCMA, ("10.0.0.7", 4000))
        before = len(w.out)
        assert call.answer() is True
        (ok,) = w.out[before:]
        assert isinstance(ok, Response) and ok.status == 200 and ok.all("Record-Route") == [RR]
        answer = parse_sdp(ok.body)
        assert answer.formats[:1] == (PCMA,) and answer.port == call.sock.getsockname()[1]
        assert call.answer() is False  # once
    finally:
        w.close()


def test_a_second_call_over_max_calls_is_busy_and_never_handed_over() -> None:
    w = wire(max_calls=1)
    try:
        w.feed(invite(OFFER))
        out = w.feed(invite(OFFER, call_id="c2@10.0.0.7", branch="z9hG4bKc2"))
        assert w.statuses(out) == [(100, "INVITE"), (486, "INVITE")]
        assert len(w.heard.calls) == 1
    finally:
        w.close()


def test_no_g711_in_the_offer_is_488() -> None:
    w = wire()
    out = w.feed(invite(b"v=0\r\no=x 1 1 IN IP4 10.0.0.7\r\ns=-\r\nc=IN IP4 10.0.0.7\r\nt=0 0\r\n"
                        b"m=audio 4000 RTP/AVP 18\r\n"))
    assert w.statuses(out) == [(100, "INVITE"), (488, "INVITE")]
    assert w.heard.calls == []


async def test_a_cancel_while_it_rings_is_487_and_the_adapter_never_hears_of_it() -> None:
    w = wire(pickup_seconds=0.2)
    first = invite(OFFER)
    w.feed(first)
    assert w.heard.calls == []  # still ringing
    (ringing,) = w.line.calls.values()
    cancel = Request(method="CANCEL", uri=first.uri)
    for name in ("Via", "From", "To", "Call-ID"):
        cancel.add(name, first.need(name))
    cancel.add("CSeq", "1 CANCEL")
    assert w.statuses(w.feed(cancel)) == [(200, "CANCEL"), (487, "INVITE")]
    await asyncio.sleep(0.3)  # past the pickup time
    assert w.heard.calls == [] and w.heard.ended == []
    assert ringing.sock.fileno() == -1  # its RTP port is free again
    assert w.line.calls == {}


def test_info_keys_a_reinvite_and_the_callers_bye_reach_the_adapter() -> None:
    w = wire()
    try:
        first = invite(OFFER)
        w.feed(first)
        (call,) = w.heard.calls
        call.answer()
        ok = next(m for m in w.out if isinstance(m, Response) and m.status == 200)
        ack = in_dialog(first, ok, "ACK", 1)
        w.feed(ack)
        for seq, (kind, body) in enumerate((("application/dtmf-relay", b"Signal=4\r\nDuration=160"),
                                            ("application/dtmf", b"#"),
                                            ("text/plain", b"Signal=9")), start=2):
            info = in_dialog(first, ok, "INFO", seq)
            info.add("Content-Type", kind)
            info.body = body
            assert w.statuses(w.feed(info)) == [(200, "INFO")]
        assert w.heard.keys == ["4", "#"]
        again = in_dialog(first, ok, "INVITE", 5)
        again.add("Content-Type", "application/sdp")
        again.body = Session("10.0.0.8", 4100).offer((PCMA,))
        (reok,) = w.feed(again)
        assert isinstance(reok, Response) and reok.status == 200 and reok.body == ok.body
        assert call.remote == ("10.0.0.8", 4100)
        assert w.statuses(w.feed(in_dialog(first, ok, "BYE", 6))) == [(200, "BYE")]
        assert w.heard.ended == ["remote-bye"]
        assert w.line.calls == {}
    finally:
        w.close()


def test_our_hangup_is_a_bye_through_the_route_set_and_480_while_ringing() -> None:
    w = wire(pickup_seconds=0)
    try:
        first = invite(OFFER)
        w.feed(first)
        (call,) = w.heard.calls
        call.answer()
        before = len(w.out)
        call.hangup()
        (bye,) = w.out[before:]
        assert isinstance(bye, Request) and bye.method == "BYE" and bye.all("Route") == [RR]
        assert bye.uri == "sip:15551234567@10.0.0.7:5062"
        w.feed(invite(OFFER, call_id="c2@10.0.0.7", branch="z9hG4bKc2"))
        second = w.heard.calls[1]
        before = len(w.out)
        second.hangup()
        assert w.statuses(w.out[before:]) == [(480, "INVITE")]
        assert w.heard.ended == []  # the adapter ended them: it is not told again
    finally:
        w.close()


def test_registration_is_reported_on_change_and_when_the_binding_lapses() -> None:
    w = wire()
    (register,) = [m for m in w.out if isinstance(m, Request) and m.method == "REGISTER"]
    assert isinstance(register, Request)
    w.feed(response_to(register, 200, to_tag="r"))
    assert w.heard.registered == [(True, "")]
    assert w.line.endpoint is not None
    core = w.line.endpoint.core
    w.line.endpoint.run(core.on_timer(("reg:sip:line@127.0.0.1", "refresh")))  # never answered
    assert [m.method for m in w.out if isinstance(m, Request)] == ["REGISTER", "REGISTER"]
    assert w.heard.registered == [(True, "")]  # a refresh in flight is no news
    w.line.endpoint.run(core.on_timer(("reg:sip:line@127.0.0.1", "lapse")))
    assert w.heard.registered == [(True, ""), (False, "the binding expired unrefreshed")]


@pytest.mark.parametrize("status", [403, 503])
def test_a_refused_register_is_reported_with_its_status(status: int) -> None:
    w = wire()
    (register,) = [m for m in w.out if isinstance(m, Request) and m.method == "REGISTER"]
    assert isinstance(register, Request)
    w.feed(response_to(register, status, to_tag="r"))
    ((ok, why),) = w.heard.registered
    assert not ok and f"registrar answered {status}" in why
