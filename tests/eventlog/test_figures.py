"""Figures from plain segments: every formula of docs/reports.md on hand-made logs."""

from __future__ import annotations

from typing import Any

import pytest

from cti.figures import Bucket, Figures, GroupBy, bucket_start, figures
from cti.segments import all_segments
from tests.eventlog.logs import T0, Log, transfer_case

TARGETS = {("support", "chat"): 20.0, ("billing", "voice"): 5.0, ("support", "voice"): 3.0}


def target(queue: str, channel: str) -> float:
    return TARGETS.get((queue, channel), 60.0)


def day_of_logs() -> list[Log]:
    return [
        transfer_case("t1"),  # support/voice wait 2.5 (in target 3), billing/voice wait 4.5 (in target 5)
        Log("c1").queued(0).offered(1, "alice").accepted(10, "alice").held(20, "alice").resumed(30, "alice")
        .wrap_up(100, "alice").closed(110, "alice"),  # wait 10: talk 80, hold 10, wrap 10
        Log("c2").queued(100).offered(101, "bob").queued(116, "requeue-after-missed-offer")
        .offered(117, "alice").accepted(130, "alice").closed(190, "alice"),  # wait 30: late
        Log("c3").queued(200).abandoned(203),  # short abandon (threshold 5)
        Log("c4").queued(300).abandoned(310),  # abandoned in target
        Log("c5").queued(400).abandoned(450),  # abandoned after target
        Log("c6").queued(3600 + 5).accepted(3600 + 6, "bob").closed(3600 + 60, "bob"),  # next hour
    ]


def run(**kw: Any) -> list[Figures]:
    segs = all_segments([log.entries for log in day_of_logs()])
    args: dict[str, Any] = {"start": T0, "end": T0 + 86_400, "by": Bucket.HOUR, "targets": target,
                            "short_abandon": 5.0}
    args.update(kw)
    return figures(segs, **args)


def test_the_hour_by_queue() -> None:
    rows = {(r.bucket, r.group): r for r in run(group=GroupBy.QUEUE)}
    support = rows[(T0, "support")]
    # c1, c2 answered; c4, c5 abandoned; c3 a short abandon; t1's first part answered.
    assert (support.offered, support.answered, support.abandoned, support.short_abandoned) == (5, 3, 2, 1)
    assert (support.answered_in_target, support.abandoned_in_target) == (2, 1)  # t1 (2.5 ≤ 3), c1 (10 ≤ 20)
    assert support.service_level == pytest.approx(2 / (3 + 2 - 1))
    assert support.average_speed_of_answer == pytest.approx((2.5 + 10 + 30) / 3)
    assert support.handled == 3 and support.transfers == 1 and support.holds == 1
    assert support.average_handle_time == pytest.approx((3 + (80 + 10 + 10) + 60) / 3)
    billing = rows[(T0, "billing")]
    assert (billing.offered, billing.answered, billing.answered_in_target) == (1, 1, 1)
    assert billing.average_speed_of_answer == pytest.approx(4.5)  # not 10: the transfer's own wait
    assert rows[(T0 + 3600, "support")].answered == 1


def test_the_short_abandon_threshold_moves_abandons_in_and_out() -> None:
    (strict,) = [r for r in run(short_abandon=0.0, by=Bucket.DAY) if r.group is None]
    (lenient,) = [r for r in run(short_abandon=15.0, by=Bucket.DAY) if r.group is None]
    assert (strict.abandoned, strict.short_abandoned) == (3, 0)
    assert (lenient.abandoned, lenient.short_abandoned) == (1, 2)
    assert strict.offered - lenient.offered == 2


def test_by_agent_and_by_channel() -> None:
    by_agent = {r.group: r for r in run(group=GroupBy.AGENT, by=Bucket.DAY)}
    assert by_agent["alice"].answered == 3 and by_agent["bob"].answered == 2
    assert by_agent[None].abandoned == 2  # nobody's: the abandons
    by_channel = {r.group: r for r in run(group=GroupBy.CHANNEL, by=Bucket.DAY)}
    assert by_channel["voice"].offered == 2 and by_channel["chat"].offered == 5  # c3 was a short abandon


def test_filters_and_range() -> None:
    (only,) = run(queues={"billing"}, by=Bucket.WEEK)
    assert (only.offered, only.answered) == (1, 1)
    assert run(agents={"nobody"}) == []
    (hour,) = run(start=T0 + 3600, end=T0 + 7200)
    assert hour.answered == 1 and hour.bucket == T0 + 3600


def test_buckets_are_utc_hours_days_and_iso_weeks() -> None:
    at = 1_800_000_000.0 + 1234.5  # Friday 15 Jan 2027, 08:20:34 UTC
    assert bucket_start(at, Bucket.HOUR) == 1_800_000_000.0
    assert bucket_start(at, Bucket.DAY) == 1_799_971_200.0  # 00:00
    assert bucket_start(at, Bucket.WEEK) == 1_799_971_200.0 - 4 * 86_400  # Monday 11 Jan


def test_nothing_gives_no_rows_and_no_division_by_zero() -> None:
    assert figures([], start=0, end=1, by=Bucket.HOUR, targets=target, short_abandon=5) == []
    (only_short,) = figures(all_segments([Log().queued(0).abandoned(1).entries]), start=T0, end=T0 + 10,
                            by=Bucket.HOUR, targets=target, short_abandon=5)
    assert (only_short.service_level, only_short.average_speed_of_answer, only_short.average_handle_time) \
        == (None, None, None)
