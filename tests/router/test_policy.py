"""The routing policy on plain data: no I/O, no clock."""

from __future__ import annotations

import pytest

from cti.domain import AgentState, Channel
from cti.errors import NotFound
from cti.routing import Assignment, LastServed, RoutingSettings, RoutingSnapshot
from router.policy import decide, explain, urgency
from tests.router.builders import NOW, agent, item, snap

SETTINGS = RoutingSettings(preferred_window=3600.0)
V, C, E = Channel.VOICE, Channel.CHAT, Channel.EMAIL


def run(snapshot: RoutingSnapshot, *, now: float = NOW) -> list[Assignment]:
    return decide(snapshot, now=now, settings=SETTINGS)


def pairs(assignments: list[Assignment]) -> list[tuple[str, str]]:
    return [(a.interaction_id, a.agent_id) for a in assignments]


# ----- urgency ----------------------------------------------------------------------------


def test_urgency_is_wait_over_target_times_priority() -> None:
    assert urgency(item(waited=30, target=60), NOW) == pytest.approx(0.5)
    assert urgency(item(waited=30, target=60, priority=3), NOW) == pytest.approx(1.5)
    # Enqueued "in the future" (clock skew between nodes) is not negative urgency.
    assert urgency(item(waited=-10, target=60), NOW) == 0.0


def test_a_chat_near_its_target_beats_an_email_waiting_hours() -> None:
    # E-mail waited 2 h of a 4 h target (0.5); chat waited 50 s of 60 s (0.83): by raw wait
    # the e-mail would go first, by urgency the chat does.
    email = item("email", E, waited=2 * 3600, target=4 * 3600)
    chat = item("chat", C, waited=50, target=60)
    result = run(snap([email, chat], [agent("a1", capacity={C: 1, E: 1})]))
    assert [a.interaction_id for a in result] == ["chat", "email"]
    assert result[0].reason.urgency == pytest.approx(50 / 60)
    assert result[1].reason.urgency == pytest.approx(0.5)


def test_the_single_free_agent_goes_to_the_most_urgent_channel() -> None:
    # Voice is exclusive, so the one agent can take the call or the chat, not both.
    call = item("call", V, waited=10, target=20)  # 0.5
    chat = item("chat", C, waited=50, target=60)  # 0.83
    assert pairs(run(snap([call, chat], [agent("a1")]))) == [("chat", "a1")]
    late_call = item("call", V, waited=19, target=20)  # 0.95
    assert pairs(run(snap([late_call, chat], [agent("a1")]))) == [("call", "a1")]


def test_an_email_past_its_target_beats_a_fresh_chat() -> None:
    email = item("email", E, waited=5 * 3600, target=4 * 3600)
    chat = item("chat", C, waited=5, target=60)
    result = run(snap([chat, email], [agent("a1", capacity={C: 1, E: 1, V: 0})]))
    assert [a.interaction_id for a in result] == ["email", "chat"]


def test_priority_multiplies_urgency() -> None:
    normal = item("normal", C, waited=40)
    vip = item("vip", C, waited=30, priority=2)
    assert pairs(run(snap([normal, vip], [agent("a1", capacity={C: 1})]))) == [("vip", "a1")]


def test_equal_urgency_goes_to_the_older_then_the_lower_id() -> None:
    # Same urgency: b waited twice as long against twice the target.
    a = item("a", C, waited=30, target=60)
    b = item("b", E, waited=60, target=120)
    one_slot = [agent("a1", capacity={C: 1, E: 1})]
    assert [x.interaction_id for x in run(snap([a, b], one_slot))] == ["b", "a"]
    x1 = item("x1", C, waited=30)
    x2 = item("x2", C, waited=30)
    assert pairs(run(snap([x2, x1], [agent("a1", capacity={C: 1})]))) == [("x1", "a1")]


def test_a_less_urgent_item_is_served_when_nobody_can_take_the_first() -> None:
    urgent = item("urgent", C, waited=59, skills={"french": 1})
    later = item("later", C, waited=1)
    assert pairs(run(snap([urgent, later], [agent("a1")]))) == [("later", "a1")]


# ----- eligibility --------------------------------------------------------------------------


