"""The relay with a supervisor's leg on loopback sockets: relayed untouched where one party is
heard alone, mixed each 20 ms where two are, paused on hold, bridged again when the supervisor
leaves."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from adapters.sip import g711
from adapters.sip.media import RTP_HEADER, Conference, MediaLeg, bridge, unbridge
from adapters.sip.mixer import Party
from tests.adapters.sip.test_g711 import peak_hz, tone
from tests.adapters.sip.test_media import udp

C, A, S = Party.CALLER, Party.AGENT, Party.SUPERVISOR
VOICE = {C: 1000.0, A: 600.0, S: 1400.0}


@dataclass
class Phone:
    """A far end: its socket, the line's leg for it, and a task sending its tone every 20 ms."""

    sock: socket.socket
    leg: MediaLeg
    law: int
    talking: asyncio.Task[None] | None = None

    def talk(self, hz: float) -> None:
        async def run() -> None:
            assert self.leg.transport is not None
            to_line = self.leg.transport.get_extra_info("sockname")
            frames = g711.Prompt("voice", tone(hz, 0.02, dbfs=-10)).frames(self.law)
            for n in range(10_000):
                header = RTP_HEADER.pack(0x80, self.law, n & 0xFFFF, 160 * n, 99)
                self.sock.sendto(header + frames[0], to_line)
                await asyncio.sleep(0.02)
        self.talking = asyncio.create_task(run())

    async def hear(self, count: int) -> list[bytes]:
        loop = asyncio.get_running_loop()
        drain(self.sock)
        got = []
        async with asyncio.timeout(3):
            while len(got) < count:
                got.append(await loop.sock_recv(self.sock, 2048))
        return got

    def close(self) -> None:
        if self.talking is not None:
            self.talking.cancel()
        self.leg.close()
        self.sock.close()


def drain(sock: socket.socket) -> None:
    with contextlib.suppress(BlockingIOError):
        while True:
            sock.recv(2048)


async def silent(sock: socket.socket, seconds: float = 0.2) -> bool:
    """Nothing reaches ``sock`` for ``seconds`` (after what was on its way)."""
    await asyncio.sleep(0.05)
    drain(sock)
    await asyncio.sleep(seconds)
    try:
        sock.recv(2048)
    except BlockingIOError:
        return True
    return False


def freqs(packets: list[bytes], law: int) -> set[float]:
    """The tones in what a phone heard (strong spectral peaks at the parties' frequencies)."""
    samples = np.concatenate([g711.decode(p[RTP_HEADER.size:], law) for p in packets[3:]])
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    top = spectrum.max()
    return {hz for hz in VOICE.values() if spectrum[round(hz * len(samples) / 8000)] > 0.2 * top}


@contextlib.asynccontextmanager
async def phones(laws: dict[Party, int]) -> AsyncIterator[dict[Party, Phone]]:
    made: dict[Party, Phone] = {}
    try:
        for party, law in laws.items():
            sock = udp()
            made[party] = Phone(sock, await MediaLeg.open(udp(), sock.getsockname(), law), law)
        yield made
    finally:
        for phone in made.values():
            phone.close()


async def test_listening_mixes_only_for_the_supervisor_and_leaving_bridges_the_call_again() -> None:
    async with phones({C: g711.PCMU, A: g711.PCMU, S: g711.PCMA}) as ph:
        bridge(ph[C].leg, ph[A].leg)
        for party, phone in ph.items():
            phone.talk(VOICE[party])
        conference = Conference({p: phone.leg for p, phone in ph.items()}, "listen")
        conference.start()
        # the caller's packets reach the agent as the caller sent them (same SSRC 99: relayed)
        to_agent = await ph[A].hear(10)
        assert {RTP_HEADER.unpack_from(p)[4] for p in to_agent} == {99}
        assert abs(peak_hz(np.concatenate([g711.decode(p[12:], g711.PCMU) for p in to_agent])) - 1000) <= 8
        to_supervisor = await ph[S].hear(25)  # a mix, ours, in the supervisor's law (PCMA)
        assert {RTP_HEADER.unpack_from(p)[1] & 0x7F for p in to_supervisor} == {g711.PCMA}
        assert 99 not in {RTP_HEADER.unpack_from(p)[4] for p in to_supervisor}
        assert freqs(to_supervisor, g711.PCMA) == {VOICE[C], VOICE[A]}
        assert freqs(await ph[C].hear(25), g711.PCMU) == {VOICE[A]}  # nobody hears the supervisor

        conference.set_mode("barge")
        assert freqs(await ph[C].hear(25), g711.PCMU) == {VOICE[A], VOICE[S]}
        assert freqs(await ph[A].hear(25), g711.PCMU) == {VOICE[C], VOICE[S]}

        unbridge(ph[C].leg)  # hold: nothing relayed nor mixed
        assert await silent(ph[A].sock) and await silent(ph[S].sock)
        bridge(ph[C].leg, ph[A].leg)  # resume: the barge again
        assert freqs(await ph[A].hear(25), g711.PCMU) == {VOICE[C], VOICE[S]}

        caller, agent = conference.close()  # the supervisor left
        assert (caller.peer, agent.peer) == (ph[A].leg, ph[C].leg)
        to_agent = await ph[A].hear(10)
        assert {RTP_HEADER.unpack_from(p)[4] for p in to_agent} == {99}
        assert await silent(ph[S].sock)
        assert ph[S].leg.counts.mixed > 0 and ph[C].leg.counts.mixed > 0
