"""A call's RTP on the asyncio loop: a greeting and hold audio (WAV prompts, or a tone generated in
code), coded in the call's G.711 law, then payloads relayed as they come.

No decoding and no re-pacing: a packet from one leg is sent on to the other leg's far end the
moment it arrives (an RTP relay, like a proxy's media anchor). Nothing is queued here; when the
socket's write buffer is over ``MAX_WRITE_BUFFER`` a packet is dropped rather than delayed.

A supervisor on the call (``Conference``) changes that only for the directions that need a mix
(``mixer.py``): those get a frame decoded, mixed and coded every 20 ms on the conference's own
clock; a direction that hears one party in its own law stays a packet-by-packet relay.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from adapters.sip import g711
from adapters.sip.dtmf import DtmfReader
from adapters.sip.mixer import Mixer, Party
from adapters.sip.recording import rtp_payload

FRAME_SAMPLES = g711.FRAME_SAMPLES  # 20 ms at 8 kHz
FRAME_SECONDS = 0.02
MAX_WRITE_BUFFER = 64 * 1024
RTP_HEADER = struct.Struct("!BBHII")


def tone_prompt(hz: float = 400.0, dbfs: float = -20.0) -> g711.Prompt:
    """The hold audio when no WAV is configured: 20 ms of a sine (400 Hz repeats exactly every
    20 samples, so the looped frames join)."""
    n = np.arange(FRAME_SAMPLES)
    amplitude = 32767 * 10 ** (dbfs / 20)
    return g711.Prompt("tone", np.round(amplitude * np.sin(2 * np.pi * hz * n / 8000)).astype(np.int16))


TONE = tone_prompt()


@dataclass
class Counts:
    received: int = 0
    relayed: int = 0
    played: int = 0  # greeting and hold audio frames sent
    mixed: int = 0  # frames a conference mixed for this leg's far end
    dropped: int = 0


class MediaLeg(asyncio.DatagramProtocol):
    """One leg's RTP socket. Alone it plays the greeting and hold audio; bridged it relays to the
    peer leg."""

    def __init__(self, remote: tuple[str, int], payload_type: int, *, greeting: g711.Prompt | None = None,
                 hold: g711.Prompt | None = None, dtmf_payload_type: int | None = None,
                 on_key: Callable[[str], None] | None = None) -> None:
        self.remote = remote
        self.payload_type = payload_type
        self.greeting = greeting
        self.hold = hold or TONE
        self.dtmf = DtmfReader(dtmf_payload_type)
        self.on_key = on_key  # a key the far end pressed (RFC 4733 telephone-event)
        self.peer: MediaLeg | None = None
        self.recorder: Callable[[bytes], None] | None = None  # a recording's side: every packet
        self.listener: Callable[[bytes], None] | None = None  # a conference's mix: every packet
        self.conference: Conference | None = None
        self.counts = Counts()
        self.transport: asyncio.DatagramTransport | None = None
        self._audio: asyncio.Task[None] | None = None
        self._ssrc = int.from_bytes(os.urandom(4), "big")
        self._seq = int.from_bytes(os.urandom(2), "big")
        self._ts = int.from_bytes(os.urandom(4), "big")

    @classmethod
    async def open(cls, sock: socket.socket, remote: tuple[str, int], payload_type: int, *,
                   greeting: g711.Prompt | None = None, hold: g711.Prompt | None = None,
                   dtmf_payload_type: int | None = None,
                   on_key: Callable[[str], None] | None = None) -> MediaLeg:
        loop = asyncio.get_running_loop()
        leg = cls(remote, payload_type, greeting=greeting, hold=hold, dtmf_payload_type=dtmf_payload_type,
                  on_key=on_key)
        await loop.create_datagram_endpoint(lambda: leg, sock=sock)
        return leg

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.counts.received += 1
        if self.on_key is not None and (key := self.dtmf.feed(data)) is not None:
            self.on_key(key)
        if self.recorder is not None:
            self.recorder(data)
        if self.listener is not None:
            self.listener(data)
        peer = self.peer
        # Only the codec both legs were given passes: the far phone was offered nothing else
        # (telephone-events are read here, comfort noise and the rest dropped).
        if peer is not None and len(data) > RTP_HEADER.size and data[1] & 0x7F == peer.payload_type:
            peer.send_packet(data)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable: the far end is gone
        pass

    def send_packet(self, packet: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:  # type: ignore[attr-defined]
            self.counts.dropped += 1
            return
        transport.sendto(packet, self.remote)
        self.counts.relayed += 1

    # ----- greeting and hold audio -------------------------------------------------------

    def play(self, *, greeting: bool) -> None:
        """The greeting once (if asked and configured), then the hold audio looped until
        ``stop_audio`` or a bridge. Coded in this leg's negotiated law (PCMU or PCMA)."""
        self.stop_audio()
        first = self.greeting.frames(self.payload_type) if greeting and self.greeting is not None else ()
        self._audio = asyncio.create_task(self._play(first, self.hold.frames(self.payload_type)),
                                         name="sip-prompt")

    def stop_audio(self) -> None:
        if self._audio is not None:
            self._audio.cancel()
            self._audio = None

    def _frames(self, first: tuple[bytes, ...], looped: tuple[bytes, ...]) -> Iterator[bytes]:
        yield from first
        while True:
            yield from looped

    async def _play(self, first: tuple[bytes, ...], looped: tuple[bytes, ...]) -> None:
        start = time.monotonic()
        for n, frame in enumerate(self._frames(first, looped), start=1):
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            if self._send_own(frame, marker=n == 1):
                self.counts.played += 1
            # paced against the start, not the last send: no drift
            await asyncio.sleep(max(0.0, start + n * FRAME_SECONDS - time.monotonic()))

    def _send_own(self, frame: bytes, *, marker: bool = False) -> bool:
        """A frame of ours (prompt or mix) in this leg's own RTP stream: our SSRC, sequence and
        timestamp, one frame on from the last we sent."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + FRAME_SAMPLES) & 0xFFFFFFFF
        header = RTP_HEADER.pack(0x80, (0x80 if marker else 0) | self.payload_type, self._seq, self._ts,
                                 self._ssrc)
        try:
            transport.sendto(header + frame, self.remote)
        except OSError:
            return False
        return True

    def send_mixed(self, frame: bytes, *, marker: bool = False) -> None:
        transport = self.transport
        if transport is not None and transport.get_write_buffer_size() > MAX_WRITE_BUFFER:  # type: ignore[attr-defined]
            self.counts.dropped += 1
            return
        if self._send_own(frame, marker=marker):
            self.counts.mixed += 1

    def close(self) -> None:
        self.stop_audio()
        self.peer = None
        self.recorder = None
        self.listener = None
        self.conference = None
        if self.transport is not None:
            self.transport.close()


def bridge(a: MediaLeg, b: MediaLeg) -> None:
    """From now on each leg's packets go to the other's far end, as they arrive (or, when both
    are in a conference, as its mode says)."""
    a.stop_audio()
    b.stop_audio()
    if a.conference is not None and a.conference is b.conference:
        a.conference.pause(False)
        return
    a.peer, b.peer = b, a


def unbridge(a: MediaLeg) -> None:
    """Nothing relayed to or from ``a`` any more (nor mixed, if it is in a conference)."""
    if a.conference is not None:
        a.conference.pause(True)
        return
    peer = a.peer
    a.peer = None
    if peer is not None:
        peer.peer = None


class Conference:
    """Caller, agent and supervisor legs, relayed and mixed as ``Mixer`` says for the mode: a
    direction heard alone in its own law keeps the packet relay, the others are mixed each 20 ms
    on this conference's clock. Paused (the call on hold), nothing is relayed nor mixed."""

    def __init__(self, legs: Mapping[Party, MediaLeg], mode: str) -> None:
        self.legs = dict(legs)
        self.mixer = Mixer({party: leg.payload_type for party, leg in legs.items()}, mode)
        self.paused = False
        self.ticks = 0
        self._clock: asyncio.Task[None] | None = None

    @property
    def mode(self) -> str:
        return self.mixer.mode

    def start(self, *, paused: bool = False) -> None:
        for party, leg in self.legs.items():
            leg.conference = self
            leg.listener = self._listener(party)
        self.pause(paused)

    def _listener(self, party: Party) -> Callable[[bytes], None]:
        def heard(packet: bytes) -> None:
            found = rtp_payload(packet)
            if found is not None:
                self.mixer.feed(party, *found)
        return heard

    def set_mode(self, mode: str) -> None:
        self.mixer.set_mode(mode)
        self._route()

    def pause(self, on: bool) -> None:
        self.paused = on
        self._route()

    def _route(self) -> None:
        for leg in self.legs.values():
            leg.peer = None
        passes = {} if self.paused else self.mixer.passes()
        for source, hearer in passes.items():
            self.legs[source].peer = self.legs[hearer]
        if self.paused or not self.mixer.mixed():
            self._stop_clock()
        elif self._clock is None:
            self._clock = asyncio.create_task(self._run(), name="sip-mix")

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    async def _run(self) -> None:
        start = time.monotonic()
        first = True
        n = 0
        while True:
            for party, frame in self.mixer.tick().items():
                self.legs[party].send_mixed(frame, marker=first)
            first = False
            self.ticks += 1
            n += 1
            # paced against the start, as the prompts are: no drift
            await asyncio.sleep(max(0.0, start + n * FRAME_SECONDS - time.monotonic()))

    def close(self) -> tuple[MediaLeg, MediaLeg]:
        """The mix ends; the caller and agent legs are handed back bridged (unless paused)."""
        self._stop_clock()
        for leg in self.legs.values():
            leg.listener = None
            leg.conference = None
            leg.peer = None
        caller, agent = self.legs[Party.CALLER], self.legs[Party.AGENT]
        if not self.paused:
            bridge(caller, agent)
        return caller, agent
