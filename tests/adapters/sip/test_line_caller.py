"""The caller's half of the SIP line (``caller_leg`` on ``sipcore``) against real peers: kamailio as
registrar and record-routing proxy, callers made of SIPp or of a plain UDP socket in this test
(to hold back an ACK, send a CANCEL or an INFO exactly when the test wants)."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.sip.adapter import SipLineAdapter
from adapters.sip.sipcore.dialog import Dialog, via
from adapters.sip.sipcore.message import (
    Addr,
    Request,
    Response,
    new_call_id,
    new_tag,
    parse,
    response_to,
)
from adapters.sip.sipcore.sdp import PCMA, PCMU, Session
from adapters.sip.sipcore.sdp import parse as parse_sdp
from cti.domain import InteractionState
from tests.adapters.center import running_center
from tests.adapters.sip.peers import (
    Kamailio,
    free_udp_port,
    free_udp_range,
    require_binary,
    sip_request,
    start_sipp,
)
from tests.adapters.sip.sipcore_line import all_dialogs_ended, authenticating_kamailio, no_route_refusals
from tests.adapters.sip.test_line import CALLER, LINE, _state_is, sip_line, until, voice_interactions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MP = pytest.MonkeyPatch


@dataclass
class RawCaller:
    """A caller that is only a UDP socket: every message it gets is kept with its arrival time."""

    proxy: Addr
    sock: socket.socket = field(default_factory=lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    got: list[tuple[float, Request | Response]] = field(default_factory=list)
    invite: Request | None = None
    dialog: Dialog | None = None

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))

    @property
    def local(self) -> Addr:
        return ("127.0.0.1", int(self.sock.getsockname()[1]))

    def send(self, msg: Request | Response, to: Addr | None = None) -> None:
        self.sock.sendto(msg.encode(), to or self.proxy)

    def call(self, offer: bytes) -> Request:
        uri = f"sip:{LINE}@{self.proxy[0]}:{self.proxy[1]}"
        req = Request(method="INVITE", uri=uri)
        req.add("Via", via(self.local))
        req.add("Max-Forwards", "70")
        req.add("From", f"<sip:{CALLER}@127.0.0.1:{self.local[1]}>;tag={new_tag()}")
        req.add("To", f"<{uri}>")
        req.add("Call-ID", new_call_id("127.0.0.1"))
        req.add("CSeq", "1 INVITE")
        req.add("Contact", f"<sip:{CALLER}@127.0.0.1:{self.local[1]}>")
        req.add("Content-Type", "application/sdp")
        req.body = offer
        self.invite = req
        self.send(req)
        return req

    async def wait_for(self, status: int, method: str, timeout: float = 10.0) -> Response:
        """The next response ``status`` to ``method`` (requests from the line are answered 200)."""
        return await asyncio.to_thread(self._wait_for, status, method, timeout)

    def _wait_for(self, status: int, method: str, timeout: float) -> Response:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self._recv(left)
            if isinstance(msg, Response) and msg.status == status and msg.cseq[1] == method:
                return msg
        raise AssertionError(f"no {status} to {method}; got {[self.first(m) for _, m in self.got]}")

    async def listen(self, seconds: float) -> list[Request | Response]:
        return await asyncio.to_thread(self._listen, seconds)

    def _listen(self, seconds: float) -> list[Request | Response]:
        deadline, out = time.monotonic() + seconds, []
        while (left := deadline - time.monotonic()) > 0:
            msg = self._recv(left)
            if msg is not None:
                out.append(msg)
        return out

    def _recv(self, timeout: float) -> Request | Response | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65535)
        except TimeoutError:
            return None
        msg = parse(data)
        self.got.append((time.monotonic(), msg))
        if isinstance(msg, Request) and msg.method not in ("ACK",):
            self.send(response_to(msg, 200), self.proxy)
        return msg

    def ack(self, ok: Response) -> None:
        assert self.invite is not None
        if self.dialog is None:
            self.dialog = Dialog.as_uac(self.invite, ok)
        self.send(self.dialog.ack(ok.cseq[0], self.local), self.dialog.next_hop(None))

    def in_dialog(self, method: str, content_type: str = "", body: bytes = b"") -> Request:
        assert self.dialog is not None
        req = self.dialog.request(method, self.local, f"<sip:{CALLER}@127.0.0.1:{self.local[1]}>")
        if content_type:
            req.add("Content-Type", content_type)
        req.body = body
        self.send(req, self.dialog.next_hop(None))
        return req

    @staticmethod
    def first(msg: Request | Response) -> str:
        return msg.first_line() + " " + msg.need("CSeq")

    def close(self) -> None:
        self.sock.close()


def invite_oks(got: list[tuple[float, Request | Response]]) -> list[tuple[float, Response]]:
    return [(at, m) for at, m in got if isinstance(m, Response) and m.status == 200 and m.cseq[1] == "INVITE"]


async def test_the_200_is_resent_until_the_ack_in_the_law_offered(tmp_path: Path, monkeypatch: MP) -> None:
    """§13.3.1.4: the line's 2xx is resent (T1, doubling) until the ACK comes through the route set,
    then no more; the SDP answer is in PCMA, the only law offered."""
    async with sip_line(tmp_path, monkeypatch) as line:
        caller = RawCaller(("127.0.0.1", line.kamailio.port))
        try:
            caller.call(Session("127.0.0.1", free_udp_port()).offer((PCMA,)))
            first = await caller.wait_for(200, "INVITE")
            await caller.listen(2.2)  # the answers at +0.5 s and +1.5 s; none acknowledged yet
            oks = invite_oks(caller.got)
            assert len(oks) >= 3, [caller.first(m) for _, m in caller.got]
            assert {m.encode() for _, m in oks} == {first.encode()}  # the same 200 each time
            assert any(isinstance(m, Response) and m.status == 180 for _, m in caller.got)
            assert parse_sdp(first.body).formats[:1] == (PCMA,)
            caller.ack(first)
            acked = time.monotonic()
            await caller.listen(4.5)  # unacknowledged, the next would come at +3.5 s
            assert [at for at, _ in invite_oks(caller.got) if at > acked + 0.2] == []
            live = await until(lambda: next(iter(line.adapter.live_calls()), None), 5, "the live call")
            assert live.leg is not None and live.leg.payload_type == PCMA
            caller.in_dialog("BYE")
            await caller.wait_for(200, "BYE")
            await until(lambda: not line.adapter.live_calls(), 5, "the call to end")
            await all_dialogs_ended(line.kamailio)
            no_route_refusals(line.kamailio)
        finally:
            caller.close()


async def test_info_keys_a_reinvite_and_the_callers_bye(tmp_path: Path, monkeypatch: MP) -> None:
    """Keys in both INFO bodies make the account; a re-INVITE gets our SDP again (same port) and
    moves the audio to the new address; the caller's BYE gets 200 and abandons the queued call."""
    async with sip_line(tmp_path, monkeypatch, digits_seconds=6) as line:
        caller = RawCaller(("127.0.0.1", line.kamailio.port))
        try:
            caller.call(Session("127.0.0.1", free_udp_port()).offer((PCMU,)))
            ok = await caller.wait_for(200, "INVITE")
            caller.ack(ok)
            for content_type, body in (("application/dtmf", b"4"),
                                       ("application/dtmf-relay", b"Signal=2\r\n"),
                                       ("application/dtmf-relay", b"Signal=#\r\nDuration=160\r\n")):
                caller.in_dialog("INFO", content_type, body)
                await caller.wait_for(200, "INFO")
            queued = await until(lambda: voice_interactions(line.center), 10, "the queued interaction")
            assert queued[0].context["ivr.account"] == "42"
            moved = free_udp_port()
            caller.in_dialog("INVITE", "application/sdp", Session("127.0.0.1", moved).offer((PCMU,)))
            again = await caller.wait_for(200, "INVITE")
            caller.ack(again)
            assert parse_sdp(again.body).port == parse_sdp(ok.body).port
            live = line.adapter.call_for(queued[0].id)
            assert live is not None and live.leg is not None
            await until(lambda: live.leg is not None and live.leg.remote == ("127.0.0.1", moved), 5,
                        "the audio to follow the re-INVITE")
            caller.in_dialog("BYE")
            await caller.wait_for(200, "BYE")
            assert await until(lambda: _state_is(line.center, queued[0].id, InteractionState.ABANDONED), 10,
                               "the interaction to be abandoned")
            await all_dialogs_ended(line.kamailio)
        finally:
            caller.close()


