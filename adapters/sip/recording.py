"""A SIP-line call's recording from the relay: both directions in a two-channel WAV (16-bit PCM,
8 kHz; left what the caller sends, right what the agent's phone sends).

``StereoTrack`` is the pure part: it places each 20 ms frame on its side by its RTP timestamp,
counted from when that stream's first frame arrived, so a gap (lost packets, silence
suppression, a pause) becomes silence, a late or reordered frame takes its own place and a
phone that stalls and then sends what it owed in a burst stays in step with the other side
(placed by arrival, the burst would run ahead of the other side for the rest of the call). What
is older than ``hold`` is handed out and final. ``Recording`` is the file: the header when it
opens, a write per second of audio, the sizes when it closes. Paused, frames are not kept, nor
are frames spoken before the resume that arrive after it; the pause is silence in the file (as
Asterisk's MixMonitorMute leaves it).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from adapters.sip import g711

RATE = 8000
HOLD = 1600  # 200 ms: a frame this late still takes its place; later, its moment is already written
AHEAD = 160  # a frame may seem to end up to 20 ms after it arrived (rounding, the phone's clock)
JUMP = RATE  # a frame a second older than its arrival: the stream's timestamps jumped
WRITE_EVERY = RATE  # samples per side ready before a write (one second, 32 KiB)
RTP_MIN = 12


class StereoTrack:
    def __init__(self, start: float, hold: int = HOLD) -> None:
        self.start = start
        self.hold = hold
        self._pending = (bytearray(), bytearray())  # each side's int16 samples not yet handed out
        self._taken = 0  # samples per side handed out: final
        self._floor = 0  # nothing is placed before this (the end of a pause)
        self._anchor: list[tuple[int, int, int] | None] = [None, None]  # (ssrc, timestamp, index)

    def _index(self, at: float) -> int:
        return max(0, round((at - self.start) * RATE))

    def _place(self, side: int, ssrc: int, timestamp: int, length: int, end: int) -> int:
        """Where on ``side`` a frame of ``length`` samples that arrived at index ``end`` begins."""
        anchor = self._anchor[side]
        if anchor is not None and anchor[0] == ssrc:
            at = anchor[2] + ((timestamp - anchor[1] + 2**31) % 2**32 - 2**31)
            if end - JUMP <= at + length <= end + AHEAD:
                return at
        # A new stream (the call began, a transfer, the phone restarted) or a jump in its
        # timestamps: this frame ended when it arrived, and the stream counts from it.
        self._anchor[side] = (ssrc, timestamp, end - length)
        return end - length

    def _write(self, side: int, at: int, data: bytes) -> None:
        skip = max(self._taken, self._floor) - at  # samples of the frame whose moment is final or paused
        if skip > 0:
            data, at = data[2 * skip:], at + skip
        if not data:
            return
        pending = self._pending[side]
        offset = 2 * (at - self._taken)
        if len(pending) < offset + len(data):
            pending.extend(bytes(offset + len(data) - len(pending)))
        pending[offset : offset + len(data)] = data

    def _pad(self, upto: int) -> None:
        for pending in self._pending:
            missing = 2 * (upto - self._taken) - len(pending)
            if missing > 0:
                pending.extend(bytes(missing))

    def feed(self, side: int, samples: npt.NDArray[np.int16], at: float, ssrc: int, timestamp: int) -> None:
        """``samples`` of RTP ``timestamp`` from stream ``ssrc`` that arrived on ``side`` (0 caller,
        1 agent) at ``at`` (seconds)."""
        begin = self._place(side, ssrc, timestamp, len(samples), self._index(at))
        self._write(side, begin, np.asarray(samples, dtype="<i2").tobytes())

    def catch_up(self, at: float) -> None:
        """A pause ended at ``at``: what was spoken before it is not kept, even if it comes later."""
        self._floor = max(self._floor, self._index(at))
        self._pad(self._floor)

    def ready(self, at: float) -> int:
        """Samples per side final at ``at``: those more than ``hold`` old."""
        return max(0, self._index(at) - self.hold - self._taken)

    def take(self, at: float, upto: int | None = None) -> bytes:
        """The interleaved frames final at ``at`` (left, right, left, …), little-endian, silence
        where a side had nothing."""
        n = self.ready(at) if upto is None else max(0, upto - self._taken)
        if not n:
            return b""
        self._pad(self._taken + n)
        left = np.frombuffer(bytes(self._pending[0][: 2 * n]), "<i2")
        right = np.frombuffer(bytes(self._pending[1][: 2 * n]), "<i2")
        for p in self._pending:
            del p[: 2 * n]
        self._taken += n
        return np.column_stack((left, right)).astype("<i2").tobytes()

    def finish(self, at: float) -> bytes:
        """Everything left, both sides padded to ``at`` (or to the longer side)."""
        end = max(self._index(at), *(self._taken + len(p) // 2 for p in self._pending))
        return self.take(at, upto=end)


def rtp_payload(packet: bytes) -> tuple[int, bytes] | None:
    """(payload type, payload) of an RTP packet, or None if it is not one we can read."""
    if len(packet) <= RTP_MIN or packet[0] >> 6 != 2:
        return None
    start = RTP_MIN + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10 and len(packet) >= start + 4:  # a header extension
        start += 4 + 4 * struct.unpack_from("!H", packet, start + 2)[0]
    end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)  # padding
    return (packet[1] & 0x7F, packet[start:end]) if end > start else None


def _open(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    file = path.open("wb")
    file.write(_header(0))
    return file


def _header(frames: int) -> bytes:
    data = frames * 4
    fmt = struct.pack("<HHIIHH", 1, 2, RATE, RATE * 4, 4, 16)
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data))


def _close(file: BinaryIO, tail: bytes, frames: int) -> None:
    file.write(tail)
    file.seek(0)
    file.write(_header(frames))
    file.close()


class Recording:
    def __init__(self, path: Path, file: BinaryIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.paused = False
        self._file: BinaryIO | None = file
        self._clock = clock
        self._track = StereoTrack(clock())
        self._frames = 0

    @classmethod
    async def open(cls, path: Path, clock: Callable[[], float] = time.monotonic) -> Recording:
        return cls(path, await asyncio.to_thread(_open, path), clock)

    def tap(self, side: int) -> Callable[[bytes], None]:
        """What a media leg calls with each packet its far end sends."""
        return lambda packet: self.feed(side, packet)

    def feed(self, side: int, packet: bytes) -> None:
        if self.paused or self._file is None:
            return
        found = rtp_payload(packet)
        if found is None or found[0] not in (g711.PCMU, g711.PCMA):
            return  # telephone-events, comfort noise: not audio to keep
        timestamp, ssrc = struct.unpack_from("!II", packet, 4)
        now = self._clock()
        self._track.feed(side, g711.decode(found[1], found[0]), now, ssrc, timestamp)
        if self._track.ready(now) >= WRITE_EVERY:
            chunk = self._track.take(now)
            self._frames += len(chunk) // 4
            self._file.write(chunk)  # buffered: 32 KiB once a second

    def pause(self, on: bool) -> None:
        if not on and self.paused:
            self._track.catch_up(self._clock())  # the pause stays in the file as silence
        self.paused = on

    async def close(self) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        tail = self._track.finish(self._clock())
        await asyncio.to_thread(_close, file, tail, self._frames + len(tail) // 4)

