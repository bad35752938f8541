"""Plain-data builders for routing tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot, LastServed, RoutingSnapshot, WaitingItem

NOW = 1_800_000_000.0
DEFAULT_CAPACITY: Mapping[Channel, int] = {Channel.VOICE: 1, Channel.CHAT: 3, Channel.EMAIL: 5}


def item(iid: str = "i1", channel: Channel = Channel.CHAT, *, waited: float = 0.0,
         target: float = 60.0, priority: float = 1.0, skills: Mapping[str, int] | None = None,
         customer: str | None = None, queue: str = "support", target_agent: str | None = None,
         excluded: Iterable[str] = (), now: float = NOW,
         also: Mapping[str, Mapping[str, int]] | None = None) -> WaitingItem:
    return WaitingItem(interaction_id=iid, channel=channel, queue=queue,
                       customer_id=customer or f"cust-{iid}", enqueued_at=now - waited,
                       service_target=target, priority=priority,
                       skills=dict(skills or {}), target_agent=target_agent,
                       excluded_agents=frozenset(excluded), also=dict(also or {}))


def agent(aid: str, *, state: AgentState = AgentState.AVAILABLE, skills: Mapping[str, int] | None = None,
          capacity: Mapping[Channel, int] | None = None, load: Mapping[Channel, int] | None = None,
          idle_since: float = NOW - 100) -> AgentSnapshot:
    return AgentSnapshot(agent_id=aid, state=state, skills=dict(skills or {}),
                         capacity=dict(DEFAULT_CAPACITY if capacity is None else capacity),
                         load=dict(load or {}), idle_since=idle_since)


def snap(waiting: Iterable[WaitingItem], agents: Iterable[AgentSnapshot],
         last: Mapping[str, LastServed] | None = None) -> RoutingSnapshot:
    return RoutingSnapshot(waiting=list(waiting), agents=list(agents), last_served=dict(last or {}))
