"""One contract, two stores: every test runs on the memory store and on Redis."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from cti.domain import AgentState, Channel
from cti.errors import Conflict, InvalidInput, NotFound
from cti.routing import Assignment, Offer, RoutingReason, WaitingItem
from tests.router.builders import NOW, item
from tests.router.conftest import StatsStore, StoreFactory

V, C, E = Channel.VOICE, Channel.CHAT, Channel.EMAIL
REASON = RoutingReason(rule="best-skill", urgency=0.75, skill_match={"billing": 7}, preferred=False,
                       waited=45.0)
TIMEOUT = 20.0


async def ready(store: StatsStore, agent_id: str = "a1", *, capacity: Mapping[Channel, int] | None = None,
                skills: Mapping[str, int] | None = None, now: float = NOW - 500) -> None:
    await store.register_agent(agent_id, skills=skills or {"billing": 7},
                               capacity=capacity or {V: 1, C: 2, E: 5}, now=now)
    await store.set_agent_state(agent_id, AgentState.AVAILABLE, reason=None, now=now)


async def offer(store: StatsStore, iid: str = "i1", agent_id: str = "a1", *,
                now: float = NOW) -> Offer | None:
    return await store.try_offer(Assignment(interaction_id=iid, agent_id=agent_id, reason=REASON),
                                 now=now, timeout=TIMEOUT)


async def load(store: StatsStore, agent_id: str = "a1") -> Mapping[Channel, int]:
    snap = await store.agent(agent_id)
    assert snap is not None
    return snap.load


async def waiting_ids(store: StatsStore) -> list[str]:
    return [w.interaction_id for w in (await store.snapshot()).waiting]


# ----- agents -------------------------------------------------------------------------------


async def test_a_new_agent_is_offline_and_idle_since_registration(store: StatsStore) -> None:
    await store.register_agent("a1", skills={"billing": 3}, capacity={C: 2, E: 4}, now=NOW)
    snap = await store.agent("a1")
    assert snap is not None
    assert (snap.state, snap.idle_since, snap.reason) == (AgentState.OFFLINE, NOW, None)
    assert (dict(snap.skills), dict(snap.capacity), dict(snap.load)) == ({"billing": 3}, {C: 2, E: 4},
                                                                        {C: 0, E: 0})
    assert await store.agent("nobody") is None


async def test_registering_again_updates_skills_and_keeps_state_and_load(store: StatsStore) -> None:
    await ready(store, now=NOW - 50)
    await store.enqueue(item("i1", C))
    assert await offer(store) is not None
    await store.register_agent("a1", skills={"sales": 2}, capacity={C: 4}, now=NOW)
    snap = await store.agent("a1")
    assert snap is not None
    assert (snap.state, snap.idle_since) == (AgentState.AVAILABLE, NOW - 50)
    assert (dict(snap.skills), dict(snap.capacity), dict(snap.load)) == ({"sales": 2}, {C: 4}, {C: 1})


async def test_set_state(store: StatsStore) -> None:
    with pytest.raises(NotFound) as caught:
        await store.set_agent_state("nobody", AgentState.AVAILABLE, reason=None, now=NOW)
    assert caught.value.error_id == "agent-not-found"
    await store.register_agent("a1", skills={}, capacity={C: 1}, now=NOW - 100)
    away = await store.set_agent_state("a1", AgentState.AWAY, reason="lunch", now=NOW - 50)
    assert (away.state, away.reason, away.idle_since) == (AgentState.AWAY, "lunch", NOW - 100)
    back = await store.set_agent_state("a1", AgentState.AVAILABLE, reason=None, now=NOW)
    assert (back.state, back.reason, back.idle_since) == (AgentState.AVAILABLE, None, NOW)
    # Already available: saying so again does not reset the idle clock.
    again = await store.set_agent_state("a1", AgentState.AVAILABLE, reason=None, now=NOW + 10)
    assert again.idle_since == NOW
    assert await store.agent("a1") == again


async def test_becoming_available_with_work_in_progress_keeps_idle_since(store: StatsStore) -> None:
    await ready(store, now=NOW - 100)
    await store.enqueue(item("i1", C))
    assert await offer(store) is not None
    await store.set_agent_state("a1", AgentState.BUSY, reason="meeting", now=NOW)
    back = await store.set_agent_state("a1", AgentState.AVAILABLE, reason=None, now=NOW + 5)
    assert back.idle_since == NOW - 100


# ----- the queue ----------------------------------------------------------------------------


async def test_enqueue_snapshot_and_replace(store: StatsStore) -> None:
    precise = NOW + 0.123456789  # survives the trip through Lua exactly
    first = WaitingItem(interaction_id="i1", channel=E, queue="billing", customer_id="cust-1",
                        enqueued_at=precise, service_target=14400.0, priority=1.5,
                        skills={"billing": 3}, target_agent="a9", excluded_agents=frozenset({"a7"}))
    await store.enqueue(first)
    await store.enqueue(item("i2", C, waited=5))
    snap = await store.snapshot()
    assert list(snap.waiting) == [item("i2", C, waited=5), first]  # oldest first
    replaced = item("i1", V, waited=1)
    await store.enqueue(replaced)
    assert sorted(await waiting_ids(store)) == ["i1", "i2"]
    assert next(w for w in (await store.snapshot()).waiting if w.interaction_id == "i1") == replaced


@pytest.mark.parametrize("bad", [{"service_target": 0.0}, {"service_target": -1.0}, {"priority": -1.0},
                                 {"service_target": float("nan")}])
async def test_enqueue_refuses_what_cannot_be_ranked(store: StatsStore, bad: dict[str, float]) -> None:
    base = item("i1")
    wrong = WaitingItem(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **bad})
    with pytest.raises(InvalidInput):
        await store.enqueue(wrong)
    assert await waiting_ids(store) == []


async def test_an_offered_item_cannot_be_enqueued_again(store: StatsStore) -> None:
    await ready(store)
    await store.enqueue(item("i1"))
    assert await offer(store) is not None
    with pytest.raises(Conflict) as caught:
        await store.enqueue(item("i1"))
    assert caught.value.error_id == "interaction-offered"
    assert await waiting_ids(store) == []
    assert await store.offer_for("i1") is not None


async def test_remove_waiting_and_unknown(store: StatsStore) -> None:
    await store.enqueue(item("i1"))
    assert await store.remove("i1") == item("i1")
    assert await store.remove("i1") is None
    assert await waiting_ids(store) == []


async def test_remove_while_offered_withdraws_the_offer_and_frees_the_slot(store: StatsStore) -> None:
    await ready(store)
    await store.enqueue(item("i1", C))
    assert await offer(store) is not None
    assert await load(store) == {V: 0, C: 1, E: 0}
    assert await store.remove("i1") == item("i1", C)
    assert await store.offer_for("i1") is None
    assert await load(store) == {V: 0, C: 0, E: 0}
    assert await waiting_ids(store) == []
    with pytest.raises(NotFound):
        await store.accept("i1", "a1", now=NOW)


# ----- offers -------------------------------------------------------------------------------


async def test_try_offer_moves_the_item_out_of_the_queue(store: StatsStore) -> None:
    await ready(store)
    await store.enqueue(item("i1", C))
    made = await offer(store, now=NOW + 1)
    assert made is not None
    assert (made.interaction_id, made.agent_id, made.channel) == ("i1", "a1", C)
    assert (made.offered_at, made.expires_at, made.reason) == (NOW + 1, NOW + 1 + TIMEOUT, REASON)
    assert await store.offer_for("i1") == made
    assert await waiting_ids(store) == []
    assert await load(store) == {V: 0, C: 1, E: 0}


async def test_an_offer_is_exclusive(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    await store.enqueue(item("i1", C))
    assert await offer(store, "i1", "a1") is not None
    assert await offer(store, "i1", "a2") is None
    assert await offer(store, "i1", "a1") is None
    assert await load(store, "a2") == {V: 0, C: 0, E: 0}
    assert await load(store, "a1") == {V: 0, C: 1, E: 0}


async def test_the_last_free_slot_goes_once(store: StatsStore) -> None:
    await ready(store, capacity={C: 1})
    await store.enqueue(item("i1", C))
    await store.enqueue(item("i2", C))
    assert await offer(store, "i1") is not None
    assert await offer(store, "i2") is None
    assert await waiting_ids(store) == ["i2"]


@pytest.mark.parametrize("case", ["away", "missing-skill", "skill-too-low", "no-capacity", "voice-after-chat",
                                  "chat-during-voice", "excluded", "not-target", "unknown-agent",
                                  "unknown-item"])
async def test_try_offer_refuses_what_the_agent_cannot_take(store: StatsStore, case: str) -> None:
    await ready(store, capacity={V: 1, C: 2})
    wanted = item("i1", C)
    if case == "away":
        await store.set_agent_state("a1", AgentState.AWAY, reason="lunch", now=NOW)
    elif case == "missing-skill":
        wanted = item("i1", C, skills={"spanish": 1})
    elif case == "skill-too-low":
        wanted = item("i1", C, skills={"billing": 8})
    elif case == "no-capacity":
        wanted = item("i1", E)
    elif case == "voice-after-chat":
        await store.enqueue(item("busy", C))
        assert await offer(store, "busy") is not None
        wanted = item("i1", V)
    elif case == "chat-during-voice":
        await store.enqueue(item("call", V))
        assert await offer(store, "call") is not None
    elif case == "excluded":
        wanted = item("i1", C, excluded={"a1"})
    elif case == "not-target":
        wanted = item("i1", C, target_agent="a2")
    await store.enqueue(wanted)
    before = await load(store)
    if case == "unknown-agent":
        assert await offer(store, "i1", "nobody") is None
    elif case == "unknown-item":
        assert await offer(store, "nope") is None
    else:
        assert await offer(store, "i1") is None
    assert await load(store) == before
    assert "i1" in await waiting_ids(store)


async def test_the_working_agent_travels_with_the_item(store: StatsStore) -> None:
    from dataclasses import replace
    original = replace(item("i1", C), working_agent="a7")
    await store.enqueue(original)
    assert (await store.snapshot()).waiting == [original]
    await ready(store, "a1")
    assert await offer(store) is not None
    back = await store.reject("i1", "a1", now=NOW + 1)
    assert back.working_agent == "a7"


async def test_target_agent_and_exactly_enough_skill_are_accepted(store: StatsStore) -> None:
    await ready(store, skills={"billing": 7})
    await store.enqueue(item("i1", C, target_agent="a1", skills={"billing": 7}))
    assert await offer(store) is not None


async def test_accept(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    await store.enqueue(item("i1", C))
    made = await offer(store)
    with pytest.raises(Conflict) as caught:
        await store.accept("i1", "a2", now=NOW + 1)
    assert caught.value.error_id == "offer-not-yours"
    with pytest.raises(NotFound) as missing:
        await store.accept("nope", "a1", now=NOW + 1)
    assert missing.value.error_id == "offer-not-found"
    assert await store.accept("i1", "a1", now=NOW + 1) == made
    assert await store.offer_for("i1") is None
    assert await load(store) == {V: 0, C: 1, E: 0}  # the slot stays: the work is active
    with pytest.raises(NotFound):
        await store.accept("i1", "a1", now=NOW + 2)
    assert await waiting_ids(store) == []


async def test_reject_requeues_with_the_original_wait_and_excludes_the_agent(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    original = item("i1", C, waited=30, excluded={"a0"})
    await store.enqueue(original)
    assert await offer(store) is not None
    with pytest.raises(Conflict) as caught:
        await store.reject("i1", "a2", now=NOW + 5)
    assert caught.value.error_id == "offer-not-yours"
    with pytest.raises(NotFound) as missing:
        await store.reject("nope", "a1", now=NOW + 5)
    assert missing.value.error_id == "offer-not-found"
    back = await store.reject("i1", "a1", now=NOW + 5)
    assert back.enqueued_at == original.enqueued_at
    assert back.excluded_agents == {"a0", "a1"}
    assert (await store.snapshot()).waiting == [back]
    assert await store.offer_for("i1") is None
    assert await load(store) == {V: 0, C: 0, E: 0}
    assert await offer(store, "i1", "a1") is None  # excluded now
    assert await offer(store, "i1", "a2") is not None


async def test_a_transfer_its_target_declines_goes_to_the_whole_queue(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    await store.enqueue(item("i1", C, target_agent="a1"))
    assert await offer(store, "i1", "a2") is None  # only the target while it is addressed
    assert await offer(store, "i1", "a1") is not None
    back = await store.reject("i1", "a1", now=NOW + 5)
    assert (back.target_agent, back.excluded_agents) == (None, {"a1"})
    assert await offer(store, "i1", "a2") is not None


async def test_a_transfer_whose_offer_times_out_goes_to_the_whole_queue(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    await store.enqueue(item("i1", C, target_agent="a1"))
    assert await offer(store, "i1", "a1", now=NOW) is not None
    [back] = await store.expire_offers(NOW + TIMEOUT)
    assert back.target_agent is None
    assert await offer(store, "i1", "a2", now=NOW + TIMEOUT) is not None


async def test_hold_restores_work_a_restart_forgot(store: StatsStore) -> None:
    await ready(store, "a1", capacity={C: 1})
    await ready(store, "a2")
    assert await store.hold("i1", "a1", C) is True
    assert await store.hold("i1", "a1", C) is False  # a second node recovering: no double count
    assert await load(store, "a1") == {C: 1}
    await store.enqueue(item("i2", C))
    assert await offer(store, "i2", "a1") is None  # the held chat fills a1's only chat slot
    with pytest.raises(Conflict) as other:
        await store.hold("i1", "a2", C)
    assert other.value.error_id == "work-not-yours"
    with pytest.raises(Conflict) as routing:
        await store.hold("i2", "a2", C)
    assert routing.value.error_id == "interaction-routing"
    with pytest.raises(NotFound):
        await store.hold("i3", "ghost", C)
    await store.release("i1", "a1", now=NOW, customer_id=None, wrap_up=0)
    assert await load(store, "a1") == {C: 0}


async def test_expired_offers_are_requeued_like_a_reject(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    await store.enqueue(item("i1", C, waited=30))
    await store.enqueue(item("i2", C, waited=10))
    assert await offer(store, "i1", now=NOW) is not None
    assert await offer(store, "i2", "a2", now=NOW) is not None
    await store.accept("i2", "a2", now=NOW + 1)  # accepted offers never expire
    assert await store.expire_offers(NOW + TIMEOUT - 0.001) == []
    expired = await store.expire_offers(NOW + TIMEOUT)
    assert [(w.interaction_id, w.enqueued_at, w.excluded_agents) for w in expired] == [
        ("i1", NOW - 30, frozenset({"a1"}))]
    assert (await store.snapshot()).waiting == expired
    assert await store.offer_for("i1") is None
    assert await load(store, "a1") == {V: 0, C: 0, E: 0}
    assert await load(store, "a2") == {V: 0, C: 1, E: 0}
    assert await store.expire_offers(NOW + 100) == []
    with pytest.raises(NotFound):
        await store.accept("i1", "a1", now=NOW + 100)


async def test_a_reoffered_item_expires_on_its_new_deadline(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    await store.enqueue(item("i1", C))
    assert await offer(store, "i1", "a1", now=NOW) is not None
    await store.reject("i1", "a1", now=NOW + 1)
    assert await offer(store, "i1", "a2", now=NOW + 10) is not None
    assert await store.expire_offers(NOW + TIMEOUT + 1) == []  # the first deadline is moot
    assert [w.interaction_id for w in await store.expire_offers(NOW + 10 + TIMEOUT)] == ["i1"]


# ----- finished work ------------------------------------------------------------------------


async def accepted(store: StatsStore, iid: str, agent_id: str = "a1", channel: Channel = C) -> None:
    await store.enqueue(item(iid, channel, customer=f"cust-{iid}"))
    assert await offer(store, iid, agent_id) is not None
    await store.accept(iid, agent_id, now=NOW)


async def test_release_frees_the_slot_and_remembers_the_agent(store: StatsStore) -> None:
    await ready(store, now=NOW - 500)
    await accepted(store, "i1")
    await store.release("i1", "a1", now=NOW + 60, customer_id="cust-1", wrap_up=0)
    snap = await store.agent("a1")
    assert snap is not None
    assert (dict(snap.load), snap.idle_since, snap.state) == (
        {V: 0, C: 0, E: 0}, NOW + 60, AgentState.AVAILABLE)
    # last_served is reported for the customers who have something waiting.
    assert (await store.snapshot()).last_served == {}
    await store.enqueue(item("i2", C, customer="cust-1"))
    last = (await store.snapshot()).last_served
    assert {k: (v.agent_id, v.at) for k, v in last.items()} == {"cust-1": ("a1", NOW + 60)}


async def test_idle_since_moves_only_when_the_last_work_ends(store: StatsStore) -> None:
    await ready(store, now=NOW - 500)
    await accepted(store, "i1")
    await accepted(store, "i2")
    await store.release("i1", "a1", now=NOW + 10, customer_id=None, wrap_up=0)
    snap = await store.agent("a1")
    assert snap is not None and snap.idle_since == NOW - 500
    await store.release("i2", "a1", now=NOW + 20, customer_id=None, wrap_up=0)
    snap = await store.agent("a1")
    assert snap is not None and snap.idle_since == NOW + 20


async def test_release_checks_the_owner_and_tolerates_unknown_work(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    await accepted(store, "i1")
    with pytest.raises(Conflict) as caught:
        await store.release("i1", "a2", now=NOW, customer_id="cust-1", wrap_up=0)
    assert caught.value.error_id == "work-not-yours"
    assert await load(store, "a1") == {V: 0, C: 1, E: 0}
    # Unknown work (e.g. after a restart of a memory store): nothing to free, no error.
    await store.release("ghost", "a2", now=NOW, customer_id="cust-9", wrap_up=0)
    assert await load(store, "a2") == {V: 0, C: 0, E: 0}
    await store.enqueue(item("i9", customer="cust-9"))
    assert (await store.snapshot()).last_served["cust-9"].agent_id == "a2"


async def test_release_of_an_offer_not_yet_accepted_frees_it(store: StatsStore) -> None:
    await ready(store)
    await store.enqueue(item("i1", C))
    assert await offer(store) is not None
    await store.release("i1", "a1", now=NOW, customer_id=None, wrap_up=0)
    assert await store.offer_for("i1") is None
    assert await load(store) == {V: 0, C: 0, E: 0}


async def test_wrap_up_holds_the_slot_until_tick(store: StatsStore) -> None:
    await ready(store)
    await accepted(store, "i1", channel=V)
    await store.release("i1", "a1", now=NOW, customer_id="cust-1", wrap_up=30)
    snap = await store.agent("a1")
    assert snap is not None
    assert (snap.state, dict(snap.load)) == (AgentState.WRAP_UP, {V: 1, C: 0, E: 0})
    await store.enqueue(item("i2", C))
    assert await offer(store, "i2") is None  # not available while wrapping up
    assert await store.tick(NOW + 29.9) == []
    assert await store.tick(NOW + 30) == ["a1"]
    snap = await store.agent("a1")
    assert snap is not None
    assert (snap.state, dict(snap.load), snap.idle_since) == (AgentState.AVAILABLE, {V: 0, C: 0, E: 0},
                                                              NOW + 30)
    assert await store.tick(NOW + 60) == []
    assert await offer(store, "i2", now=NOW + 31) is not None


async def test_wrap_up_beside_other_work_keeps_the_agent_available(store: StatsStore) -> None:
    await ready(store, now=NOW - 500)
    await accepted(store, "i1")
    await accepted(store, "i2")
    await store.release("i1", "a1", now=NOW, customer_id=None, wrap_up=30)
    snap = await store.agent("a1")
    assert snap is not None
    assert (snap.state, dict(snap.load)) == (AgentState.AVAILABLE, {V: 0, C: 2, E: 0})
    assert await store.tick(NOW + 30) == []  # no wrap-up *state* ended
    snap = await store.agent("a1")
    assert snap is not None
    assert (dict(snap.load), snap.idle_since) == ({V: 0, C: 1, E: 0}, NOW - 500)


async def test_wrap_up_state_lasts_until_the_last_held_slot_ends(store: StatsStore) -> None:
    await ready(store)
    await accepted(store, "i1")
    await accepted(store, "i2")
    await store.release("i1", "a1", now=NOW, customer_id=None, wrap_up=60)
    await store.release("i2", "a1", now=NOW, customer_id=None, wrap_up=10)
    snap = await store.agent("a1")
    assert snap is not None and snap.state is AgentState.WRAP_UP
    assert await store.tick(NOW + 10) == []
    snap = await store.agent("a1")
    assert snap is not None and (snap.state, snap.load[C]) == (AgentState.WRAP_UP, 1)
    assert await store.tick(NOW + 60) == ["a1"]


async def test_an_agent_who_left_wrap_up_by_hand_is_not_reported(store: StatsStore) -> None:
    await ready(store)
    await accepted(store, "i1")
    await store.release("i1", "a1", now=NOW, customer_id=None, wrap_up=30)
    await store.set_agent_state("a1", AgentState.AWAY, reason="break", now=NOW + 1)
    assert await store.tick(NOW + 30) == []
    snap = await store.agent("a1")
    assert snap is not None
    assert (snap.state, snap.load[C], snap.idle_since) == (AgentState.AWAY, 0, NOW + 30)


async def test_enqueue_of_held_work_frees_its_slot(store: StatsStore) -> None:
    await ready(store)
    await accepted(store, "i1")
    await store.enqueue(item("i1", C))  # e.g. recovered after a crash between accept and save
    assert await load(store) == {V: 0, C: 0, E: 0}
    assert await waiting_ids(store) == ["i1"]
    await store.release("i1", "a1", now=NOW, customer_id=None, wrap_up=0)  # stale: no effect
    assert await load(store) == {V: 0, C: 0, E: 0}


async def test_old_last_served_entries_are_forgotten(make_store: StoreFactory) -> None:
    store = await make_store(last_served_ttl=100.0)
    await ready(store)
    for n, at in enumerate((NOW, NOW + 50, NOW + 150)):
        await accepted(store, f"i{n}")
        await store.release(f"i{n}", "a1", now=at, customer_id=f"cust-{n}", wrap_up=0)
    for n in range(3):
        await store.enqueue(item(f"w{n}", E, customer=f"cust-{n}"))
    assert sorted((await store.snapshot()).last_served) == ["cust-1", "cust-2"]


# ----- stats --------------------------------------------------------------------------------


async def test_stats(store: StatsStore) -> None:
    await ready(store, "a1")
    await ready(store, "a2")
    await store.register_agent("a3", skills={}, capacity={C: 1}, now=NOW)
    await store.enqueue(item("i1", C, waited=30, queue="support"))
    await store.enqueue(item("i2", E, waited=300, queue="support"))
    await store.enqueue(item("i3", C, waited=10, queue="sales"))
    await store.enqueue(item("i4", C, waited=5, queue="sales"))
    await store.enqueue(item("i5", C, waited=1, queue="sales"))
    assert await offer(store, "i4", "a1") is not None
    assert await offer(store, "i5", "a2") is not None
    await store.accept("i5", "a2", now=NOW)
    await store.release("i5", "a2", now=NOW, customer_id=None, wrap_up=10)
    stats = await store.stats(NOW)
    assert (stats.at, stats.waiting, stats.offered, stats.active, stats.wrapping) == (NOW, 3, 1, 0, 1)
    assert stats.waiting_by_queue == {"support": {C: 1, E: 1}, "sales": {C: 1}}
    assert stats.oldest_wait == {"support": 300.0, "sales": 10.0}
    assert stats.agents_by_state == {AgentState.AVAILABLE: 1, AgentState.WRAP_UP: 1, AgentState.OFFLINE: 1,
                                     AgentState.AWAY: 0, AgentState.BUSY: 0}


async def test_overflowed_work_goes_to_an_agent_of_either_queue(store: StatsStore) -> None:
    await ready(store, "own", skills={"french": 5})
    await ready(store, "other", skills={"english": 2})
    await ready(store, "neither", skills={"german": 9})
    await store.enqueue(item("i1", C, skills={"french": 5}, also={"support": {"english": 1}}))
    await store.enqueue(item("i2", C, skills={"french": 5}, also={"support": {"english": 1}}))
    await store.enqueue(item("i3", C, skills={"french": 5}))
    (kept,) = [w for w in (await store.snapshot()).waiting if w.interaction_id == "i1"]
    assert {q: dict(s) for q, s in kept.also.items()} == {"support": {"english": 1}}  # stored as given
    assert await offer(store, "i1", "neither") is None
    assert await offer(store, "i3", "other") is None  # not overflowed: french only
    assert await offer(store, "i1", "other") is not None  # the other queue's agent
    assert await offer(store, "i2", "own") is not None  # its own queue's agent still
    # A missed offer puts it back still offered to both queues (the overflow is not applied again).
    await store.expire_offers(NOW + TIMEOUT + 1)
    back = {w.interaction_id: w for w in (await store.snapshot()).waiting}
    assert {q: dict(s) for q, s in back["i1"].also.items()} == {"support": {"english": 1}}