@pytest.mark.parametrize("state", [AgentState.BUSY, AgentState.AWAY, AgentState.OFFLINE, AgentState.WRAP_UP])
def test_only_available_agents_get_work(state: AgentState) -> None:
    assert run(snap([item()], [agent("a1", state=state)])) == []
    assert pairs(run(snap([item()], [agent("a1", state=state), agent("a2")]))) == [("i1", "a2")]


def test_required_skills_and_levels() -> None:
    wanted = item(skills={"billing": 5, "spanish": 2})
    assert run(snap([wanted], [agent("a1", skills={"billing": 9})])) == []  # missing spanish
    assert run(snap([wanted], [agent("a1", skills={"billing": 4, "spanish": 9})])) == []  # too low
    exact = agent("a1", skills={"billing": 5, "spanish": 2})
    assert pairs(run(snap([wanted], [exact]))) == [("i1", "a1")]


def test_a_zero_level_requirement_still_needs_the_skill() -> None:
    assert run(snap([item(skills={"billing": 0})], [agent("a1")])) == []
    assert len(run(snap([item(skills={"billing": 0})], [agent("a1", skills={"billing": 0})]))) == 1


def test_capacity_per_channel_counts_existing_load() -> None:
    chats = [item(f"c{i}", C, waited=10 - i) for i in range(3)]
    assert pairs(run(snap(chats, [agent("a1", capacity={C: 2}, load={C: 1})]))) == [("c0", "a1")]
    assert run(snap([item("e", E)], [agent("a1", capacity={C: 2})])) == []  # no e-mail capacity


def test_one_decision_never_overfills_an_agent() -> None:
    chats = [item(f"c{i}", C, waited=10 + i) for i in range(5)]
    result = run(snap(chats, [agent("a1", capacity={C: 2}), agent("a2", capacity={C: 2})]))
    assert len(result) == 4
    counts = {aid: sum(1 for a in result if a.agent_id == aid) for aid in ("a1", "a2")}
    assert counts == {"a1": 2, "a2": 2}
    assert "c0" not in {a.interaction_id for a in result}  # the least urgent one waits


def test_voice_is_exclusive_for_an_agent_already_busy() -> None:
    assert run(snap([item("call", V)], [agent("a1", load={C: 1})])) == []
    assert run(snap([item("call", V)], [agent("a1", load={E: 1})])) == []
    assert run(snap([item("chat", C)], [agent("a1", load={V: 1}, capacity={V: 2, C: 3})])) == []


def test_voice_is_exclusive_within_one_decision() -> None:
    call = item("call", V, waited=15, target=20)
    chat = item("chat", C, waited=10, target=60)
    # The call comes first and takes the agent whole: the chat waits.
    assert pairs(run(snap([call, chat], [agent("a1")]))) == [("call", "a1")]
    # The chat comes first: the agent then cannot take the call.
    urgent_chat = item("chat", C, waited=59, target=60)
    assert pairs(run(snap([call, urgent_chat], [agent("a1")]))) == [("chat", "a1")]
    # A second agent picks up what the first cannot.
    result = run(snap([call, urgent_chat], [agent("a1"), agent("a2", idle_since=NOW - 50)]))
    assert sorted(pairs(result)) == [("call", "a2"), ("chat", "a1")]


def test_two_calls_need_two_agents_even_with_voice_capacity_two() -> None:
    calls = [item("v1", V, waited=10), item("v2", V, waited=5)]
    assert pairs(run(snap(calls, [agent("a1", capacity={V: 2})]))) == [("v1", "a1")]


def test_excluded_agents_are_skipped() -> None:
    wanted = item(excluded={"a1"})
    result = run(snap([wanted], [agent("a1", idle_since=NOW - 900), agent("a2")]))
    assert pairs(result) == [("i1", "a2")]
    assert run(snap([wanted], [agent("a1")])) == []


# ----- choosing among eligible agents -------------------------------------------------------


def test_target_agent_only() -> None:
    wanted = item(target_agent="a2")
    agents = [agent("a1", idle_since=NOW - 900, skills={"x": 9}), agent("a2")]
    result = run(snap([wanted], agents))
    assert pairs(result) == [("i1", "a2")]
    assert result[0].reason.rule == "target-agent"
    # The target is full: nobody else may take it.
    assert run(snap([wanted], [agents[0], agent("a2", capacity={C: 1}, load={C: 1})])) == []


