"""The routing contract: the data the policy decides on and the store interface.

``router/`` implements these (pure policy, memory and Redis stores, engine); the core service
and the desktop API use them through the types here and never import ``router`` directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cti.domain import AgentState, Channel


@dataclass(frozen=True, slots=True)
class WaitingItem:
    """An interaction waiting for an agent, as the router sees it."""

    interaction_id: str
    channel: Channel
    queue: str
    customer_id: str
    enqueued_at: float  # original start of the wait; kept across re-queues
    service_target: float  # seconds, this channel's target in this queue
    priority: float = 1.0
    skills: Mapping[str, int] = field(default_factory=dict)  # skill -> minimum level
    target_agent: str | None = None  # transferred to one agent: only they may take it
    excluded_agents: frozenset[str] = frozenset()  # e.g. agents who just rejected it
    # The agent working another open interaction of this customer (the e-mail they have open
    # when the customer calls about it): preferred before the last agent who served them.
    working_agent: str | None = None
    # Other queues it is also offered to (an overflow by wait: ``router.waiting_rules``), each with
    # the skills an agent needs there. It stays in ``queue``: its own agents keep it too.
    also: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


# A service target of zero would divide by zero; the stores refuse it, but the policy takes
# plain data and must not crash on it: such an item is simply as urgent as can be.
MIN_TARGET = 1e-9


def urgency(item: WaitingItem, now: float) -> float:
    """How urgent waiting work is: time waited / its service target x its priority. The routing
    policy ranks by it; the chat's queue position (``cti.waiting_info``) counts by it too."""
    return max(0.0, now - item.enqueued_at) / max(item.service_target, MIN_TARGET) * item.priority


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    agent_id: str
    state: AgentState
    skills: Mapping[str, int]
    capacity: Mapping[Channel, int]
    load: Mapping[Channel, int]  # offered + active + wrapping slots per channel
    idle_since: float  # when the agent last became free of work (longest idle goes first)
    reason: str | None = None  # reason code of away/busy


@dataclass(frozen=True, slots=True)
class LastServed:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    preferred_window: float = 3600.0  # seconds the last agent of a customer stays preferred


@dataclass(frozen=True, slots=True)
class RoutingReason:
    """Why an interaction went to an agent. Shown to the agent and the supervisor."""

    rule: str  # "target-agent" | "preferred-agent" | "best-skill" | "longest-idle"
    urgency: float
    skill_match: Mapping[str, int]  # the agent's level for each required skill
    preferred: bool
    waited: float


@dataclass(frozen=True, slots=True)
class Assignment:
    interaction_id: str
    agent_id: str
    reason: RoutingReason


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: str
    eligible: bool
    why_not: str | None  # "not-available" | "missing-skill:billing" | "no-capacity:chat" | ...
    skill_match: Mapping[str, int]
    preferred: bool
    idle_since: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """A dry run: who would get this interaction now, and why; nothing changes."""

    interaction_id: str
    urgency: float
    rank: int  # position among waiting interactions by urgency (1 = first)
    chosen: Assignment | None
    candidates: Sequence[Candidate]


@dataclass(frozen=True, slots=True)
class Offer:
    interaction_id: str
    agent_id: str
    channel: Channel
    offered_at: float
    expires_at: float
    reason: RoutingReason


@dataclass(frozen=True, slots=True)
class RoutingSnapshot:
    waiting: Sequence[WaitingItem]
    agents: Sequence[AgentSnapshot]
    last_served: Mapping[str, LastServed]  # customer_id -> last agent


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Queue figures for wallboards and the desktop's hello: the same shape from every store."""

    at: float
    waiting: int  # items waiting for an offer (not counting offered ones)
    offered: int  # offers out, not yet accepted, rejected or expired
    active: int  # accepted work not yet released
    wrapping: int  # slots held for wrap-up after released work
    waiting_by_queue: Mapping[str, Mapping[Channel, int]]  # queue -> channel -> waiting count
    oldest_wait: Mapping[str, float]  # queue -> seconds its longest-waiting item has waited
    agents_by_state: Mapping[AgentState, int]  # every state, zeros included


class RoutingStore(Protocol):
    """Queue and agent state shared by the engines of every node.

    Every mutator is atomic: two engines (or nodes) calling ``try_offer`` for the same
    interaction or the same last free slot of an agent, at the same time, get one success.
    """

    async def register_agent(self, agent_id: str, *, skills: Mapping[str, int],
                             capacity: Mapping[Channel, int], now: float) -> None: ...
    async def set_agent_state(self, agent_id: str, state: AgentState, *, reason: str | None,
                              now: float) -> AgentSnapshot: ...
    async def agent(self, agent_id: str) -> AgentSnapshot | None: ...
    async def enqueue(self, item: WaitingItem) -> None: ...
    async def remove(self, interaction_id: str) -> WaitingItem | None: ...
    async def snapshot(self) -> RoutingSnapshot: ...
    async def try_offer(self, assignment: Assignment, *, now: float, timeout: float) -> Offer | None: ...
    async def offer_for(self, interaction_id: str) -> Offer | None: ...
    async def accept(self, interaction_id: str, agent_id: str, *, now: float) -> Offer: ...
    async def reject(self, interaction_id: str, agent_id: str, *, now: float) -> WaitingItem: ...
    async def expire_offers(self, now: float) -> Sequence[WaitingItem]: ...
    async def release(self, interaction_id: str, agent_id: str, *, now: float,
                      customer_id: str | None, wrap_up: float) -> None: ...
    async def tick(self, now: float) -> Sequence[str]: ...
    # Recovery: count work the database says an agent holds (a restart lost the store's
    # record of it). True if it was taken now, False if the store already held it.
    async def hold(self, interaction_id: str, agent_id: str, channel: Channel) -> bool: ...
    async def stats(self, now: float) -> QueueStats: ...


@dataclass(frozen=True, slots=True)
class WaitingMove:
    """A change to waiting work that its wait has earned (``router.waiting_rules``): the
    routing decides it, the interaction service applies it and logs it with ``why``."""

    interaction_id: str
    why: str  # "transfer-fallback" | "overflow"
    queue: str  # where it waits from now (an overflow keeps its queue; see ``also``)
    skills: Mapping[str, int]  # the required skills from now
    rule: str  # "to-agent-timeout" | "to-queue" | "widen": shown in the log's details
    after: float  # the rule's seconds, for the log
    also: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # the other queues it is offered to
    also_queue: str | None = None  # the queue this move added to ``also``, for the log
