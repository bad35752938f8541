"""Overflow by wait and the transfer fallback as pure decisions (router.waiting_rules), the
configuration that feeds them, the priority rules (cti.priority) and the log entry a move makes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cti import lifecycle
from cti.config import ConfigError, parse_config
from cti.domain import Channel, Direction, Interaction, InteractionState, Overflow, QueueConfig
from cti.errors import Conflict
from cti.eventlog import overflowed_to
from cti.priority import PriorityRules, priority_for
from cti.routing import WaitingItem
from router.waiting_rules import also_after, due_moves, widened
from tests.eventlog.logs import Log


def queue(name: str, skills: dict[str, int], *overflow: Overflow,
          fallback: float | None = None) -> QueueConfig:
    return QueueConfig(name=name, skills=skills, service_targets={}, overflow=overflow,
                       transfer_fallback_seconds=fallback)


QUEUES = {
    "billing": queue("billing", {"billing": 7, "english": 3},
                     Overflow(after=30, widen={"billing": 4}), Overflow(after=60, to_queue="general"),
                     fallback=20),
    "general": queue("general", {"english": 1}),
}


def item(*, waited_since: float = 0.0, q: str = "billing", skills: dict[str, int] | None = None,
         target: str | None = None, also: dict[str, dict[str, int]] | None = None) -> WaitingItem:
    return WaitingItem(interaction_id="int-1", channel=Channel.CHAT, queue=q, customer_id="c",
                       enqueued_at=waited_since, service_target=60,
                       skills=QUEUES[q].skills if skills is None else skills, target_agent=target,
                       also=also or {})


def moves(it: WaitingItem, now: float) -> list[tuple[str, str, dict[str, int], str]]:
    return [(m.why, m.queue, dict(m.skills), m.rule)
            for m in due_moves([it], queues=QUEUES, fallback=lambda q: q.transfer_fallback_seconds or 99,
                               now=now)]


def also_of(it: WaitingItem, now: float) -> list[dict[str, dict[str, int]]]:
    return [{q: dict(s) for q, s in m.also.items()}
            for m in due_moves([it], queues=QUEUES, fallback=lambda q: 99, now=now)]


def test_nothing_moves_before_the_first_rule() -> None:
    assert moves(item(), 29.9) == []


def test_after_30_s_the_required_billing_level_is_lowered_and_only_once() -> None:
    assert moves(item(), 30) == [("overflow", "billing", {"billing": 4, "english": 3}, "widen")]
    assert moves(item(skills={"billing": 4, "english": 3}), 45) == []  # applied already


def test_after_60_s_it_is_also_offered_to_the_other_queue_and_stays_in_its_own() -> None:
    widened_item = item(skills={"billing": 4, "english": 3})
    # It keeps its queue and its (widened) skills: billing's agents still get it...
    assert moves(widened_item, 60) == [("overflow", "billing", {"billing": 4, "english": 3}, "to-queue")]
    # ...and general's agents also may, with general's skills.
    assert also_of(widened_item, 60) == [{"general": {"english": 1}}]
    # Applied once: later sweeps leave it.
    assert moves(item(skills={"billing": 4, "english": 3}, also={"general": {"english": 1}}), 600) == []
    # A rule reached first that was not applied yet comes first, the other after it.
    assert moves(item(), 61)[0][3] == "widen"
    assert also_of(item(skills={"billing": 4, "english": 3}, also={}), 61) == [{"general": {"english": 1}}]


def test_an_agent_of_either_queue_may_take_overflowed_work() -> None:
    from cti.domain import AgentState
    from router.eligibility import refusal

    overflowed = item(skills={"billing": 4, "english": 3}, also={"general": {"english": 1}})

    def why(skills: dict[str, int], it: WaitingItem = overflowed) -> str | None:
        return refusal(agent_id="a", state=AgentState.AVAILABLE, skills=skills, capacity={Channel.CHAT: 1},
                       load={}, item=it)

    assert why({"billing": 5, "english": 3}) is None  # billing's own agent: still theirs
    assert why({"english": 1}) is None  # general's agent: also theirs now
    assert why({"french": 9}) == "missing-skill:billing"  # neither: the own queue's gap is shown
    assert why({"english": 1}, item(skills={"billing": 4, "english": 3})) == "missing-skill:billing"


def test_work_aimed_at_one_agent_falls_back_after_the_queues_time_and_does_not_overflow_before() -> None:
    aimed = item(target="bob")
    assert moves(aimed, 19) == []
    assert moves(aimed, 20) == [("transfer-fallback", "billing", {"billing": 7, "english": 3},
                                 "to-agent-timeout")]
    assert moves(aimed, 600)[0][0] == "transfer-fallback"  # never an overflow while aimed


def test_a_queue_removed_meanwhile_moves_nothing() -> None:
    assert moves(item(q="general"), 1e6) == []
    stray = WaitingItem(interaction_id="i", channel=Channel.CHAT, queue="gone", customer_id="c",
                        enqueued_at=0, service_target=60)
    assert due_moves([stray], queues=QUEUES, fallback=lambda q: 1, now=1e6) == []


def test_widen_lowers_never_raises_and_zero_drops() -> None:
    assert widened({"a": 5, "b": 2, "c": 7}, {"a": 3, "b": 4, "c": 0}) == {"a": 3, "b": 2}


def config(**queue_extra: Any) -> dict[str, Any]:
    return {"queues": [{"name": "support", **queue_extra}, {"name": "general"}],
            "agents": [{"id": "a", "password": "a"}], "demo": True}


def test_overflow_rules_are_validated() -> None:
    with pytest.raises(ConfigError, match="needs to_queue or widen"):
        parse_config(config(overflow=[{"after": 10}]))
    with pytest.raises(ConfigError, match=r"widen\.billing"):
        parse_config(config(overflow=[{"after": 10, "widen": {"billing": 11}}]))
    data = config(overflow=[{"after": 10, "to_queue": "general"}])
    data["queues"][1]["overflow"] = [{"after": 20, "to_queue": "support"}]
    with pytest.raises(ConfigError, match="loop"):
        parse_config(data)
    ok = parse_config(config(overflow=[{"after": 90, "to_queue": "general"},
                                       {"after": 10, "widen": {"x": 0}}],
                             transfer_fallback_seconds=15, max_wait=120))
    support = ok.queues["support"]
    assert [o.after for o in support.overflow] == [10, 90]  # in the order they apply
    assert (support.transfer_fallback_seconds, support.max_wait) == (15, 120)
    assert ok.transfer_fallback_seconds == 60 and ok.transfer_unavailable == "refuse"


def test_priority_rules_are_validated_and_read() -> None:
    with pytest.raises(ConfigError, match=r"routing\.priority\.channels"):
        parse_config({**config(), "routing": {"priority": {"channels": {"fax": 3}}}})
    with pytest.raises(ConfigError, match=r"routing\.priority\.context"):
        parse_config({**config(), "routing": {"priority": {"context": {"ivr.reason": {"fraud": 11}}}}})
    cfg = parse_config({**config(), "routing": {"priority": {"channels": {"voice": 2},
                                                             "context": {"ivr.reason": {"fraud": 5}}}}})
    assert cfg.priority == PriorityRules(channels={Channel.VOICE: 2}, context={"ivr.reason": {"fraud": 5}})


RULES = PriorityRules(channels={Channel.VOICE: 2}, context={"ivr.reason": {"fraud": 5, "billing": 3},
                                                            "ivr.account": {"0000": 4}})


@pytest.mark.parametrize(("channel", "context", "given", "expected"), [
    (Channel.CHAT, {}, 1.0, 1.0),  # nothing applies
    (Channel.VOICE, {}, 1.0, 2.0),  # per channel
    (Channel.VOICE, {"ivr.reason": "fraud"}, 1.0, 5.0),  # the IVR's answer beats the channel
    (Channel.CHAT, {"ivr.reason": "billing", "ivr.account": "0000"}, 1.0, 4.0),  # the highest wins
    (Channel.CHAT, {"ivr.reason": "other"}, 1.0, 1.0),
    (Channel.CHAT, {}, 7.0, 7.0),  # what the channel gave is kept when higher
])
def test_priority_for(channel: Channel, context: dict[str, str], given: float, expected: float) -> None:
    assert priority_for(RULES, channel=channel, context=context, given=given) == expected


def test_a_move_logs_a_queued_entry_with_why_and_keeps_the_wait() -> None:
    waiting = Interaction(id="int-1", channel=Channel.CHAT, direction=Direction.INBOUND, customer_id="c",
                          queue="billing", state=InteractionState.QUEUED, queued_at=5.0)
    moved = lifecycle.apply(waiting, "rewait", now=65.0, queue="general",
                            details={"why": "overflow", "rule": "to-queue", "after": 60})
    assert (moved.state, moved.queue, moved.queued_at) == (InteractionState.QUEUED, "general", 5.0)
    (entry,) = moved.log
    assert (entry.kind.value, entry.queue, entry.at) == ("queued", "general", 65.0)
    assert dict(entry.details) == {"from_queue": "billing", "why": "overflow", "rule": "to-queue",
                                   "after": 60}
    with pytest.raises(Conflict, match="cannot rewait"):
        lifecycle.apply(replace(waiting, state=InteractionState.ACTIVE), "rewait", now=66.0)


# ----- after a restart: where waiting work had overflowed, read back from its log -----------

def test_the_queues_a_wait_overflowed_to_are_read_back_from_its_log() -> None:
    log = (Log(queue="billing").queued(0)
           .overflowed(60, "general")
           .offered(61, "alice").queued(81, "requeue-after-missed-offer"))  # a missed offer keeps the wait
    assert overflowed_to(log.entries) == ("general",)
    assert also_after(QUEUES["billing"], QUEUES, ("general",)) == {"general": {"english": 1}}
    # The sweep then finds the rule applied: no second move, so no second log entry.
    restored = item(also=also_after(QUEUES["billing"], QUEUES, overflowed_to(log.entries)),
                    skills={"billing": 4, "english": 3})
    assert due_moves([restored], queues=QUEUES, fallback=lambda q: 20, now=90) == []


def test_a_transfer_or_another_queue_starts_a_wait_with_no_overflow() -> None:
    log = (Log(queue="billing").queued(0)
           .overflowed(60, "general")
           .accepted(70, "alice").queued(90, "transfer"))
    assert overflowed_to(log.entries) == ()
    log = (Log(queue="billing").queued(0)
           .overflowed(60, "general")
           .queued(70, "requeue", queue="general"))
    assert overflowed_to(log.entries) == ()
    assert overflowed_to(Log().queued(0).entries) == ()
    # A queue its rules no longer name (an admin removed the rule) is not offered it again.
    assert also_after(QUEUES["general"], QUEUES, ("billing",)) == {}
