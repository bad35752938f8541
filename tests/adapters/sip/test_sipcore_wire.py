"""``adapters.sip.sipcore`` on the wire: the agent's leg through kamailio (record-route, not
loosened: an in-dialog request without our Route is refused, an ACK without it dropped) to SIPp
phones registered there. What the phone received is read from SIPp's message trace; kamailio's
dialog module must show every dialog ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.sip.sipcore.digest import Credentials
from adapters.sip.sipcore.events import (
    Answered,
    Confirmed,
    Ended,
    IncomingCall,
    InDialogRequest,
    Registered,
    RegistrationFailed,
    ReinviteDone,
    Rejected,
    Ringing,
)
from adapters.sip.sipcore.sdp import PCMU
from adapters.sip.sipcore.sdp import parse as parse_sdp
from adapters.sip.sipcore.transport import SipEndpoint
from tests.adapters.sip.peers import SIPP_DIR, start_sipp
from tests.adapters.sip.sipcore_line import (
    MEDIA,
    OFFER,
    REINVITE_XML,
    all_dialogs_ended,
    authenticating_kamailio,
    headers,
    line,
    no_route_refusals,
    phone_received,
)
from tests.adapters.sip.wire import BUSY_XML, agent_with_record_route

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_an_answered_agent_leg_is_acked_and_hung_up_through_the_route_set(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        phone = ln.phone("agentA", agent_with_record_route(tmp_path), "-set", "ring_ms", "300",
                         "-set", "talk_ms", "0")
        ep = ln.endpoint
        leg, actions = ep.core.invite(ln.uri("agentA"), from_uri=ln.uri("line"), body=OFFER)
        ep.run(actions)
        assert await ep.next_event((Ringing, Rejected), leg) == Ringing(leg, 180)
        answered = await ep.next_event((Answered, Rejected), leg)
        assert isinstance(answered, Answered)
        media = parse_sdp(answered.body)
        assert (media.address, media.codec, media.direction) == ("127.0.0.1", PCMU, "sendrecv")
        await asyncio.sleep(1.0)
        assert ln.count("SIP/2.0 200") == 2  # the REGISTER's and the INVITE's: the ACK reached the phone
        assert ln.kamailio.dialogs()["all"] == 1
        ep.run(ep.core.bye(leg))
        assert await ep.next_event(Ended, leg) == Ended(leg, "local")
        assert await asyncio.to_thread(phone.wait, 5) == 0
        (ack,) = phone_received(phone, "ACK")
        (bye,) = phone_received(phone, "BYE")
        record_route = headers(phone_received(phone, "INVITE")[0], "Record-Route")
        assert record_route and "lr" in record_route[0]
        for method, at_phone in (("ACK", ack), ("BYE", bye)):
            ((text, addr),) = ln.requests_sent(method)
            # sent to the proxy, with its Record-Route as our Route, to the phone's Contact
            assert addr == ("127.0.0.1", ln.kamailio.port)
            assert headers(text, "Route") == record_route
            assert text.split(" ", 2)[1] == f"sip:127.0.0.1:{phone.port};transport=UDP"
            assert at_phone.split(" ", 2)[1] == f"sip:127.0.0.1:{phone.port};transport=UDP"
        no_route_refusals(ln.kamailio)
        await all_dialogs_ended(ln.kamailio)


async def test_the_agent_hangs_up_and_the_line_answers_the_bye(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        phone = ln.phone("agentB", agent_with_record_route(tmp_path), "-set", "ring_ms", "0",
                         "-set", "talk_ms", "800")
        ep = ln.endpoint
        leg, actions = ep.core.invite(ln.uri("agentB"), from_uri=ln.uri("line"), body=OFFER)
        ep.run(actions)
        assert isinstance(await ep.next_event((Answered, Rejected), leg), Answered)
        assert await ep.next_event(Ended, leg) == Ended(leg, "remote")
        assert await asyncio.to_thread(phone.wait, 5) == 0  # it got our 200 to its BYE
        no_route_refusals(ln.kamailio)
        await all_dialogs_ended(ln.kamailio)


async def test_a_busy_agent_486_is_acked_once(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        busy = tmp_path / "busy.xml"
        busy.write_text(BUSY_XML)
        phone = ln.phone("agentC", busy)
        ep = ln.endpoint
        leg, actions = ep.core.invite(ln.uri("agentC"), from_uri=ln.uri("line"), body=OFFER)
        ep.run(actions)
        assert await ep.next_event(Rejected, leg) == Rejected(leg, 486, "Busy Here")
        await asyncio.sleep(2.0)  # kamailio resends an unACKed final after 0.5 and 1.5 s
        assert ln.count("SIP/2.0 486") == 1
        assert await asyncio.to_thread(phone.wait, 5) == 0
        await all_dialogs_ended(ln.kamailio)


async def test_a_ringing_agent_is_cancelled_and_the_487_acked(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        phone = ln.phone("agentD", SIPP_DIR / "agent_noanswer.xml")
        ep = ln.endpoint
        leg, actions = ep.core.invite(ln.uri("agentD"), from_uri=ln.uri("line"), body=OFFER)
        ep.run(actions)
        assert await ep.next_event((Ringing, Rejected), leg) == Ringing(leg, 180)
        ep.run(ep.core.cancel(leg))
        assert await ep.next_event(Rejected, leg) == Rejected(leg, 487, "Request Terminated")
        await asyncio.sleep(2.0)
        assert ln.count("SIP/2.0 487") == 1
        assert ln.count("SIP/2.0 200") == 2  # the REGISTER's and the CANCEL's
        (cancel,) = phone_received(phone, "CANCEL")
        assert headers(cancel, "CSeq") == ["1 CANCEL"]
        assert await asyncio.to_thread(phone.wait, 5) == 0
        await all_dialogs_ended(ln.kamailio)


async def test_a_reinvite_to_the_agent_goes_through_the_route_set(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        scenario = tmp_path / "reinvite.xml"
        scenario.write_text(REINVITE_XML)
        phone = ln.phone("agentE", scenario)
        ep = ln.endpoint
        leg, actions = ep.core.invite(ln.uri("agentE"), from_uri=ln.uri("line"), body=OFFER)
        ep.run(actions)
        assert isinstance(await ep.next_event((Answered, Rejected), leg), Answered)
        ep.run(ep.core.reinvite(leg, MEDIA.offer(direction="sendonly")))
        assert await ep.next_event(ReinviteDone, leg) == ReinviteDone(leg, 200, b"")
        ep.run(ep.core.bye(leg))
        assert await ep.next_event(Ended, leg) == Ended(leg, "local")
        assert await asyncio.to_thread(phone.wait, 5) == 0
        invites = phone_received(phone, "INVITE")
        assert len(invites) == 2 and "a=sendonly" in invites[1]
        assert headers(invites[1], "CSeq") == ["2 INVITE"]
        assert len(phone_received(phone, "ACK")) == 2
        no_route_refusals(ln.kamailio)
        await all_dialogs_ended(ln.kamailio)


async def test_a_call_to_the_line_is_answered_and_the_callers_bye_ends_it(tmp_path: Path) -> None:
    """The caller's half on the same layer: SIPp's caller.xml through kamailio to ``line``."""
    async with line(tmp_path) as ln:
        ep = ln.endpoint
        caller = await start_sipp(tmp_path, "caller", "caller.xml", f"127.0.0.1:{ln.kamailio.port}",
                                  "-s", "line", "-m", "1", "-key", "dtmf", "47#", "-key", "cli",
                                  "15551234567", "-set", "hangup_ms", "500")
        call = await ep.next_event(IncomingCall, timeout=10)
        assert isinstance(call, IncomingCall) and "15551234567" in call.request.need("From")
        leg = call.leg
        ep.run(ep.core.answer(leg, 180))
        ep.run(ep.core.answer(leg, 200, OFFER))
        assert await ep.next_event(Confirmed, leg) == Confirmed(leg)
        digits = []
        for _ in range(3):
            info = await ep.next_event(InDialogRequest, leg)
            assert isinstance(info, InDialogRequest) and info.request.method == "INFO"
            digits.append(info.request.body.split(b"Signal=")[1][:1].decode())
        assert digits == ["4", "7", "#"]
        assert await ep.next_event(Ended, leg, timeout=10) == Ended(leg, "remote")
        assert await caller.wait(10) == 0
        no_route_refusals(ln.kamailio)
        await all_dialogs_ended(ln.kamailio)


async def test_a_restart_ends_every_leg_in_kamailios_dialog_table(tmp_path: Path) -> None:
    """Two agents talking and one ringing when the line shuts down: BYE, BYE and CANCEL through
    the proxy, and kamailio is left with no dialog (issue 15, item 4)."""
    async with line(tmp_path) as ln:
        ep = ln.endpoint
        scenario = agent_with_record_route(tmp_path)
        talkers = [ln.phone(name, scenario, "-set", "ring_ms", "0", "-set", "talk_ms", "0")
                   for name in ("agentF", "agentG")]
        ringer = ln.phone("agentH", SIPP_DIR / "agent_noanswer.xml")
        legs = []
        for name in ("agentF", "agentG", "agentH"):
            leg, actions = ep.core.invite(ln.uri(name), from_uri=ln.uri("line"), body=OFFER)
            ep.run(actions)
            legs.append(leg)
        for leg in legs[:2]:
            assert isinstance(await ep.next_event((Answered, Rejected), leg), Answered)
        assert await ep.next_event((Ringing, Rejected), legs[2]) == Ringing(legs[2], 180)
        await asyncio.sleep(0.5)
        assert ln.kamailio.dialogs()["all"] == 3
        await ep.shutdown()
        for phone in (*talkers, ringer):
            assert await asyncio.to_thread(phone.wait, 5) == 0
        assert len(ln.requests_sent("BYE")) == 2 and len(ln.requests_sent("CANCEL")) == 1
        assert ln.count("SIP/2.0 487") == 1
        assert [t for t, _ in ln.sent if t.startswith("REGISTER") and "\r\nExpires: 0\r\n" in t]
        no_route_refusals(ln.kamailio)
        await all_dialogs_ended(ln.kamailio)


async def test_a_line_that_must_authenticate_registers_and_calls(tmp_path: Path) -> None:
    """A registrar that challenges: the REGISTER (401) and the INVITE (407) are answered with
    digest credentials; a wrong password is reported, not looped."""
    config = authenticating_kamailio(tmp_path)
    async with line(tmp_path, config=config, credentials=Credentials("line", "secret")) as ln:
        assert ln.count("SIP/2.0 401") == 1
        phone = ln.phone("agentA", agent_with_record_route(tmp_path), "-set", "ring_ms", "0",
                         "-set", "talk_ms", "300")
        ep = ln.endpoint
        leg, actions = ep.core.invite(ln.uri("agentA"), from_uri=ln.uri("line"), body=OFFER)
        ep.run(actions)
        assert isinstance(await ep.next_event((Answered, Rejected), leg), Answered)
        assert ln.count("SIP/2.0 407") == 1
        assert await ep.next_event(Ended, leg) == Ended(leg, "remote")
        assert await asyncio.to_thread(phone.wait, 5) == 0
        await all_dialogs_ended(ln.kamailio)
        wrong = await SipEndpoint.open("127.0.0.1", 0, outbound=("127.0.0.1", ln.kamailio.port),
                                       user="line", credentials=Credentials("line", "wrong"))
        try:
            wrong.run(wrong.core.register(ln.uri("line"), 60))
            failed = await wrong.next_event((Registered, RegistrationFailed))
            assert failed == RegistrationFailed(ln.uri("line"), 401, 2.0)
        finally:
            wrong.close()
