"""The recording's pure part: frames placed on two sides by their RTP timestamps (anchored to
when a stream's first frame arrived), gaps as silence, what was sent while paused never kept."""

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


def feed(track: StereoTrack, side: int, value: int, n: int, at: float, ssrc: int = 7) -> None:
    """Frame ``n`` of a stream (timestamp 160 n) with every sample ``value``, arriving at ``at``."""
    track.feed(side, frame(value), at, ssrc, n * FRAME)


def test_both_sides_in_step_as_frames_arrive() -> None:
    track = StereoTrack(start=0.0, hold=0)
    for n in range(1, 4):
        feed(track, 0, 100, n, n * 0.02)
        feed(track, 1, -100, n, n * 0.02, ssrc=8)
    out = stereo(track.take(0.06))
    assert out.shape == (3 * FRAME, 2)
    assert set(out[:, 0]) == {100} and set(out[:, 1]) == {-100}
    assert track.take(0.06) == b""


def test_a_gap_on_one_side_is_silence_and_the_silent_side_is_padded() -> None:
    track = StereoTrack(start=0.0)
    feed(track, 0, 1, 1, 0.02)
    feed(track, 0, 2, 5, 0.10)  # frames 2, 3 and 4 lost
    out = stereo(track.finish(0.10))
    assert out.shape == (5 * FRAME, 2)
    assert list(out[::FRAME, 0]) == [1, 0, 0, 0, 2]
    assert not out[:, 1].any()  # the agent said nothing: silence, same length


def test_a_late_frame_takes_its_own_place() -> None:
    track = StereoTrack(start=0.0)
    feed(track, 0, 1, 1, 0.02)
    feed(track, 0, 3, 3, 0.06)
    feed(track, 0, 2, 2, 0.07)  # 30 ms late, after the frame that followed it
    assert list(stereo(track.finish(0.06))[::FRAME, 0]) == [1, 2, 3]


def test_a_side_that_stalls_then_bursts_stays_in_step_with_the_other() -> None:
    # The agent's phone sends nothing for 200 ms, then the ten frames it owed at once (a loaded
    # phone or network). Placed by arrival they would run 100 ms ahead of the caller's side for the
    # rest of the call; placed by their timestamps each lands beside the caller's frame of its moment.
    track = StereoTrack(start=0.0)
    for n in range(1, 51):
        feed(track, 0, n, n, n * 0.02)
        if not 11 <= n <= 20:
            feed(track, 1, n, n, n * 0.02, ssrc=8)
        if n == 20:
            for late in range(11, 21):
                feed(track, 1, late, late, 0.401, ssrc=8)
    out = stereo(track.finish(1.0))
    assert (out[:, 0] == out[:, 1]).all()
    assert np.count_nonzero(out[:, 1]) == 50 * FRAME


def test_a_new_stream_on_a_side_is_placed_by_when_it_arrives() -> None:
    # A transfer: the next agent's phone starts its own timestamps (and SSRC).
    track = StereoTrack(start=0.0)
    feed(track, 1, 1, 1, 0.02)
    feed(track, 1, 2, 90_000, 0.10, ssrc=99)
    assert list(stereo(track.finish(0.10))[::FRAME, 1]) == [1, 0, 0, 0, 2]


def test_a_jump_in_a_streams_timestamps_is_placed_by_when_it_arrives() -> None:
    track = StereoTrack(start=0.0)
    feed(track, 1, 1, 1, 0.02)
    feed(track, 1, 2, 80_000, 0.10)  # ten seconds on: the phone's timestamps jumped (a hold, a restart)
    feed(track, 1, 3, 80_001, 0.12)
    assert list(stereo(track.finish(0.12))[::FRAME, 1]) == [1, 0, 0, 0, 2, 3]


def rtp(pt: int, payload: bytes, *, csrc: int = 0, ts: int = 160) -> bytes:
    return struct.pack("!BBHII", 0x80 | csrc, pt, 1, ts, 7) + bytes(4 * csrc) + payload


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
        rec.feed(0, rtp(0, tone, ts=n * FRAME))
        rec.feed(1, rtp(0, tone, ts=n * FRAME))
    rec.pause(True)
    now[0] = 2.0
    rec.feed(0, rtp(0, tone, ts=100 * FRAME))  # not kept
    rec.pause(False)
    for n in range(101, 126):
        now[0] = (n - 100) * 0.02 + 2.0
        rec.feed(0, rtp(0, tone, ts=n * FRAME))
        rec.feed(1, rtp(0, tone, ts=n * FRAME))
    await rec.close()
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    assert len(frames) == round(2.5 * 8000)
    silent = np.abs(frames[:, 0]) < 1
    assert silent[8000:16000].all()  # the pause
    assert not silent[:8000].any() and not silent[-4000:].any()



async def test_what_was_said_in_a_pause_is_not_kept_when_it_arrives_after_the_resume(tmp_path: Path) -> None:
    # The pause is for what must not be recorded (a card number): a frame spoken before the resume
    # but delivered just after it must stay out of the file.
    now = [0.0]
    path = tmp_path / "call.wav"
    rec = await Recording.open(path, clock=lambda: now[0])
    tone, secret = g711.encode(frame(1000), g711.PCMU), g711.encode(frame(-8000), g711.PCMU)
    for n in range(1, 51):
        now[0] = n * 0.02
        rec.feed(0, rtp(0, tone, ts=n * FRAME))
    rec.pause(True)
    now[0] = 2.0
    rec.pause(False)
    now[0] = 2.03
    rec.feed(0, rtp(0, secret, ts=99 * FRAME))  # spoken at 1.98 s, 30 ms late
    for n in range(102, 126):
        now[0] = (n - 100) * 0.02 + 2.0
        rec.feed(0, rtp(0, tone, ts=n * FRAME))
    await rec.close()
    with wave.open(str(path), "rb") as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    assert frames[:, 0].min() > -4000  # nothing of the secret frame
    assert np.count_nonzero(frames[:, 0]) >= 74 * FRAME - 2  # the rest all kept
