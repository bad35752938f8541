"""The hub's index of agent subscriptions delivers exactly what the filter it replaces did: an
agent's socket used to ask every event ``event.agent() == me``; now the hub finds its sockets by
the event's agent. A property test over random subscriptions, events and closes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.events import AgentStateChanged, DomainEvent, InteractionClosed, InteractionQueued
from cti.hub import EventHub, Subscription

AGENTS = ("a1", "a2", "a3", "a4")
FILTERS: dict[str, Callable[[DomainEvent], bool] | None] = {
    "all": None,
    "closed-only": lambda e: isinstance(e, InteractionClosed),
    "no-agent": lambda e: e.agent() is None,
    "not-a1": lambda e: e.agent() != "a1",
}


def event_for(kind: int, agent: str | None, n: int) -> DomainEvent:
    if agent is None or kind == 0:
        return InteractionQueued(at=float(n), interaction={"id": f"int-{n}"})
    if kind == 1:
        return AgentStateChanged(at=float(n), agent_id=agent, state="available")
    return InteractionClosed(at=float(n), interaction_id=f"int-{n}", agent_id=agent, disposition="ok")


Filter = Callable[[DomainEvent], bool]


def old_filter(agent: str | None, wants: Filter | None) -> Filter:
    """What a subscription of that agent and filter took before the index."""
    def take(event: DomainEvent) -> bool:
        if agent is not None and event.agent() != agent:
            return False
        return wants is None or wants(event)
    return take


def drained(sub: Subscription) -> list[DomainEvent]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


subscriptions = st.lists(st.tuples(st.sampled_from((None, *AGENTS)), st.sampled_from(sorted(FILTERS))),
                         min_size=1, max_size=12)
steps = st.lists(st.one_of(
    st.tuples(st.just("event"), st.integers(0, 2), st.sampled_from((None, *AGENTS, "nobody"))),
    st.tuples(st.just("close"), st.integers(0, 11), st.none())), max_size=40)


async def replay(script: list[tuple[str, int, str | None]],
                 *hubs: tuple[EventHub, list[Subscription]]) -> None:
    """The same publishes and closes on each hub; then every pair of subscriptions got the same."""
    for n, (op, arg, agent) in enumerate(script):
        for hub, subs in hubs:
            if op == "close":
                subs[arg % len(subs)].close()
            else:
                await hub.publish(event_for(arg, agent, n))
    (_, first), *others = hubs
    for _, subs in others:
        for got, want in zip(first, subs, strict=True):
            assert drained(got) == drained(want)


@settings(max_examples=200, deadline=None)
@given(subscriptions, steps)
def test_the_index_delivers_exactly_what_the_filters_did(
        subs: list[tuple[str | None, str]], script: list[tuple[str, int, str | None]]) -> None:
    async def run() -> None:
        hub = EventHub(node_id="n")
        indexed = [hub.subscribe(agent_id=agent, wants=FILTERS[f], maxsize=1000) for agent, f in subs]
        # The reference: every subscription filtered on every event, the way the hub used to.
        reference = EventHub(node_id="r")
        filtered = [reference.subscribe(wants=old_filter(agent, FILTERS[f]), maxsize=1000)
                    for agent, f in subs]
        await replay(script, (hub, indexed), (reference, filtered))
        assert not hub._subs.intersection(indexed[k] for k in range(len(subs)) if subs[k][0] is not None)

    asyncio.run(run())


async def test_closing_the_last_socket_of_an_agent_forgets_the_agent() -> None:
    hub = EventHub(node_id="n")
    one, two = hub.subscribe(agent_id="a1"), hub.subscribe(agent_id="a1")
    one.close()
    await hub.publish(AgentStateChanged(at=1.0, agent_id="a1", state="away"))
    assert drained(one) == [] and len(drained(two)) == 1
    two.close()
    assert hub._by_agent == {}


async def test_a_handler_gets_what_a_queue_would_have_and_holds_no_queue() -> None:
    hub = EventHub(node_id="n")
    handed: list[DomainEvent] = []
    direct = hub.subscribe(agent_id="a1", on_event=handed.append)
    queued = hub.subscribe(agent_id="a1")
    for agent in ("a1", "a2", "a1"):
        await hub.publish(AgentStateChanged(at=1.0, agent_id=agent, state="away"))
    assert handed == drained(queued) and len(handed) == 2
    assert direct._queue is None


def watch_filter(watch: tuple[str, ...], wants: Filter | None) -> Filter:
    """What a supervisor's board took before it watched through the index: every event of no
    agent and of the agents watched, through its filter."""
    def take(event: DomainEvent) -> bool:
        agent = event.agent()
        if agent is not None and agent not in watch:
            return False
        return wants is None or wants(event)
    return take


watchers = st.lists(st.tuples(st.lists(st.sampled_from(AGENTS), max_size=3).map(tuple),
                              st.sampled_from(sorted(FILTERS))), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(watchers, steps)
def test_watching_agents_delivers_exactly_what_filtering_on_them_did(
        subs: list[tuple[tuple[str, ...], str]], script: list[tuple[str, int, str | None]]) -> None:
    async def run() -> None:
        hub = EventHub(node_id="n")
        indexed = [hub.subscribe(watch=watch, wants=FILTERS[f], maxsize=1000) for watch, f in subs]
        reference = EventHub(node_id="r")
        filtered = [reference.subscribe(wants=watch_filter(watch, FILTERS[f]), maxsize=1000)
                    for watch, f in subs]
        await replay(script, (hub, indexed), (reference, filtered))
        for sub in indexed:
            sub.close()
        assert hub._by_agent == {} and not hub._agentless

    asyncio.run(run())


async def test_a_board_is_not_asked_about_the_agents_it_does_not_watch() -> None:
    # Each agent's log-in publishes their state: asking every supervisor's board about it made a
    # log-in cost as much as the boards open.
    hub = EventHub(node_id="n")
    asked: list[str | None] = []

    def wants(event: DomainEvent) -> bool:
        asked.append(event.agent())
        return True

    board = hub.subscribe(watch=["a1", "a2"], wants=wants)
    for agent in AGENTS:
        await hub.publish(AgentStateChanged(at=1.0, agent_id=agent, state="available"))
    await hub.publish(InteractionQueued(at=2.0, interaction={"id": "int-1"}))
    assert asked == ["a1", "a2", None]
    assert [e.agent() for e in drained(board)] == ["a1", "a2", None]
