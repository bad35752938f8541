"""The caller's media leg on loopback sockets: greeting then hold audio, coded as negotiated."""

from __future__ import annotations

import asyncio
import socket
import struct

import numpy as np
import pytest

from adapters.sip import g711
from adapters.sip.dtmf import event_packet
from adapters.sip.media import MediaLeg, bridge
from tests.adapters.sip.test_g711 import peak_hz, tone

RTP = struct.Struct("!BBHII")


def udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


async def packets(s: socket.socket, count: int) -> list[bytes]:
    loop = asyncio.get_running_loop()
    got = []
    for _ in range(count):
        data, _ = await asyncio.wait_for(loop.sock_recvfrom(s, 2048), 2)
        got.append(data)
    return got


@pytest.mark.parametrize("pt", [g711.PCMU, g711.PCMA])
async def test_the_caller_hears_the_greeting_then_the_hold_audio_in_the_negotiated_codec(pt: int) -> None:
    greeting = g711.Prompt("greeting", tone(1000, 0.2))  # 10 frames
    hold = g711.Prompt("hold", tone(600, 0.1))  # 5 frames, looped
    phone = udp()
    leg = await MediaLeg.open(udp(), phone.getsockname(), pt, greeting=greeting, hold=hold)
    try:
        leg.play(greeting=True)
        got = await packets(phone, 25)
        headers = [RTP.unpack_from(p) for p in got]
        assert {h[1] & 0x7F for h in headers} == {pt}
        assert headers[0][1] & 0x80 and not any(h[1] & 0x80 for h in headers[1:])  # marker on the first
        assert [(h[2] - headers[0][2]) & 0xFFFF for h in headers] == list(range(25))
        assert [(h[3] - headers[0][3]) & 0xFFFFFFFF for h in headers] == [160 * i for i in range(25)]
        audio = [g711.decode(p[RTP.size:], pt) for p in got]
        assert abs(peak_hz(np.concatenate(audio[:10])) - 1000) <= 8
        assert abs(peak_hz(np.concatenate(audio[10:25])) - 600) <= 8
        assert leg.counts.played >= 25
        # Back on hold later (a transfer): the hold audio only, not the greeting again.
        leg.play(greeting=False)
        await asyncio.sleep(0.05)
        while True:  # drain what was sent before
            try:
                phone.recv(2048)
            except BlockingIOError:
                break
        again = await packets(phone, 5)
        assert abs(peak_hz(np.concatenate([g711.decode(p[RTP.size:], pt) for p in again])) - 600) <= 8
    finally:
        leg.close()
        phone.close()


async def test_without_prompts_the_caller_hears_a_400hz_tone_in_pcma() -> None:
    phone = udp()
    leg = await MediaLeg.open(udp(), phone.getsockname(), g711.PCMA)
    try:
        leg.play(greeting=True)
        got = await packets(phone, 10)
        heard = np.concatenate([g711.decode(p[RTP.size:], g711.PCMA) for p in got])
        assert abs(peak_hz(heard) - 400) <= 8
    finally:
        leg.close()
        phone.close()


async def test_bridged_legs_relay_the_negotiated_codec_only() -> None:
    """The agent's phone was offered the caller's codec alone: telephone-events (or anything
    else) the caller sends are not passed on to it."""
    caller_phone, agent_phone = udp(), udp()
    caller_leg = await MediaLeg.open(udp(), caller_phone.getsockname(), g711.PCMU, dtmf_payload_type=101)
    agent_leg = await MediaLeg.open(udp(), agent_phone.getsockname(), g711.PCMU)
    try:
        bridge(caller_leg, agent_leg)
        assert caller_leg.transport is not None
        to_line = caller_leg.transport.get_extra_info("sockname")
        audio = RTP.pack(0x80, g711.PCMU, 1, 160, 7) + bytes(160)
        caller_phone.sendto(event_packet("5", 101, ts=160, seq=2, end=True), to_line)
        caller_phone.sendto(RTP.pack(0x80, 13, 3, 320, 7) + b"\x40", to_line)  # comfort noise
        caller_phone.sendto(audio, to_line)
        got = await packets(agent_phone, 1)
        assert got == [audio]
        await asyncio.sleep(0.1)
        with pytest.raises(BlockingIOError):
            agent_phone.recv(2048)
        assert caller_leg.counts.received == 3 and agent_leg.counts.relayed == 1
    finally:
        caller_leg.close()
        agent_leg.close()
        caller_phone.close()
        agent_phone.close()
