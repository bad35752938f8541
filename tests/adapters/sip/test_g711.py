"""G.711 and the line's WAV prompts on plain data: known samples, every code, a tone's frequency."""

from __future__ import annotations

import hashlib
import math
import wave
from pathlib import Path

import numpy as np
import pytest

from adapters.sip import g711

PCMU, PCMA = 0, 8


def tone(hz: float, seconds: float, rate: int = 8000, dbfs: float = -6.0) -> np.ndarray:
    n = np.arange(int(rate * seconds))
    return np.round(32767 * 10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * n / rate)).astype(np.int16)


def peak_hz(samples: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize(("sample", "ulaw"), [(0, 0xFF), (-1, 0x7E), (32767, 0x80), (-32768, 0x00),
                                              (1000, 0xCE), (-1000, 0x4E), (8159, 0x9F)])
# Expected bytes as the ITU-T reference coder (Sun's g711.c, CPython's audioop) gives them.
def test_mulaw_known_samples(sample: int, ulaw: int) -> None:
    assert g711.encode(np.array([sample], np.int16), PCMU) == bytes([ulaw])


@pytest.mark.parametrize(("sample", "alaw"), [(0, 0xD5), (-1, 0x55), (32767, 0xAA), (-32768, 0x2A),
                                              (1000, 0xFA), (-1000, 0x7A), (4096, 0x85)])
def test_alaw_known_samples(sample: int, alaw: int) -> None:
    assert g711.encode(np.array([sample], np.int16), PCMA) == bytes([alaw])


@pytest.mark.parametrize(("code", "pt", "sample"), [
    (0xFF, PCMU, 0), (0x80, PCMU, 32124), (0x00, PCMU, -32124),
    (0xD5, PCMA, 8), (0x55, PCMA, -8), (0xAA, PCMA, 32256), (0x2A, PCMA, -32256)])
def test_known_codes_decode(code: int, pt: int, sample: int) -> None:
    assert g711.decode(bytes([code]), pt).tolist() == [sample]


@pytest.mark.parametrize("pt", [PCMU, PCMA])
def test_every_code_survives_decode_then_encode(pt: int) -> None:
    codes = bytes(range(256))
    again = g711.encode(g711.decode(codes, pt), pt)
    # μ-law has two zeros (0x7F and 0xFF); encoding picks +0.
    expected = bytes(0xFF if (pt == PCMU and c == 0x7F) else c for c in codes)
    assert again == expected


# SHA-256 of the 65536 codes for -32768..32767, as CPython 3.11's audioop.lin2ulaw / lin2alaw gave them.
REFERENCE = {
    PCMU: "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a",
    PCMA: "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b",
}


@pytest.mark.parametrize("pt", [PCMU, PCMA])
def test_every_sample_codes_as_the_reference_coder(pt: int) -> None:
    samples = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    assert hashlib.sha256(g711.encode(samples, pt)).hexdigest() == REFERENCE[pt]


@pytest.mark.parametrize("pt", [PCMU, PCMA])
def test_every_sample_encodes_within_half_a_step(pt: int) -> None:
    samples = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    back = g711.decode(g711.encode(samples, pt), pt).astype(np.int32)
    error = np.abs(back - samples.astype(np.int32))
    # the quantisation step grows with the magnitude: at most 1/16 of it (plus the clip at full scale)
    bound = np.maximum(np.abs(samples.astype(np.int32)) // 16, 16) + 130
    assert bool(np.all(error <= bound)), int(np.argmax(error - bound))


def test_pcma_is_not_mulaw() -> None:
    """The defect this replaces: PCMA sent with μ-law bytes."""
    samples = tone(1000, 0.02)
    assert g711.encode(samples, PCMA) != g711.encode(samples, PCMU)
    misread = g711.decode(g711.encode(samples, PCMU), PCMA)
    assert np.max(np.abs(misread.astype(np.int32) - samples)) > 5000


@pytest.mark.parametrize("pt", [PCMU, PCMA])
def test_a_1khz_tone_round_trips_with_its_frequency(pt: int) -> None:
    samples = tone(1000, 1.0)
    back = g711.decode(g711.encode(samples, pt), pt)
    assert abs(peak_hz(back) - 1000) <= 2
    # and it is the same signal, not just the same pitch: SNR of G.711 is ~38 dB
    noise = back.astype(np.float64) - samples
    snr = 10 * math.log10(float(np.sum(samples.astype(np.float64) ** 2) / np.sum(noise ** 2)))
    assert snr > 30, snr


def test_unknown_payload_type_is_refused() -> None:
    with pytest.raises(g711.CodecError, match="payload type 18"):
        g711.encode(np.zeros(4, np.int16), 18)


def write_wav(path: Path, samples: np.ndarray, *, rate: int = 8000, channels: int = 1,
              width: int = 2) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


@pytest.mark.parametrize("pt", [PCMU, PCMA])
def test_a_16bit_wav_becomes_20ms_frames_of_the_negotiated_codec(tmp_path: Path, pt: int) -> None:
    samples = tone(1000, 0.51)  # 4080 samples: 25 frames and a half
    prompt = g711.load_wav(write_wav(tmp_path / "greeting.wav", samples))
    frames = prompt.frames(pt)
    assert len(frames) == 26 and all(len(f) == 160 for f in frames)
    assert frames[-1][80:] == g711.encode(np.zeros(80, np.int16), pt)  # padded with silence
    heard = g711.decode(b"".join(frames[:25]), pt)
    assert abs(peak_hz(heard) - 1000) <= 2
    assert prompt.seconds == pytest.approx(0.51)


def test_a_stereo_16khz_wav_is_mixed_down_and_resampled(tmp_path: Path) -> None:
    mono = tone(1000, 0.5, rate=16000)
    stereo = np.stack([mono, mono], axis=1).reshape(-1)
    prompt = g711.load_wav(write_wav(tmp_path / "hold.wav", stereo, rate=16000, channels=2))
    assert len(prompt.samples) == 4000
    assert abs(peak_hz(g711.decode(b"".join(prompt.frames(PCMA)), PCMA)) - 1000) <= 2


def test_an_8bit_wav_is_refused_with_its_name(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "old.wav", np.full(800, 128, np.uint8), width=1)
    with pytest.raises(g711.CodecError, match=r"old\.wav.*16-bit"):
        g711.load_wav(path)


def test_a_missing_or_broken_wav_is_a_codec_error(tmp_path: Path) -> None:
    with pytest.raises(g711.CodecError, match=r"nope\.wav"):
        g711.load_wav(tmp_path / "nope.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF....not a wav")
    with pytest.raises(g711.CodecError, match=r"bad\.wav"):
        g711.load_wav(tmp_path / "bad.wav")
