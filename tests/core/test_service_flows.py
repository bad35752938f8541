"""The interaction service, agent service and routing engine together, on a manual clock.

No HTTP here: the real context store (SQLite file), the memory routing store and the engine,
driven pass by pass, so wrap-up, the preferred agent, abandonment and recovery are checked at
exact times.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.agents import AgentService
from cti.app import build_core
from cti.clock import ManualClock, SequentialIds
from cti.config import AppConfig, parse_config
from cti.domain import (
    AgentState,
    Channel,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
)
from cti.events import DomainEvent
from cti.hub import EventHub, Subscription
from cti.routing import Offer
from cti.service import InteractionService
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore

CONFIG = {
    "routing": {"offer_timeout": 20, "preferred_window": 600},
    "teams": [{"name": "support", "supervisors": ["sam"]}],
    "queues": [
        {"name": "support", "skills": {"english": 1}, "service_targets": {"chat": 60},
         "wrap_up_seconds": 30},
        {"name": "billing", "skills": {"billing": 1}, "service_targets": {"chat": 60}},
    ],
    "chat": {"queue": "support"},
    "agents": [
        {"id": "alice", "team": "support", "skills": {"english": 9, "billing": 5},
         "capacity": {"chat": 2, "email": 2}},
        {"id": "bob", "team": "support", "skills": {"english": 3}, "capacity": {"chat": 2, "email": 2}},
        {"id": "sam", "role": "supervisor", "team": "support", "skills": {"english": 1},
         "capacity": {"chat": 1}},
    ],
}


def asserted(kind: IdentityKind, value: str) -> InboundIdentity:
    return InboundIdentity(Identity(kind, value), IdentityLevel.ASSERTED, "test")


@dataclass
class Desk:
    config: AppConfig
    clock: ManualClock
    context: SqlContextStore
    routing: MemoryRoutingStore
    hub: EventHub
    events: Subscription
    interactions: InteractionService
    agents: AgentService
    engine: RoutingEngine

    async def route(self) -> list[Offer]:
        return await self.engine.run_once()

    async def chat(self, email: str, body: str = "hello") -> Interaction:
        interaction = await self.interactions.start_inbound(
            channel=Channel.CHAT, identities=[asserted(IdentityKind.EMAIL, email)], display_name=None)
        await self.interactions.customer_message(interaction.id, body)
        return interaction

    async def available(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            await self.agents.set_state(agent_id, "available", reason=None, actor_id=agent_id)

    def drain(self) -> list[DomainEvent]:
        out = []
        while not self.events.queue.empty():
            out.append(self.events.queue.get_nowait())
        return out

    async def state(self, agent_id: str) -> AgentState:
        snap = await self.routing.agent(agent_id)
        assert snap is not None
        return snap.state


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await upgrade_async(url)
    config = parse_config(CONFIG)
    clock, ids = ManualClock(), SequentialIds()
    context = SqlContextStore(url=url, clock=clock, ids=ids)
    await context.start()
    routing = MemoryRoutingStore()
    hub = EventHub(node_id="test")
    core = build_core(config=config, context=context, routing=routing, hub=hub, clock=clock, ids=ids)
    interactions, agents, engine = core.interactions, core.agents, core.engine  # routed pass by pass
    await agents.register_all()
    desk = Desk(config=config, clock=clock, context=context, routing=routing, hub=hub,
                events=hub.subscribe(maxsize=10_000), interactions=interactions, agents=agents,
                engine=engine)
    try:
        yield desk
    finally:
        await context.aclose()


def of_type(events: list[DomainEvent], kind: str) -> list[dict[str, Any]]:
    return [e.to_dict() for e in events if e.type == kind]


async def test_wrap_up_holds_the_agent_for_the_queues_wrap_up_time(desk: Desk) -> None:
    await desk.available("bob")
    first = await desk.chat("ann@example.com")
    [offer] = await desk.route()
    await desk.interactions.accept(first.id, "bob")
    await desk.interactions.complete(first.id, "bob", disposition="resolved", note=None)
    assert await desk.state("bob") is AgentState.WRAP_UP

    second = await desk.chat("raj@example.com")
    desk.clock.advance(29)
    assert await desk.route() == []  # still wrapping up
    desk.clock.advance(1)
    [offer] = await desk.route()
    assert (offer.interaction_id, offer.agent_id) == (second.id, "bob")
    assert offer.reason.waited == pytest.approx(30)


async def test_the_customers_last_agent_is_preferred_within_the_window(desk: Desk) -> None:
    await desk.available("bob")
    first = await desk.chat("ann@example.com")
    await desk.route()
    await desk.interactions.accept(first.id, "bob")
    await desk.interactions.complete(first.id, "bob", disposition="resolved", note=None)
    desk.clock.advance(60)  # wrap-up over
    await desk.route()
    await desk.available("alice")  # better skilled, but Ann spoke to Bob a minute ago

    again = await desk.chat("ann@example.com", "me again about the same order")
    [offer] = await desk.route()
    assert (offer.interaction_id, offer.agent_id) == (again.id, "bob")
    assert offer.reason.rule == "preferred-agent" and offer.reason.preferred
    await desk.interactions.accept(again.id, "bob")
    await desk.interactions.complete(again.id, "bob", disposition="resolved", note=None)

    desk.clock.advance(700)  # past the 600 s window: the best skill wins again
    late = await desk.chat("ann@example.com", "one more thing")
    [offer] = await desk.route()
    assert (offer.interaction_id, offer.agent_id) == (late.id, "alice")
    assert not offer.reason.preferred


async def test_a_chat_about_an_open_email_goes_to_the_agent_who_has_it(desk: Desk) -> None:
    await desk.available("bob")
    mail = await desk.interactions.start_inbound(
        channel=Channel.EMAIL, identities=[asserted(IdentityKind.EMAIL, "ann@example.com")],
        display_name="Ann", queue="support")
    await desk.route()
    await desk.interactions.accept(mail.id, "bob")  # Bob is working on her e-mail
    await desk.available("alice")  # better skilled, idle longer
    chat = await desk.chat("ann@example.com", "about that e-mail")
    [offer] = await desk.route()
    assert (offer.interaction_id, offer.agent_id) == (chat.id, "bob")
    assert offer.reason.rule == "preferred-agent"


async def test_a_customer_leaving_while_waiting_or_offered_is_abandoned(desk: Desk) -> None:
    waiting = await desk.chat("ann@example.com")
    desk.clock.advance(12)
    left = await desk.interactions.customer_left(waiting.id)
    assert left.state is InteractionState.ABANDONED
    [abandoned] = of_type(desk.drain(), "interaction.abandoned")
    assert abandoned["waited"] == pytest.approx(12) and abandoned["agent_id"] is None
    assert (await desk.routing.snapshot()).waiting == []

    await desk.available("bob")
    offered = await desk.chat("raj@example.com")
    [offer] = await desk.route()
    desk.drain()
    await desk.interactions.customer_left(offered.id)
    [abandoned] = of_type(desk.drain(), "interaction.abandoned")
    assert abandoned["agent_id"] == "bob"  # so Bob's desktop drops the offer
    snap = await desk.routing.agent("bob")
    assert snap is not None and snap.load.get(Channel.CHAT, 0) == 0
    assert (await desk.context.interaction(offered.id)).state is InteractionState.ABANDONED
    # Bob's slot is free for the next customer.
    nxt = await desk.chat("lee@example.com")
    [offer] = await desk.route()
    assert (offer.interaction_id, offer.agent_id) == (nxt.id, "bob")


async def test_a_message_sent_while_the_offer_is_out_reaches_the_offered_agent(desk: Desk) -> None:
    await desk.available("bob")
    interaction = await desk.chat("ann@example.com")
    await desk.route()
    desk.drain()
    await desk.interactions.customer_message(interaction.id, "are you there?")
    [added] = of_type(desk.drain(), "message.added")
    assert added["agent_id"] == "bob" and added["message"]["body"] == "are you there?"


async def test_a_directed_transfer_the_target_rejects_goes_back_to_the_queue(desk: Desk) -> None:
    await desk.available("bob")
    interaction = await desk.chat("ann@example.com")
    await desk.route()
    await desk.interactions.accept(interaction.id, "bob")
    await desk.available("alice")
    await desk.interactions.transfer(interaction.id, "bob", to_queue=None, to_agent="alice",
                                     note="needs a refund")
    [offer] = await desk.route()
    assert (offer.agent_id, offer.reason.rule) == ("alice", "target-agent")
    await desk.interactions.reject(interaction.id, "alice")
    [offer] = await desk.route()
    assert offer.agent_id == "bob"  # not stuck waiting for Alice
    pop = await desk.interactions.screen_pop(await desk.context.interaction(interaction.id))
    assert [n["body"] for n in pop["notes"]] == ["needs a refund"]


async def test_work_open_when_the_server_stopped_is_recovered(desk: Desk) -> None:
    await desk.available("alice", "bob")
    active = await desk.chat("mia@example.com")
    [offer] = await desk.route()
    await desk.interactions.accept(active.id, offer.agent_id)
    await desk.agents.set_state("alice", "offline", reason=None, actor_id="alice")
    offered = await desk.chat("ann@example.com")
    [offer] = await desk.route()
    assert offer.agent_id == "bob"
    queued = await desk.chat("raj@example.com")
    queued_at = (await desk.context.interaction(queued.id)).queued_at
    desk.clock.advance(5)

    # A restart: the memory routing store is gone, the database is not.
    routing = MemoryRoutingStore()
    fresh = InteractionService(config=desk.config, context=desk.context, routing=routing,
                               hub=desk.hub, clock=desk.clock, ids=SequentialIds(), poke=lambda: None)
    await AgentService(config=desk.config, routing=routing, context=desk.context, hub=desk.hub,
                       clock=desk.clock, poke=lambda: None).register_all()
    open_now = await desk.context.list_interactions(open_only=True)
    assert await fresh.recover(open_now) == 2
    snap = await routing.agent("alice")  # still has Mia's chat on her load
    assert snap is not None and snap.load[Channel.CHAT] == 1
    for interaction_id in (offered.id, queued.id):
        again = await desk.context.interaction(interaction_id)
        assert again.state is InteractionState.QUEUED
    assert (await desk.context.interaction(queued.id)).queued_at == queued_at
    # Running recovery twice (a second node starting) queues nothing twice.
    assert await fresh.recover(await desk.context.list_interactions(open_only=True)) == 0


async def test_changes_arriving_together_all_stay(desk: Desk) -> None:
    await desk.available("bob")
    work = await desk.chat("ann@example.com")
    await desk.route()
    await desk.interactions.accept(work.id, "bob")
    desk.drain()

    # At a call's end its provider sends the hang-up and the recording at once; both read the
    # same snapshot, and neither may undo the other.
    await asyncio.gather(
        desk.interactions.update_refs(work.id, refs={"recording": "RE1"}),
        desk.interactions.call_ended(work.id, why="caller-hung-up"),
        desk.interactions.update_refs(work.id, context={"survey": "yes"}),
        desk.interactions.call_ended(work.id, why="caller-hung-up"))

    stored = await desk.context.interaction(work.id)
    assert stored.state is InteractionState.WRAP_UP
    assert stored.channel_refs.get("recording") == "RE1"
    assert stored.context.get("survey") == "yes"
    assert len(of_type(desk.drain(), "interaction.wrap_up")) == 1


async def test_the_service_level_counts_what_the_customers_saw(desk: Desk) -> None:
    from cti.service_level import service_levels

    quick, slow = await desk.chat("ann@example.com"), await desk.chat("raj@example.com")
    left_early, left_late = await desk.chat("kim@example.com"), await desk.chat("lou@example.com")
    desk.clock.advance(10)
    await desk.interactions.customer_left(left_early.id)
    await desk.available("bob")
    await desk.route()
    await desk.interactions.accept(quick.id, "bob")  # after 10 s: in the 60 s target
    desk.clock.advance(80)
    await desk.interactions.customer_left(left_late.id)  # after 90 s
    await desk.available("alice")
    await desk.route()
    await desk.interactions.accept(slow.id, "alice")  # after 90 s: late

    outcomes = await desk.context.outcomes(desk.clock.now() - 3600)
    targets = {q.name: {c: q.target_for(c) for c in Channel} for q in desk.config.queues.values()}
    chat = service_levels(outcomes, targets)["support"][Channel.CHAT]
    assert (chat.answered, chat.answered_in_target, chat.abandoned, chat.abandoned_in_target) == (2, 1, 2, 1)
    assert chat.level == pytest.approx(1 / 3)
    assert chat.average_answer == pytest.approx(50)
    # Outside the window: nothing.
    assert await desk.context.outcomes(desk.clock.now() + 1) == []
