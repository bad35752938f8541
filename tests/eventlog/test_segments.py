"""Segments from hand-made logs: each agent's part with its own wait, talk, hold and wrap-up."""

from __future__ import annotations

import pytest

from cti.segments import Outcome, segments
from tests.eventlog.logs import T0, Log, transfer_case


def test_a_blind_transfer_to_a_queue_gives_two_waits_not_one() -> None:
    first, second = segments(transfer_case().entries)

    assert (first.agent_id, first.queue, first.wait) == ("alice", "support", 2.5)
    assert first.outcome is Outcome.ANSWERED
    assert first.talk == pytest.approx(3.0)
    assert first.ended_by == "transfer-blind" and first.transferred
    assert (second.agent_id, second.queue, second.queued_why) == ("bob", "billing", "transfer")
    assert second.wait == pytest.approx(4.5)
    assert second.started_at == T0 + 5.5
    assert (second.talk, second.wrap_up, second.ended_by) == (60.0, 10.0, "closed")


def test_holds_are_taken_out_of_talk() -> None:
    log = (Log().queued(0).offered(0, "alice").accepted(4, "alice")
           .held(10, "alice").resumed(40, "alice").held(50, "alice").resumed(55, "alice")
           .wrap_up(100, "alice").closed(130, "alice"))
    (s,) = segments(log.entries)
    assert (s.holds, s.hold) == (2, 35.0)
    assert s.talk == 100 - 4 - 35
    assert s.wrap_up == 30.0
    assert s.handle_time == 96 - 35 + 35 + 30


def test_a_hold_still_open_at_the_end_of_talk_ends_with_it() -> None:
    log = Log().queued(0).accepted(1, "alice").held(10, "alice").transferred(20, "alice", to_queue="x")
    (s,) = segments(log.entries)
    assert (s.hold, s.talk) == (10.0, 9.0)


def test_a_missed_offer_and_its_requeue_keep_the_one_wait() -> None:
    log = (Log().queued(0).offered(1, "alice").queued(16, "requeue-after-missed-offer")
           .offered(17, "bob").accepted(19, "bob").closed(200, "bob"))
    (s,) = segments(log.entries)
    assert (s.agent_id, s.wait, s.offers, s.missed_offers) == ("bob", 19.0, 2, 1)


def test_overflow_moves_the_wait_to_the_other_queue_without_restarting_it() -> None:
    log = (Log(queue="support").queued(0).queued(30, "overflow", queue="overflow")
           .offered(31, "carol").accepted(33, "carol").closed(90, "carol"))
    (s,) = segments(log.entries)
    assert (s.queue, s.overflowed_from, s.wait, s.started_at) == ("overflow", ("support",), 33.0, T0)


@pytest.mark.parametrize("left_after", [3.0, 45.0])
def test_an_abandon_ends_the_wait_whatever_its_length(left_after: float) -> None:
    (s,) = segments(Log().queued(0).offered(1, "alice").abandoned(left_after).entries)
    assert (s.outcome, s.wait, s.agent_id, s.ended_by) == (Outcome.ABANDONED, left_after, None, "abandoned")


def test_a_warm_transfer_gives_the_second_agent_a_part_without_a_queue_wait() -> None:
    log = (Log(channel="voice").queued(0).accepted(5, "alice").consulted(20, "alice", "bob")
           .transferred(40, "alice", mode="warm", to_agent="bob").accepted(40, "bob").closed(100, "bob"))
    first, second = segments(log.entries)
    assert (first.consults, first.ended_by, first.talk) == (1, "transfer-warm", 35.0)
    assert (second.agent_id, second.queued, second.wait, second.talk) == ("bob", False, None, 60.0)


def test_work_still_open_is_measured_up_to_now_and_has_no_end() -> None:
    waiting, = segments(Log().queued(0).entries, now=T0 + 12)
    assert (waiting.outcome, waiting.wait, waiting.ended_at) == (Outcome.WAITING, 12.0, None)
    talking, = segments(Log().queued(0).accepted(2, "a").held(5, "a").entries, now=T0 + 20)
    assert (talking.talk, talking.hold, talking.ended_at) == (3.0, 15.0, None)
    assert talking.outcome is Outcome.ANSWERED


def test_an_outbound_call_is_an_agent_part_with_no_wait() -> None:
    log = Log(channel="voice").accepted(0, "alice", outbound=True).closed(60, "alice")
    (s,) = segments(log.entries)
    assert (s.queued, s.wait, s.talk) == (False, None, 60.0)


def test_an_empty_log_has_no_segments() -> None:
    assert segments([]) == []
