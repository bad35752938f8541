"""G.711 (PCMU, PCMA) and the line's WAV prompts, on plain data (numpy; no I/O but reading a WAV).

The coder is the ITU-T reference one (Sun's ``g711.c``, as CPython's ``audioop`` has it), done
once for every 16-bit sample into a 64 K lookup table per law: encoding a frame is then one
indexing operation, and decoding one into a 256-entry table. No ``audioop`` (gone in Python 3.13).

Prompts (greeting, hold audio) are 16-bit WAV files: mixed down to mono, resampled to 8 kHz if
they are not, cut into 20 ms frames for the payload type the call negotiated.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

PCMU = 0
PCMA = 8
RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz

Samples = npt.NDArray[np.int16]


class CodecError(ValueError):
    """A payload type we do not code, or a WAV we cannot play (its path in the message)."""


def _mulaw_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2  # 14 bits
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), 8159) + 0x21
    ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    seg = np.searchsorted(ends, magnitude, side="left")
    s = np.minimum(seg, 7)
    code = np.where(seg >= 8, 0x7F, (s << 4) | ((magnitude >> (s + 1)) & 0xF))
    return np.asarray((code ^ mask) & 0xFF, dtype=np.uint8)


def _alaw_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3  # 13 bits
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    seg = np.searchsorted(ends, magnitude, side="left")
    s = np.minimum(seg, 7)
    low = np.where(s < 2, (magnitude >> 1) & 0xF, (magnitude >> s) & 0xF)
    code = np.where(seg >= 8, 0x7F, (s << 4) | low)
    return np.asarray((code ^ mask) & 0xFF, dtype=np.uint8)


def _mulaw_decode_table() -> Samples:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.asarray(np.where(u & 0x80, 0x84 - t, t - 0x84), dtype=np.int16)


def _alaw_decode_table() -> Samples:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.asarray(np.where(a & 0x80, t, -t), dtype=np.int16)


_ENCODE = {PCMU: _mulaw_table(), PCMA: _alaw_table()}
_DECODE = {PCMU: _mulaw_decode_table(), PCMA: _alaw_decode_table()}


def _law(payload_type: int) -> int:
    if payload_type not in _ENCODE:
        raise CodecError(f"payload type {payload_type} is not G.711 (0 PCMU or 8 PCMA)")
    return payload_type


def encode(samples: npt.NDArray[np.int16], payload_type: int) -> bytes:
    """16-bit linear samples -> G.711 bytes of ``payload_type`` (0 PCMU, 8 PCMA)."""
    table = _ENCODE[_law(payload_type)]
    index = np.asarray(samples, dtype=np.int16).astype(np.int32) + 32768
    return table[index].tobytes()


def decode(payload: bytes, payload_type: int) -> Samples:
    """G.711 bytes of ``payload_type`` -> 16-bit linear samples."""
    table = _DECODE[_law(payload_type)]
    return table[np.frombuffer(payload, dtype=np.uint8)]


@dataclass(frozen=True)
class Prompt:
    """A prompt at 8 kHz mono 16-bit; its frames per payload type are coded once and kept."""

    name: str
    samples: Samples
    _frames: dict[int, tuple[bytes, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE

    def frames(self, payload_type: int) -> tuple[bytes, ...]:
        """20 ms frames of ``payload_type``, the last one padded with silence."""
        cached = self._frames.get(payload_type)
        if cached is None:
            pad = (-len(self.samples)) % FRAME_SAMPLES
            whole = np.concatenate([self.samples, np.zeros(pad, np.int16)])
            coded = encode(whole, payload_type)
            cached = tuple(coded[i:i + FRAME_SAMPLES] for i in range(0, len(coded), FRAME_SAMPLES))
            self._frames[payload_type] = cached
        return cached


def load_wav(path: Path | str) -> Prompt:
    """A 16-bit PCM WAV file as a ``Prompt``; ``CodecError`` naming the file if it cannot be one."""
    where = str(path)
    try:
        with wave.open(where, "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise CodecError(f"{where}: not a readable WAV file ({exc})") from exc
    if width != 2:
        raise CodecError(f"{where}: {8 * width}-bit samples; a prompt must be 16-bit PCM")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if channels > 1:
        data = data[: len(data) - len(data) % channels].reshape(-1, channels).mean(axis=1)
    if rate != RATE and len(data):
        # Linear interpolation: enough for speech and music on hold going to an 8 kHz codec.
        count = round(len(data) * RATE / rate)
        data = np.interp(np.arange(count) * (rate / RATE), np.arange(len(data)), data)
    samples = np.clip(np.round(data), -32768, 32767).astype(np.int16)
    if not len(samples):
        raise CodecError(f"{where}: no audio in the file")
    return Prompt(Path(where).name, samples)
