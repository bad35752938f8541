"""``adapters.sip.agent_leg`` on the wire: the outcomes the adapter acts on (issue 15, item 2),
through kamailio with record-route to SIPp phones; kamailio's dialog table ends empty."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.sip.agent_leg import AgentLeg, Outcome
from adapters.sip.sipcore.sdp import PCMU, Session
from tests.adapters.sip.peers import SIPP_DIR
from tests.adapters.sip.sipcore_line import (
    REINVITE_XML,
    Line,
    all_dialogs_ended,
    line,
    no_route_refusals,
    phone_received,
)
from tests.adapters.sip.wire import BUSY_XML, agent_with_record_route

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def agent(ln: Line, name: str) -> AgentLeg:
    return AgentLeg(ln.endpoint, ln.uri(name), from_uri=ln.uri("line"), session=Session("127.0.0.1", 9))


async def test_an_agent_who_answers_then_hangs_up(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        phone = ln.phone("agentA", agent_with_record_route(tmp_path), "-set", "ring_ms", "200",
                         "-set", "talk_ms", "700")
        leg = agent(ln, "agentA")
        ring = await leg.ring(5)
        assert ring.outcome is Outcome.ANSWERED and ring.media is not None
        assert (ring.media.address, ring.media.codec) == ("127.0.0.1", PCMU)
        assert await leg.ended(5) == "remote"
        assert await asyncio.to_thread(phone.wait, 5) == 0
        no_route_refusals(ln.kamailio)
        await all_dialogs_ended(ln.kamailio)


async def test_a_busy_agent_is_a_rejection_with_its_status(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        busy = tmp_path / "busy.xml"
        busy.write_text(BUSY_XML)
        phone = ln.phone("agentC", busy)
        ring = await agent(ln, "agentC").ring(5)
        assert (ring.outcome, ring.status) == (Outcome.REJECTED, 486)
        assert await asyncio.to_thread(phone.wait, 5) == 0
        await all_dialogs_ended(ln.kamailio)


async def test_an_agent_who_does_not_answer_is_cancelled_after_the_ring_time(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        phone = ln.phone("agentD", SIPP_DIR / "agent_noanswer.xml")
        loop = asyncio.get_running_loop()
        start = loop.time()
        ring = await agent(ln, "agentD").ring(1.0)
        assert (ring.outcome, ring.status) == (Outcome.NO_ANSWER, 487)
        assert loop.time() - start >= 1.0
        assert len(phone_received(phone, "CANCEL")) == 1
        assert await asyncio.to_thread(phone.wait, 5) == 0
        await all_dialogs_ended(ln.kamailio)


async def test_the_caller_hanging_up_cancels_the_ringing_agent(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        phone = ln.phone("agentD", SIPP_DIR / "agent_noanswer.xml")
        leg = agent(ln, "agentD")
        ringing = asyncio.create_task(leg.ring(30))
        await asyncio.sleep(0.5)
        leg.cancel()
        ring = await ringing
        assert (ring.outcome, ring.status) == (Outcome.NO_ANSWER, 487)
        assert await asyncio.to_thread(phone.wait, 5) == 0
        await all_dialogs_ended(ln.kamailio)


async def test_hold_is_a_sendonly_reinvite_and_hangup_a_bye(tmp_path: Path) -> None:
    async with line(tmp_path) as ln:
        scenario = tmp_path / "reinvite.xml"
        scenario.write_text(REINVITE_XML)
        phone = ln.phone("agentE", scenario)
        leg = agent(ln, "agentE")
        assert (await leg.ring(5)).outcome is Outcome.ANSWERED
        assert await leg.hold() is True
        leg.hangup()
        assert await leg.ended(5) == "local"
        assert await asyncio.to_thread(phone.wait, 5) == 0
        assert "a=sendonly" in phone_received(phone, "INVITE")[1]
        no_route_refusals(ln.kamailio)
        await all_dialogs_ended(ln.kamailio)