def test_the_agent_working_the_customers_other_interaction_is_preferred_first() -> None:
    """The customer calls about the e-mail Bob has open: Bob, before the last agent and the best."""
    from dataclasses import replace
    wanted = replace(item(customer="cust-9", skills={"billing": 1}), working_agent="bob")
    agents = [agent("best", skills={"billing": 9}, idle_since=NOW - 5000),
              agent("last", skills={"billing": 1}), agent("bob", skills={"billing": 1})]
    last = {"cust-9": LastServed(agent_id="last", at=NOW - 30)}
    result = run(snap([wanted], agents, last))
    assert pairs(result) == [("i1", "bob")]
    assert (result[0].reason.rule, result[0].reason.preferred) == ("preferred-agent", True)
    # Bob cannot take it (full): the usual order decides, and nobody waits for him.
    busy = [agents[0], agents[1], agent("bob", skills={"billing": 1}, capacity={C: 1}, load={C: 1})]
    assert pairs(run(snap([wanted], busy, last))) == [("i1", "last")]


def test_preferred_agent_inside_the_window_beats_skill_and_idle_time() -> None:
    wanted = item(customer="cust-9", skills={"billing": 1})
    agents = [agent("best", skills={"billing": 9}, idle_since=NOW - 5000),
              agent("last", skills={"billing": 1}, idle_since=NOW - 1)]
    last = {"cust-9": LastServed(agent_id="last", at=NOW - 3000)}
    result = run(snap([wanted], agents, last))
    assert pairs(result) == [("i1", "last")]
    assert (result[0].reason.rule, result[0].reason.preferred) == ("preferred-agent", True)


def test_preferred_agent_outside_the_window_is_not_preferred() -> None:
    wanted = item(customer="cust-9", skills={"billing": 1})
    agents = [agent("best", skills={"billing": 9}), agent("last", skills={"billing": 1})]
    last = {"cust-9": LastServed(agent_id="last", at=NOW - 3601)}
    result = run(snap([wanted], agents, last))
    assert pairs(result) == [("i1", "best")]
    assert (result[0].reason.rule, result[0].reason.preferred) == ("best-skill", False)


def test_preferred_agent_who_cannot_take_it_falls_back() -> None:
    wanted = item(customer="cust-9")
    agents = [agent("other"), agent("last", capacity={C: 1}, load={C: 1})]
    last = {"cust-9": LastServed(agent_id="last", at=NOW - 10)}
    result = run(snap([wanted], agents, last))
    assert pairs(result) == [("i1", "other")]
    assert result[0].reason.rule == "longest-idle"


def test_best_summed_skill_level_beats_longer_idle() -> None:
    wanted = item(skills={"billing": 1, "spanish": 1})
    agents = [agent("idle", skills={"billing": 5, "spanish": 5}, idle_since=NOW - 9000),
              agent("skilled", skills={"billing": 9, "spanish": 3}, idle_since=NOW - 1)]
    result = run(snap([wanted], agents))
    assert pairs(result) == [("i1", "skilled")]
    assert result[0].reason.rule == "best-skill"
    assert result[0].reason.skill_match == {"billing": 9, "spanish": 3}


def test_equal_skill_goes_to_the_longest_idle_then_the_lower_id() -> None:
    wanted = item(skills={"billing": 1})
    agents = [agent("b", skills={"billing": 5}, idle_since=NOW - 10),
              agent("c", skills={"billing": 5}, idle_since=NOW - 500)]
    result = run(snap([wanted], agents))
    assert pairs(result) == [("i1", "c")]
    assert result[0].reason.rule == "longest-idle"
    tied = [agent(x, skills={"billing": 5}, idle_since=NOW - 10) for x in ("b", "a")]
    assert pairs(run(snap([wanted], tied))) == [("i1", "a")]


def test_a_single_candidate_is_longest_idle_not_best_skill() -> None:
    result = run(snap([item(skills={"billing": 1})],
                      [agent("a1", skills={"billing": 9}), agent("a2", state=AgentState.AWAY)]))
    assert result[0].reason.rule == "longest-idle"


