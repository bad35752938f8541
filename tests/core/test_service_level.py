"""Service level from plain outcomes: the contact-center convention, channel by channel."""

from __future__ import annotations

import pytest

from cti.domain import Channel, InteractionState
from cti.service_level import Outcome, service_levels

T0 = 1_800_000_000.0
TARGETS = {"support": {Channel.CHAT: 60.0, Channel.EMAIL: 3600.0}}


def answered(after: float, channel: Channel = Channel.CHAT, queue: str = "support") -> Outcome:
    return Outcome(queue=queue, channel=channel, state=InteractionState.CLOSED, queued_at=T0,
                   answered_at=T0 + after, ended_at=T0 + after + 300)


def abandoned(after: float) -> Outcome:
    return Outcome(queue="support", channel=Channel.CHAT, state=InteractionState.ABANDONED, queued_at=T0,
                   answered_at=None, ended_at=T0 + after)


def test_answered_in_target_over_answered_and_late_abandons() -> None:
    outcomes = [answered(10), answered(60), answered(61), abandoned(5), abandoned(200),
                Outcome(queue="support", channel=Channel.CHAT, state=InteractionState.QUEUED,
                        queued_at=T0, answered_at=None, ended_at=None)]  # still waiting: left out
    chat = service_levels(outcomes, TARGETS)["support"][Channel.CHAT]
    assert (chat.answered, chat.answered_in_target, chat.abandoned, chat.abandoned_in_target) == (3, 2, 2, 1)
    assert chat.level == pytest.approx(2 / 4)  # the 5 s abandon could not have been served yet
    assert chat.average_answer == pytest.approx((10 + 60 + 61) / 3)
    assert chat.target == 60.0


def test_channels_apart_and_unknown_queues_skipped() -> None:
    levels = service_levels([answered(30), answered(7200, Channel.EMAIL), answered(1, queue="gone")], TARGETS)
    assert set(levels) == {"support"}
    assert levels["support"][Channel.CHAT].level == 1.0
    assert levels["support"][Channel.EMAIL].level == 0.0


def test_nothing_to_judge_yet_is_no_level() -> None:
    only_early = service_levels([abandoned(3)], TARGETS)["support"][Channel.CHAT]
    assert only_early.level is None and only_early.average_answer is None
    assert service_levels([], TARGETS) == {}
