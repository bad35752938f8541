"""A SIP-line call's recording from the relay: both directions in a two-channel WAV (16-bit PCM,
8 kHz; left what the caller sends, right what the agent's phone sends).

``StereoTrack`` is the pure part: it places each 20 ms frame on its side at the time it arrived,
so a gap (lost packets, silence suppression, a pause) becomes silence and the two sides stay in
step, and hands out interleaved frames once both sides have them. ``Recording`` is the file: the
header when it opens, a write per second of audio, the sizes when it closes. Paused, frames are
not kept; the pause is silence in the file (as Asterisk's MixMonitorMute leaves it).
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
SLACK = 480  # 60 ms: a frame arriving this much late still joins its side without a gap
WRITE_EVERY = RATE  # samples per side buffered before a write (one second, 32 KiB)
RTP_MIN = 12


class StereoTrack:
    def __init__(self, start: float, slack: int = SLACK) -> None:
        self.start = start
        self.slack = slack
        self._pending = (bytearray(), bytearray())  # each side's int16 samples not yet handed out
        self._pos = [0, 0]  # samples placed on each side since the start

    def _index(self, at: float) -> int:
        return max(0, round((at - self.start) * RATE))

    def _pad(self, side: int, upto: int) -> None:
        if upto > self._pos[side]:
            self._pending[side].extend(bytes(2 * (upto - self._pos[side])))
            self._pos[side] = upto

    def feed(self, side: int, samples: npt.NDArray[np.int16], at: float) -> None:
        """``samples`` that arrived on ``side`` (0 caller, 1 agent) at ``at`` (seconds)."""
        end = self._index(at)
        self._pad(side, end - len(samples) - self.slack)  # a gap before them: silence
        self._pending[side].extend(np.asarray(samples, dtype="<i2").tobytes())
        self._pos[side] += len(samples)
        # The other side was silent before this frame began (less the slack: its own frame of
        # the same moment may still be on its way).
        self._pad(1 - side, end - len(samples) - self.slack)

    def catch_up(self, at: float) -> None:
        """Both sides silent up to ``at`` (the end of a pause: nothing of it is on its way)."""
        for side in (0, 1):
            self._pad(side, self._index(at))

    @property
    def ready(self) -> int:
        return min(len(p) for p in self._pending) // 2

    def take(self) -> bytes:
        """The interleaved frames both sides have (left, right, left, …), little-endian."""
        n = self.ready
        if not n:
            return b""
        left = np.frombuffer(bytes(self._pending[0][: 2 * n]), "<i2")
        right = np.frombuffer(bytes(self._pending[1][: 2 * n]), "<i2")
        for p in self._pending:
            del p[: 2 * n]
        return np.column_stack((left, right)).astype("<i2").tobytes()

    def finish(self, at: float) -> bytes:
        """Everything left, both sides padded to ``at`` (or to the longer side)."""
        end = max(self._index(at), *self._pos)
        self._pad(0, end)
        self._pad(1, end)
        return self.take()


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
        self._track.feed(side, g711.decode(found[1], found[0]), self._clock())
        if self._track.ready >= WRITE_EVERY:
            chunk = self._track.take()
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

