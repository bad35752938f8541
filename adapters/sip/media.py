"""A call's RTP on the asyncio loop: a hold tone generated in code, then payloads relayed as they come.

No decoding and no re-pacing: a packet from one leg is sent on to the other leg's far end the
moment it arrives (an RTP relay, like a proxy's media anchor). Nothing is queued here; when the
socket's write buffer is over ``MAX_WRITE_BUFFER`` a packet is dropped rather than delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import cast

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_SECONDS = 0.02
MAX_WRITE_BUFFER = 64 * 1024
RTP_HEADER = struct.Struct("!BBHII")


def _mulaw(sample: int) -> int:
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw(sample: int) -> int:
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(abs(sample), 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (code | sign) ^ 0x55


def tone_frame(payload_type: int, *, hz: float = 400.0, dbfs: float = -20.0) -> bytes:
    """20 ms of a sine tone in G.711 (400 Hz repeats exactly every 20 samples, so frames join)."""
    amplitude = 32767 * 10 ** (dbfs / 20)
    encode = _alaw if payload_type == 8 else _mulaw
    return bytes(encode(round(amplitude * math.sin(2 * math.pi * hz * n / 8000)))
                 for n in range(FRAME_SAMPLES))


@dataclass
class Counts:
    received: int = 0
    relayed: int = 0
    tone: int = 0
    dropped: int = 0


class MediaLeg(asyncio.DatagramProtocol):
    """One leg's RTP socket. Alone it plays the hold tone; bridged it relays to the peer leg."""

    def __init__(self, remote: tuple[str, int], payload_type: int) -> None:
        self.remote = remote
        self.payload_type = payload_type
        self.peer: MediaLeg | None = None
        self.counts = Counts()
        self.transport: asyncio.DatagramTransport | None = None
        self._tone: asyncio.Task[None] | None = None
        self._ssrc = int.from_bytes(os.urandom(4), "big")
        self._seq = int.from_bytes(os.urandom(2), "big")
        self._ts = int.from_bytes(os.urandom(4), "big")

    @classmethod
    async def open(cls, sock: socket.socket, remote: tuple[str, int], payload_type: int) -> MediaLeg:
        loop = asyncio.get_running_loop()
        leg = cls(remote, payload_type)
        await loop.create_datagram_endpoint(lambda: leg, sock=sock)
        return leg

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.counts.received += 1
        peer = self.peer
        if peer is not None and len(data) > RTP_HEADER.size:
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

    # ----- hold tone ------------------------------------------------------------------------

    def play_tone(self) -> None:
        if self._tone is None or self._tone.done():
            self._tone = asyncio.create_task(self._play(tone_frame(self.payload_type)), name="sip-tone")

    def stop_tone(self) -> None:
        if self._tone is not None:
            self._tone.cancel()
            self._tone = None

    async def _play(self, frame: bytes) -> None:
        start = time.monotonic()
        n = 0
        marker = 0x80
        while True:
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + FRAME_SAMPLES) & 0xFFFFFFFF
            header = RTP_HEADER.pack(0x80, marker | self.payload_type, self._seq, self._ts, self._ssrc)
            marker = 0
            with contextlib.suppress(OSError):
                transport.sendto(header + frame, self.remote)
                self.counts.tone += 1
            n += 1
            # paced against the start, not the last send: no drift
            await asyncio.sleep(max(0.0, start + n * FRAME_SECONDS - time.monotonic()))

    def close(self) -> None:
        self.stop_tone()
        self.peer = None
        if self.transport is not None:
            self.transport.close()


def bridge(a: MediaLeg, b: MediaLeg) -> None:
    """From now on each leg's packets go to the other's far end, as they arrive."""
    a.stop_tone()
    b.stop_tone()
    a.peer, b.peer = b, a


def unbridge(a: MediaLeg) -> None:
    peer = a.peer
    a.peer = None
    if peer is not None:
        peer.peer = None
