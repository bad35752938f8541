"""``Talk``, what the desk's controls act on in a SIP-line call (a caller's or a dialled one), with
plain data: media legs without sockets and a phone leg that answers as told."""

from __future__ import annotations

import asyncio
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from adapters.sip import g711
from adapters.sip.agent_leg import AgentLeg
from adapters.sip.media import MediaLeg
from adapters.sip.talk import Talk


@dataclass
class Phone:
    """The agent's leg: what was asked of it, and its answer to a re-INVITE."""

    accepts: bool = True
    asked: list[str] = field(default_factory=list)
    during_reinvite: Talk | None = None  # hangs up (drops itself) while a re-INVITE is under way

    async def hold(self, on: bool = True) -> bool:
        self.asked.append("hold" if on else "resume")
        if self.during_reinvite is not None:
            self.during_reinvite.drop_agent()
        await asyncio.sleep(0)
        return self.accepts

    def hangup(self) -> None:
        self.asked.append("bye")

    def cancel(self) -> None:
        self.asked.append("cancel")


class Wire:
    """A media leg's transport: what it sent, nothing on a network."""

    def __init__(self) -> None:
        self.sent = 0
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def sendto(self, data: bytes, addr: object = None) -> None:
        self.sent += 1

    def close(self) -> None:
        self.closing = True


def media(port: int) -> MediaLeg:
    leg = MediaLeg(("127.0.0.1", port), g711.PCMU)
    leg.connection_made(cast(asyncio.DatagramTransport, Wire()))
    return leg


def talking(phone: Phone) -> tuple[Talk, MediaLeg, MediaLeg]:
    customer, agent = media(4000), media(4002)
    talk = Talk(interaction_id="int-1", leg=customer, agent=cast(AgentLeg, phone), agent_id="alice")
    talk.connect(agent)
    return talk, customer, agent


def playing(leg: MediaLeg) -> bool:
    return leg._audio is not None and not leg._audio.done()


async def test_hold_stops_the_relay_even_when_the_phone_refuses_the_reinvite() -> None:
    phone = Phone(accepts=False)
    talk, customer, agent = talking(phone)
    assert customer.peer is agent and agent.peer is customer
    await talk.hold(True)
    assert talk.held and customer.peer is None and agent.peer is None
    assert playing(customer)  # the hold audio
    await talk.hold(True)  # again: nothing more is asked of the phone
    await talk.hold(False)
    assert not talk.held and customer.peer is agent and not playing(customer)
    assert phone.asked == ["hold", "resume"]


async def test_a_phone_hanging_up_during_the_resume_leaves_the_customer_on_hold_audio() -> None:
    phone = Phone()
    talk, customer, _ = talking(phone)
    await talk.hold(True)
    phone.during_reinvite = talk
    await talk.hold(False)
    assert customer.peer is None and talk.agent_media is None
    assert playing(customer)


async def test_hand_over_hangs_up_the_phone_and_plays_the_hold_audio() -> None:
    phone = Phone()
    talk, customer, agent = talking(phone)
    await talk.hold(True)
    talk.hand_over()
    assert phone.asked == ["hold", "bye"]
    assert (talk.agent, talk.agent_id, talk.agent_media, talk.held) == (None, None, None, False)
    assert customer.peer is None and playing(customer)
    assert cast(Wire, agent.transport).closing and agent.peer is None


async def test_a_ringing_phone_is_cancelled() -> None:
    phone = Phone()
    talk = Talk(leg=media(4000), agent=cast(AgentLeg, phone), agent_id="bob")
    talk.drop_agent()
    assert phone.asked == ["cancel"] and talk.agent is None


async def test_the_recording_hears_both_sides_and_a_new_agent_too(tmp_path: Path) -> None:
    talk, customer, agent = talking(Phone())
    await talk.start_recording(tmp_path / "call.wav")
    assert customer.recorder is not None and agent.recorder is not None
    talk.hand_over()
    later = media(4004)
    talk.agent = cast(AgentLeg, Phone())
    talk.connect(later)  # the next agent answered: their side is recorded from now on
    assert later.recorder is not None and customer.peer is later
    await talk.stop_recording()
    assert customer.recorder is None and later.recorder is None
    with wave.open(str(tmp_path / "call.wav"), "rb") as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 8000)
