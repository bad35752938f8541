"""The stamped RTP the drift test and ``bench sip --calls`` measure with, on plain data."""

from __future__ import annotations

import pytest

from tests.adapters.sip.stamped_rtp import (
    RTP,
    Sample,
    added_variation,
    by_call,
    drift,
    drift_per_minute,
    percentile,
    read_stamp,
    stamped_packet,
)


def test_a_stamp_reads_back_as_the_delay_since_it_was_sent() -> None:
    packet = stamped_packet(7, 3, 8, 1_000_000_000)
    assert len(packet) == RTP.size + 160  # a 20 ms G.711 frame
    assert packet[1] == 8 and RTP.unpack(packet[:RTP.size])[2:4] == (3, 480)
    sample = read_stamp(packet, 1_004_500_000)
    assert sample is not None and (sample.call, sample.sent) == (7, 1.0)
    assert sample.delay == pytest.approx(0.0045)


def test_other_rtp_is_not_a_sample() -> None:
    hold_audio = RTP.pack(0x80, 0, 1, 160, 42) + bytes(160)
    assert read_stamp(hold_audio, 5) is None
    assert read_stamp(b"\x80\x00", 5) is None


def steady(delay_at: list[float], call: int = 0) -> list[Sample]:
    return [Sample(call, 0.02 * n, d) for n, d in enumerate(delay_at)]


def test_a_relay_that_falls_behind_drifts_and_a_steady_one_does_not() -> None:
    # 180 s of packets: pyVoIP's +6 ms per second against a flat 2 ms with jitter
    falling = steady([0.002 + 0.006 * 0.02 * n for n in range(9000)])
    flat = steady([0.002 + (0.003 if n % 7 == 0 else 0.0) for n in range(9000)])
    assert drift(falling, 5.0) == pytest.approx(1.05, abs=0.01)  # 175 s of 6 ms
    assert drift_per_minute(falling, 5.0) == pytest.approx(0.36, rel=1e-3)
    assert drift(flat, 5.0) == pytest.approx(0.0)
    assert drift_per_minute(flat, 5.0) == pytest.approx(0.0)
    assert drift([], 5.0) is None and drift_per_minute(flat[:100], 5.0) is None  # 2 s: no span


def test_the_added_variation_is_over_each_calls_own_lowest_delay() -> None:
    samples = steady([0.010, 0.011, 0.014], call=1) + steady([0.001, 0.001, 0.002], call=2)
    assert added_variation(samples) == pytest.approx([0, 0, 0, 0.001, 0.001, 0.004])
    assert sorted(by_call(samples)) == [1, 2]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([3.0], 99) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)
