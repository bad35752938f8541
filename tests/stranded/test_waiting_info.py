"""A waiting customer's place in the queue and estimated wait, as pure functions; a wait turned
into a callback is counted once in the figures."""

from __future__ import annotations

import pytest

from cti.domain import Channel
from cti.eventlog import EntryKind, LogEntry
from cti.figures import figures
from cti.routing import WaitingItem
from cti.segments import segments
from cti.waiting_info import answers_by_queue, estimated_wait, positions


def waiting(iid: str, since: float, *, queue: str = "support", channel: Channel = Channel.CHAT,
            priority: float = 1.0) -> WaitingItem:
    return WaitingItem(interaction_id=iid, channel=channel, queue=queue, customer_id="c", enqueued_at=since,
                       service_target=60, priority=priority)


def test_position_is_the_rank_among_the_same_queue_and_channel_by_urgency() -> None:
    items = [waiting("old", 0), waiting("new", 50), waiting("vip", 40, priority=5),
             waiting("other-queue", 1, queue="sales"), waiting("mail", 0, channel=Channel.EMAIL)]
    assert positions(items, now=60) == {"vip": 1, "old": 2, "new": 3, "other-queue": 1, "mail": 1}


def test_ties_go_to_the_older() -> None:
    places = positions([waiting("b", 10), waiting("a", 10), waiting("c", 5)], now=10)
    assert places == {"c": 1, "a": 2, "b": 3}


@pytest.mark.parametrize(("position", "answered", "expected"), [
    (1, 0, None),  # nobody answered lately: no promise
    (1, 30, 30.0),  # 900 s / 30 answers = 30 s each
    (3, 30, 90.0),
    (2, 7, 270.0),  # 2 x 128.6 s = 257 s, rounded up to 30 s steps
    (0, 5, None),
])
def test_estimated_wait(position: int, answered: int, expected: float | None) -> None:
    assert estimated_wait(position, answered=answered) == expected


def entry(kind: EntryKind, at: float, iid: str = "i1", queue: str = "support", channel: str = "chat",
          **details: object) -> LogEntry:
    return LogEntry(interaction_id=iid, kind=kind, at=at, channel=channel, queue=queue, details=details)


def test_answers_are_counted_by_the_time_of_the_answer_per_queue_and_channel() -> None:
    logs = [
        [entry(EntryKind.QUEUED, 0, "a", why="arrival"), entry(EntryKind.ACCEPTED, 950, "a")],  # in
        [entry(EntryKind.QUEUED, 10, "b", why="arrival"), entry(EntryKind.ACCEPTED, 20, "b")],  # too early
        [entry(EntryKind.QUEUED, 900, "c", queue="sales", why="arrival"), entry(EntryKind.ACCEPTED, 990, "c",
                                                                                  queue="sales")],
        [entry(EntryKind.QUEUED, 900, "d", channel="email", why="arrival"),
         entry(EntryKind.ACCEPTED, 990, "d", channel="email")],
    ]
    every = [s for log in logs for s in segments(log)]
    assert answers_by_queue(every, start=100, end=1000, channel="chat") == {"support": 1, "sales": 1}


def test_a_wait_turned_into_a_callback_counts_once_with_its_whole_wait() -> None:
    chat = [entry(EntryKind.QUEUED, 0, "chat", why="arrival"),
            entry(EntryKind.CLOSED, 120, "chat", callback="cb")]
    callback = [entry(EntryKind.QUEUED, 0, "cb", channel="callback", why="callback", from_interaction="chat"),
                entry(EntryKind.ACCEPTED, 300, "cb", channel="callback")]
    (chat_segment,) = segments(chat)
    (callback_segment,) = segments(callback)
    assert chat_segment.ended_by == "callback"
    assert (callback_segment.wait, callback_segment.started_at) == (300.0, 0)
    (total,) = figures([chat_segment, callback_segment], start=0, end=3600, by=None, targets=lambda q, c: 60,
                       short_abandon=5)
    assert (total.offered, total.answered, total.abandoned) == (1, 1, 0)
