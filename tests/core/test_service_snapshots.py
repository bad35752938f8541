"""Steps start from the snapshot their node last read or saved: when another node changed the
interaction since, the step still ends as if it had read what is stored.

Two nodes here are two services, each with its own context store (and so its own snapshots) on
one SQLite file, sharing one routing store, as two nodes share PostgreSQL and Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.app import build_core
from cti.clock import ManualClock, SequentialIds
from cti.config import parse_config
from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity, InteractionState
from cti.errors import Conflict
from cti.events import DomainEvent
from cti.hub import EventHub, Subscription
from cti.service import InteractionService
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore

CONFIG = {
    "queues": [{"name": "support", "skills": {"english": 1}, "service_targets": {"chat": 60}}],
    "chat": {"queue": "support"},
    "agents": [{"id": "alice", "skills": {"english": 5}, "capacity": {"chat": 2}}],
}
ANN = InboundIdentity(Identity(IdentityKind.EMAIL, "ann@example.com"), IdentityLevel.ASSERTED, "test")


@dataclass
class Node:
    context: SqlContextStore
    interactions: InteractionService
    engine: RoutingEngine
    routing: MemoryRoutingStore
    events: Subscription

    def drain(self) -> list[DomainEvent]:
        out = []
        while not self.events.queue.empty():
            out.append(self.events.queue.get_nowait())
        return out


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    url = f"sqlite:///{tmp_path / 'cti.db'}"
    await upgrade_async(url)
    clock, ids = ManualClock(), SequentialIds()
    routing = MemoryRoutingStore()
    made: list[Node] = []
    for name in ("a", "b"):
        context = SqlContextStore(url=url, clock=clock, ids=ids)
        await context.start()
        hub = EventHub(node_id=name)
        core = build_core(config=parse_config(CONFIG), context=context, routing=routing, hub=hub,
                          clock=clock, ids=ids)
        if not made:
            await core.agents.register_all()
            await core.agents.set_state("alice", "available", reason=None, actor_id="alice")
        made.append(Node(context=context, interactions=core.interactions, engine=core.engine,
                         routing=routing, events=hub.subscribe(maxsize=1000)))
    try:
        yield made[0], made[1]
    finally:
        for node in made:
            await node.context.aclose()


async def offered_on(node: Node) -> str:
    """A chat started and offered to Alice on ``node``: its snapshot is the offered one."""
    interaction = await node.interactions.start_inbound(
        channel=Channel.CHAT, display_name=None, first_message="hello",
        identities=[ANN])
    [offer] = await node.engine.run_once()
    assert offer.interaction_id == interaction.id
    return interaction.id


async def test_completing_work_another_node_accepted_closes_it(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    interaction_id = await offered_on(a)  # node a holds it as offered
    await b.interactions.accept(interaction_id, "alice")
    closed = await a.interactions.complete(interaction_id, "alice", disposition="resolved", note=None)
    assert closed.state is InteractionState.CLOSED
    assert (await b.context.interaction(interaction_id)).state is InteractionState.CLOSED


async def test_accepting_an_offer_another_node_changed_keeps_its_change(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    interaction_id = await offered_on(a)
    await b.interactions.update_refs(interaction_id, context={"crm.case": "42"})
    accepted = await a.interactions.accept(interaction_id, "alice")
    assert accepted.state is InteractionState.ACTIVE
    assert accepted.context["crm.case"] == "42"
    assert (await b.context.interaction(interaction_id)).context["crm.case"] == "42"


async def test_a_call_ended_on_another_node_ends_once(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    interaction_id = await offered_on(a)
    await a.interactions.accept(interaction_id, "alice")  # node a holds it as active
    await b.interactions.call_ended(interaction_id, why="hangup")
    a.drain()
    again = await a.interactions.call_ended(interaction_id, why="hangup")
    assert again.state is InteractionState.WRAP_UP
    assert [e.type for e in a.drain()] == []  # no second wrap-up


async def test_completing_work_another_node_closed_is_refused(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    interaction_id = await offered_on(a)
    await a.interactions.accept(interaction_id, "alice")
    await b.interactions.complete(interaction_id, "alice", disposition="resolved", note=None)
    with pytest.raises(Conflict) as refused:
        await a.interactions.complete(interaction_id, "alice", disposition="again", note=None)
    assert refused.value.error_id in {"invalid-state", "invalid-transition"}
    assert (await a.context.interaction(interaction_id)).disposition == "resolved"


async def test_an_offer_made_on_another_node_and_withdrawn_here_goes_back_to_the_queue(
        nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    interaction = await a.interactions.start_inbound(  # node a holds it as queued
        channel=Channel.CHAT, display_name=None, first_message="hello",
        identities=[ANN])
    [offer] = await b.engine.run_once()
    assert offer.interaction_id == interaction.id
    # Alice's desk went away: the routing store hands the offer back, and node a requeues it.
    item = await a.routing.reject(interaction.id, "alice", now=0.0)
    await a.interactions.on_requeue(item, "agent-gone")
    assert (await b.context.interaction(interaction.id)).state is InteractionState.QUEUED