async def test_a_cancel_before_the_answer_gets_487_and_no_call(tmp_path: Path, monkeypatch: MP) -> None:
    """§9.2: the line rings (180) for ``pickup_seconds``; the caller's CANCEL gets 200 and the
    INVITE 487, the line never answers and no interaction is made."""
    async with sip_line(tmp_path, monkeypatch, pickup_seconds=2) as line:
        caller = RawCaller(("127.0.0.1", line.kamailio.port))
        try:
            invite = caller.call(Session("127.0.0.1", free_udp_port()).offer((PCMU,)))
            await caller.wait_for(180, "INVITE")
            cancel = Request(method="CANCEL", uri=invite.uri)
            for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
                cancel.add(name, invite.need(name))
            cancel.add("CSeq", "1 CANCEL")
            caller.send(cancel)
            await caller.wait_for(200, "CANCEL")
            terminated = await caller.wait_for(487, "INVITE")
            ack = Request(method="ACK", uri=invite.uri)
            for name in ("Via", "Max-Forwards", "From", "Call-ID"):
                ack.add(name, invite.need(name))
            ack.add("To", terminated.need("To"))
            ack.add("CSeq", "1 ACK")
            caller.send(ack)
            await caller.listen(2.5)  # past the pickup time: the line must not answer now
            assert invite_oks(caller.got) == []
            assert line.adapter.live_calls() == ()
            assert await voice_interactions(line.center) == []
            await all_dialogs_ended(line.kamailio)
        finally:
            caller.close()


