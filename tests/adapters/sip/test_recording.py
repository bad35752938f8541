"""The recording's pure part: frames placed by arrival time on two sides, gaps as silence."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np

from adapters.sip import g711
from adapters.sip.recording import Recording, StereoTrack, rtp_payload

FRAME = 160


def frame(value: int) -> np.ndarray:
    return np.full(FRAME, value, np.int16)


def stereo(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2").reshape(-1, 2)


def test_both_sides_in_step_as_frames_arrive() -> None:
    track = StereoTrack(start=0.0, slack=0)
    for n in range(1, 4):
        track.feed(0, frame(100), n * 0.02)
        track.feed(1, frame(-100), n * 0.02)
    out = stereo(track.take())
    assert out.shape == (3 * FRAME, 2)
    assert set(out[:, 0]) == {100} and set(out[:, 1]) == {-100}
    assert track.take() == b""


def test_a_gap_on_one_side_is_silence_and_the_silent_side_is_padded() -> None:
    track = StereoTrack(start=0.0, slack=0)
    track.feed(0, frame(1), 0.02)
    track.feed(0, frame(2), 0.10)  # frames at 40, 60, 80 ms lost
    out = stereo(track.finish(0.10))
    assert out.shape == (5 * FRAME, 2)
    assert list(out[::FRAME, 0]) == [1, 0, 0, 0, 2]
    assert not out[:, 1].any()  # the agent said nothing: silence, same length


def test_a_late_frame_within_the_slack_joins_without_a_gap() -> None:
    track = StereoTrack(start=0.0, slack=480)
    track.feed(0, frame(1), 0.02)
    track.feed(0, frame(2), 0.07)  # 30 ms late
    assert list(stereo(track.finish(0.04))[::FRAME, 0]) == [1, 2]


def rtp(pt: int, payload: bytes, *, csrc: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80 | csrc, pt, 1, 160, 7) + bytes(4 * csrc) + payload


def test_rtp_payload_skips_csrcs_and_refuses_what_is_not_rtp() -> None:
    assert rtp_payload(rtp(8, b"abc", csrc=2)) == (8, b"abc")
    assert rtp_payload(b"\x00" * 20) is None
    assert rtp_payload(rtp(0, b"")) is None


async def test_a_paused_recording_keeps_silence_in_the_file(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / "rec" / "call.wav"
    rec = await Recording.open(path, clock=lambda: now[0])
    tone = g711.encode(frame(1000), g711.PCMU)
    for n in range(1, 51):  # one second on both sides
        now[0] = n * 0.02
        rec.feed(0, rtp(0, tone))
        rec.feed(1, rtp(0, tone))
    rec.pause(True)
    now[0] = 2.0
    rec.feed(0, rtp(0, tone))  # not kept
    rec.pause(False)
    for n in range(1, 26):
        now[0] = 2.0 + n * 0.02
        rec.feed(0, rtp(0, tone))
        rec.feed(1, rtp(0, tone))
    await rec.close()
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    assert len(frames) == round(2.5 * 8000)
    silent = np.abs(frames[:, 0]) < 1
    assert silent[8000:16000].all()  # the pause
    assert not silent[:8000].any() and not silent[-4000:].any()