def test_reason_carries_wait_urgency_and_skill_match() -> None:
    wanted = item(waited=45, target=60, priority=2, skills={"billing": 3})
    (assignment,) = run(snap([wanted], [agent("a1", skills={"billing": 7, "other": 2})]))
    reason = assignment.reason
    assert reason.waited == pytest.approx(45)
    assert reason.urgency == pytest.approx(1.5)
    assert reason.skill_match == {"billing": 7}
    assert reason.preferred is False


def test_decide_leaves_the_snapshot_untouched() -> None:
    a1 = agent("a1", load={C: 1})
    snapshot = snap([item("x"), item("y")], [a1])
    assert len(run(snapshot)) == 2
    assert a1.load == {C: 1}
    assert len(run(snapshot)) == 2  # same input, same answer


# ----- explain ------------------------------------------------------------------------------


def test_explain_gives_every_agent_a_reason() -> None:
    wanted = item("i1", C, waited=30, skills={"billing": 5}, excluded={"rejected"}, customer="cust-1")
    agents = [
        agent("away", state=AgentState.AWAY, skills={"billing": 9}),
        agent("noskill", skills={"sales": 9}),
        agent("low", skills={"billing": 4}),
        agent("full", skills={"billing": 9}, capacity={C: 1}, load={C: 1}),
        agent("oncall", skills={"billing": 9}, load={V: 1}),
        agent("rejected", skills={"billing": 9}),
        agent("ok", skills={"billing": 6}),
        agent("pref", skills={"billing": 5}),
    ]
    last = {"cust-1": LastServed(agent_id="pref", at=NOW - 60)}
    result = explain(snap([wanted], agents, last), "i1", now=NOW, settings=SETTINGS)
    why = {c.agent_id: c.why_not for c in result.candidates}
    assert why == {
        "away": "not-available:away", "noskill": "missing-skill:billing", "low": "skill-too-low:billing",
        "full": "no-capacity:chat", "oncall": "voice-exclusive", "rejected": "excluded",
        "ok": None, "pref": None,
    }
    # Eligible first in the policy's order (the preferred agent leads), then the rest by id.
    assert [c.agent_id for c in result.candidates][:2] == ["pref", "ok"]
    assert [c.agent_id for c in result.candidates][2:] == sorted(why.keys() - {"pref", "ok"})
    assert result.chosen is not None
    assert (result.chosen.agent_id, result.chosen.reason.rule) == ("pref", "preferred-agent")
    assert result.rank == 1
    assert result.urgency == pytest.approx(0.5)
    by_id = {c.agent_id: c for c in result.candidates}
    assert by_id["low"].skill_match == {"billing": 4}
    assert by_id["noskill"].skill_match == {"billing": 0}
    assert by_id["pref"].preferred and not by_id["ok"].preferred


def test_explain_target_agent() -> None:
    result = explain(snap([item(target_agent="a2")], [agent("a1"), agent("a2")]), "i1",
                     now=NOW, settings=SETTINGS)
    assert {c.agent_id: c.why_not for c in result.candidates} == {"a1": "not-target-agent", "a2": None}


def test_explain_chosen_accounts_for_more_urgent_items() -> None:
    first = item("first", C, waited=50)
    second = item("second", C, waited=10)
    snapshot = snap([second, first], [agent("a1", capacity={C: 1})])
    result = explain(snapshot, "second", now=NOW, settings=SETTINGS)
    assert result.rank == 2
    assert [c.why_not for c in result.candidates] == [None]  # a1 could take it now...
    assert result.chosen is None  # ...but "first" goes before it
    top = explain(snapshot, "first", now=NOW, settings=SETTINGS)
    assert (top.rank, top.chosen) == (1, decide(snapshot, now=NOW, settings=SETTINGS)[0])


def test_explain_unknown_item() -> None:
    with pytest.raises(NotFound) as caught:
        explain(snap([item("i1")], [agent("a1")]), "nope", now=NOW, settings=SETTINGS)
    assert caught.value.error_id == "interaction-not-waiting"