async def test_keys_by_sipp_info_reach_the_line_through_the_proxy(tmp_path: Path, monkeypatch: MP) -> None:
    """The 200 carries the Record-Route set, so SIPp's INFO (dtmf-relay) and BYE are routed to us."""
    async with sip_line(tmp_path, monkeypatch) as line:
        caller = await start_sipp(tmp_path, "caller", "caller.xml", line.target, "-s", LINE, "-m", "1",
                                  "-key", "dtmf", "12#", "-key", "cli", CALLER, "-set", "hangup_ms", "500")
        try:
            assert await caller.wait(30) == 0, caller.messages()[-3000:]
            assert "Record-Route:" in caller.messages()
            queued = await until(lambda: voice_interactions(line.center), 10, "the interaction")
            assert queued[0].context["ivr.account"] == "12"
            no_route_refusals(line.kamailio)
        finally:
            caller.kill()


async def test_a_call_over_the_limit_gets_486_the_other_goes_on(tmp_path: Path, monkeypatch: MP) -> None:
    async with sip_line(tmp_path, monkeypatch, max_calls=1) as line:
        first = await start_sipp(tmp_path, "first", "caller.xml", line.target, "-s", LINE, "-m", "1",
                                 "-key", "dtmf", "1#", "-key", "cli", CALLER, "-set", "hangup_ms", "5000")
        second = None
        try:
            queued = await until(lambda: voice_interactions(line.center), 15, "the first call queued")
            second = await start_sipp(tmp_path, "second", "caller.xml", line.target, "-s", LINE, "-m", "1",
                                      "-key", "dtmf", "2#", "-key", "cli", "15550000002",
                                      "-set", "hangup_ms", "500", "-recv_timeout", "5000")
            await second.wait(20)  # caller.xml does not expect a refusal: its exit code says little
            assert "SIP/2.0 486 Busy Here" in second.messages()
            live = line.adapter.call_for(queued[0].id)
            assert live is not None and live.leg is not None
            before = live.leg.counts.received
            await asyncio.sleep(0.5)
            assert live.leg.counts.received > before  # the first call's audio still flows
            assert await first.wait(20) == 0, first.messages()[-3000:]
        finally:
            first.kill()
            if second is not None:
                second.kill()


