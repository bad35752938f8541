"""Who hears whom with a supervisor on the call, and the 20 ms mix, on plain data."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.sip import g711
from adapters.sip.mixer import DEPTH, FRAME_SAMPLES, FrameQueue, Mixer, MixError, Party, mix
from tests.adapters.sip.test_g711 import tone

C, A, S = Party.CALLER, Party.AGENT, Party.SUPERVISOR
VOICE = {C: 1000.0, A: 600.0, S: 1400.0}  # each party's tone: whole 50 Hz bins of a 20 ms frame
LEVEL = 32767 * 10 ** (-10 / 20)


def frame_of(party: Party, law: int) -> bytes:
    return g711.encode(tone(VOICE[party], 0.02, dbfs=-10), law)


def heard(frame: bytes, law: int) -> dict[Party, float]:
    """How loud each party's tone is in a coded frame, as a share of the level it was sent at."""
    spectrum = np.abs(np.fft.rfft(g711.decode(frame, law).astype(np.float64))) / (FRAME_SAMPLES / 2)
    return {p: float(spectrum[round(hz * FRAME_SAMPLES / 8000)]) / LEVEL for p, hz in VOICE.items()}


def voices(frame: bytes, law: int) -> set[Party]:
    levels = heard(frame, law)
    for p, level in levels.items():  # a voice is there at its level, or not at all
        assert level > 0.9 or level < 0.02, (p, level)
    return {p for p, level in levels.items() if level > 0.9}


def feed_all(mixer: Mixer, laws: dict[Party, int]) -> None:
    for party in Party:
        mixer.feed(party, laws[party], frame_of(party, laws[party]))


def test_a_sum_over_16_bits_is_clipped_not_wrapped() -> None:
    loud = np.full(FRAME_SAMPLES, 30000, np.int16)
    assert mix([loud, loud]).tolist() == [32767] * FRAME_SAMPLES
    assert mix([-loud, -loud, -loud]).tolist() == [-32768] * FRAME_SAMPLES
    assert mix([loud, -loud]).tolist() == [0] * FRAME_SAMPLES


def test_a_missing_frame_is_silence() -> None:
    voice = tone(1000, 0.02)
    assert mix([voice, None]).tolist() == voice.tolist()
    assert mix([None, None]).tolist() == [0] * FRAME_SAMPLES
    assert mix([]).tolist() == [0] * FRAME_SAMPLES


@pytest.mark.parametrize(("mode", "passes", "mixed"), [
    ("listen", {C: A, A: C}, (S,)),
    ("whisper", {A: C}, (A, S)),
    ("barge", {}, (C, A, S)),
])
def test_only_a_party_heard_alone_in_its_own_law_is_relayed_untouched(mode: str, passes: dict[Party, Party],
                                                                       mixed: tuple[Party, ...]) -> None:
    mixer = Mixer({C: g711.PCMU, A: g711.PCMU, S: g711.PCMA}, mode)
    assert mixer.passes() == passes
    assert mixer.mixed() == mixed


def test_caller_and_agent_in_different_laws_are_mixed_not_relayed() -> None:
    mixer = Mixer({C: g711.PCMU, A: g711.PCMA, S: g711.PCMU}, "listen")
    assert mixer.passes() == {}
    assert mixer.mixed() == (C, A, S)


@pytest.mark.parametrize(("mode", "hears"), [
    ("listen", {S: {C, A}}),
    ("whisper", {A: {C, S}, S: {C, A}}),
    ("barge", {C: {A, S}, A: {C, S}, S: {C, A}}),
])
@pytest.mark.parametrize("supervisor_law", [g711.PCMU, g711.PCMA])
def test_each_mixed_party_hears_the_others_of_its_mode_in_its_own_law(
        mode: str, hears: dict[Party, set[Party]], supervisor_law: int) -> None:
    laws = {C: g711.PCMA, A: g711.PCMA, S: supervisor_law}  # one law in, another out for the supervisor
    mixer = Mixer(laws, mode)
    feed_all(mixer, laws)
    out = mixer.tick()
    assert set(out) == set(hears)
    for party, expected in hears.items():
        assert len(out[party]) == FRAME_SAMPLES
        assert voices(out[party], laws[party]) == expected, party


def test_nobody_hears_the_listening_supervisor_and_their_audio_is_not_decoded() -> None:
    laws = {C: g711.PCMU, A: g711.PCMU, S: g711.PCMU}
    mixer = Mixer(laws, "listen")
    for _ in range(5):
        mixer.feed(S, g711.PCMU, frame_of(S, g711.PCMU))
    mixer.set_mode("barge")  # what they said while listening is not played when they barge in
    out = mixer.tick()
    assert voices(out[C], g711.PCMU) == set() and voices(out[A], g711.PCMU) == set()


def test_a_party_whose_frame_did_not_come_is_silent_in_the_mix() -> None:
    laws = {C: g711.PCMU, A: g711.PCMU, S: g711.PCMA}
    mixer = Mixer(laws, "barge")
    mixer.feed(C, g711.PCMU, frame_of(C, g711.PCMU))
    out = mixer.tick()
    assert voices(out[S], g711.PCMA) == {C}
    assert voices(out[A], g711.PCMU) == {C}
    assert voices(out[C], g711.PCMU) == set()  # their own voice is never sent back
    assert set(np.unique(g711.decode(mixer.tick()[S], g711.PCMA)).tolist()) <= {-8, 8}  # all silent now


def test_telephone_events_and_other_payloads_are_not_mixed() -> None:
    mixer = Mixer({C: g711.PCMU, A: g711.PCMU, S: g711.PCMU}, "listen")
    mixer.feed(C, 101, bytes([5, 0x80, 0, 160]))
    mixer.feed(C, 13, b"\x40")
    assert voices(mixer.tick()[S], g711.PCMU) == set()


def test_packets_of_10_and_30_ms_are_recut_into_20_ms_frames() -> None:
    queue = FrameQueue()
    voice = tone(1000, 0.06)
    queue.push(voice[:80])
    assert queue.pop() is None  # half a frame: not yet
    queue.push(voice[80:320])  # 30 ms
    first, second = queue.pop(), queue.pop()
    assert first is not None and second is not None and queue.pop() is None
    assert np.concatenate([first, second]).tolist() == voice[:320].tolist()
    queue.push(voice[320:])
    last = queue.pop()
    assert last is not None and last.tolist() == voice[320:].tolist()


def test_a_source_ahead_of_the_clock_loses_its_oldest_frames_not_the_latest() -> None:
    queue = FrameQueue()
    frames = [np.full(FRAME_SAMPLES, n, np.int16) for n in range(DEPTH + 2)]
    for frame in frames:
        queue.push(frame)
    assert len(queue) == DEPTH and queue.dropped == 2
    kept = [queue.pop() for _ in range(DEPTH)]
    assert [int(f[0]) for f in kept if f is not None] == [2, 3, 4]


def test_an_unknown_mode_or_a_law_that_is_not_g711_is_refused() -> None:
    with pytest.raises(MixError):
        Mixer({C: g711.PCMU, A: g711.PCMU, S: g711.PCMU}, "spy")
    with pytest.raises(MixError):
        Mixer({C: g711.PCMU, A: g711.PCMU, S: 9}, "listen")
    with pytest.raises(MixError):
        Mixer({C: g711.PCMU, A: g711.PCMU}, "listen")
    mixer = Mixer({C: g711.PCMU, A: g711.PCMU, S: g711.PCMU}, "listen")
    with pytest.raises(MixError):
        mixer.set_mode("coach")
    assert mixer.mode == "listen"