async def test_a_method_the_line_does_not_take_gets_a_final_answer(tmp_path: Path, monkeypatch: MP) -> None:
    async with sip_line(tmp_path, monkeypatch) as line:
        status = await asyncio.to_thread(sip_request, line.sip_port, "REFER", f"sip:{LINE}@127.0.0.1")
        assert status == "SIP/2.0 405 Method Not Allowed"


async def test_the_line_registers_with_digest_at_a_challenging_registrar(tmp_path: Path) -> None:
    """kamailio answers the line's REGISTER 401 until it carries the password's digest."""
    workdir = tmp_path / "kamailio"
    workdir.mkdir()
    kam = Kamailio(port=free_udp_port(), workdir=workdir, binary=require_binary("kamailio"),
                   config=authenticating_kamailio(tmp_path))
    kam.start()
    try:
        rtp = free_udp_range(4)
        section = {"server": "127.0.0.1", "port": kam.port, "user": LINE, "password": "secret",
                   "sip_port": free_udp_port(), "rtp_port_low": rtp, "rtp_port_high": rtp + 3}
        async with running_center(tmp_path, {"sip": section}) as center:
            adapter = next(c for c in center.services.call_controls if isinstance(c, SipLineAdapter))
            await asyncio.wait_for(adapter.registered.wait(), 10)
            aor = f"sip:{LINE}@127.0.0.1:{kam.port}"
            probe = await asyncio.to_thread(sip_request, kam.port, "OPTIONS", aor)
            assert probe == "SIP/2.0 200 OK"
    finally:
        kam.stop()


class Registrar:
    """A registrar that is a plain socket: it answers 200 to everything and keeps what it got."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.got: list[Request] = []

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data, addr = await loop.sock_recvfrom(self.sock, 65535)
            msg = parse(data)
            if isinstance(msg, Request):
                self.got.append(msg)
                resp = response_to(msg, 200, to_tag=new_tag())
                if msg.method == "REGISTER":
                    resp.add("Contact", msg.need("Contact") + ";expires=60")
                await loop.sock_sendto(self.sock, resp.encode(), addr)


async def test_the_lines_call_ids_tags_and_branches_differ_across_restarts(tmp_path: Path) -> None:
    """pyVoIP's were derived from a counter, the same in every run: a registrar or proxy that kept
    state across our restart took the new REGISTER for a retransmission of the old one."""
    registrar = Registrar()
    serving = asyncio.create_task(registrar.serve())
    runs: list[list[Request]] = []
    try:
        for run in ("1", "2"):
            (tmp_path / run).mkdir()
            rtp = free_udp_range(4)
            section = {"server": "127.0.0.1", "port": registrar.port, "user": LINE, "password": "",
                       "sip_port": free_udp_port(), "rtp_port_low": rtp, "rtp_port_high": rtp + 3}
            before = len(registrar.got)
            async with running_center(tmp_path / run, {"sip": section}) as center:
                adapter = next(c for c in center.services.call_controls if isinstance(c, SipLineAdapter))
                await asyncio.wait_for(adapter.registered.wait(), 10)
            runs.append(registrar.got[before:])  # the REGISTER, and the one removing it at the stop
    finally:
        serving.cancel()
        registrar.sock.close()
    first, second = runs
    assert [r.get("Expires") for r in first] == ["300", "0"] == [r.get("Expires") for r in second]
    assert {r.call_id for r in first}.isdisjoint({r.call_id for r in second})
    assert {r.from_.params["tag"] for r in first}.isdisjoint({r.from_.params["tag"] for r in second})
    assert {r.branch for r in first}.isdisjoint({r.branch for r in second})
    assert all(r.branch.startswith("z9hG4bK") for r in first + second)
