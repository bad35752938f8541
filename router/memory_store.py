"""The routing store of a single node: plain dictionaries in the event loop.

Every method runs to completion without awaiting, so each is atomic with respect to every
other coroutine of the loop: that is the whole concurrency story here.

Where an interaction is, at any moment: waiting, offered (to one agent) or active (held by
one agent, from accept until release), never two of these at once. An agent's load counts
offered, active and wrap-up slots. ``idle_since`` moves only when finished work (release or
the end of a wrap-up) leaves the agent with no load: a withdrawn offer does not cost the
agent their place in the longest-idle order.

Every change is also fed to a ``RoutingIndex`` (router.ranking), so that ``decide`` ranks only
what could be assigned instead of sorting the whole queue on every pass.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cti.domain import AgentState, Channel
from cti.errors import Conflict, NotFound
from cti.routing import (
    AgentSnapshot,
    Assignment,
    LastServed,
    Offer,
    RoutingSettings,
    RoutingSnapshot,
    WaitingItem,
)
from router.eligibility import refusal
from router.ranking import RoutingIndex
from router.records import PRUNE_BATCH, check_item, excluding, load_view
from router.stats import QueueStats, build_stats

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Agent:
    skills: dict[str, int]
    capacity: dict[Channel, int]
    state: AgentState
    reason: str | None
    idle_since: float
    load: dict[Channel, int]
    wraps: int = 0  # slots held for wrap-up, counted in load too

    def total(self) -> int:
        return sum(self.load.values())

    def free(self, channel: Channel) -> None:
        self.load[channel] = max(0, self.load.get(channel, 0) - 1)


@dataclass(slots=True)
class _Pending:
    offer: Offer
    item: WaitingItem


class MemoryRoutingStore:
    """Implements ``cti.routing.RoutingStore`` for one process."""

    def __init__(self, *, last_served_ttl: float = 86400.0) -> None:
        # Customers whose last service is older than this are forgotten; keep it at least as
        # long as the preferred window.
        self._last_served_ttl = last_served_ttl
        self._agents: dict[str, _Agent] = {}
        self._waiting: dict[str, WaitingItem] = {}
        self._offers: dict[str, _Pending] = {}
        self._offer_due: list[tuple[float, str, int]] = []  # (expires_at, id, seq), lazily pruned
        self._active: dict[str, tuple[str, Channel]] = {}  # interaction -> (agent, channel)
        self._wrap_due: list[tuple[float, str, str, int, Channel]] = []  # (until, agent, id, seq, ch)
        self._last: dict[str, LastServed] = {}  # insertion order = order of service
        self._seq = itertools.count()
        self._index = RoutingIndex(last_served=self._last)

    # ----- agents --------------------------------------------------------------------------

    async def register_agent(self, agent_id: str, *, skills: Mapping[str, int],
                             capacity: Mapping[Channel, int], now: float) -> None:
        agent = self._agents.get(agent_id)
        if agent is None:
            self._agents[agent_id] = _Agent(skills=dict(skills), capacity=dict(capacity),
                                            state=AgentState.OFFLINE, reason=None, idle_since=now,
                                            load={})
        else:
            agent.skills = dict(skills)
            agent.capacity = dict(capacity)
        self._sync(agent_id)

    async def set_agent_state(self, agent_id: str, state: AgentState, *, reason: str | None,
                              now: float) -> AgentSnapshot:
        agent = self._agent(agent_id)
        if state is AgentState.AVAILABLE and agent.state is not AgentState.AVAILABLE and agent.total() == 0:
            agent.idle_since = now
        agent.state = state
        agent.reason = reason
        self._sync(agent_id)
        return self._view(agent_id, agent)

    async def agent(self, agent_id: str) -> AgentSnapshot | None:
        agent = self._agents.get(agent_id)
        return None if agent is None else self._view(agent_id, agent)

    # ----- the queue -----------------------------------------------------------------------

    async def enqueue(self, item: WaitingItem) -> None:
        check_item(item)
        interaction_id = item.interaction_id
        if interaction_id in self._offers:
            raise Conflict("interaction-offered", "the interaction is offered to an agent",
                           interaction_id=interaction_id,
                           agent_id=self._offers[interaction_id].offer.agent_id)
        held = self._active.pop(interaction_id, None)
        if held is not None:
            # Waiting again means nobody holds it any more; keeping the slot would leak it.
            log.warning("enqueue of held interaction id=%s agent=%s: slot freed", interaction_id, held[0])
            self._agents[held[0]].free(held[1])
            self._sync(held[0])
        self._waiting[interaction_id] = item
        self._index.put_item(item)

    async def remove(self, interaction_id: str) -> WaitingItem | None:
        item = self._waiting.pop(interaction_id, None)
        if item is not None:
            self._index.drop_item(interaction_id)
            return item
        pending = self._offers.pop(interaction_id, None)
        if pending is None:
            return None
        self._agents[pending.offer.agent_id].free(pending.offer.channel)
        self._sync(pending.offer.agent_id)
        return pending.item

    async def snapshot(self) -> RoutingSnapshot:
        waiting = sorted(self._waiting.values(), key=lambda w: (w.enqueued_at, w.interaction_id))
        agents = [self._view(agent_id, self._agents[agent_id]) for agent_id in sorted(self._agents)]
        # Only the customers with something waiting: that is all the policy looks at.
        last = {w.customer_id: self._last[w.customer_id] for w in waiting if w.customer_id in self._last}
        return RoutingSnapshot(waiting=waiting, agents=agents, last_served=last)

    async def decide(self, *, now: float, settings: RoutingSettings) -> list[Assignment]:
        """``policy.decide`` on the current state, from the index (no snapshot, no full sort)."""
        return self._index.decide(now=now, settings=settings)

    # ----- offers --------------------------------------------------------------------------

    async def try_offers(self, assignments: Sequence[Assignment], *, now: float,
                         timeout: float) -> list[Offer | None]:
        return [await self.try_offer(a, now=now, timeout=timeout) for a in assignments]

    async def try_offer(self, assignment: Assignment, *, now: float,
                        timeout: float) -> Offer | None:
        interaction_id = assignment.interaction_id
        item = self._waiting.get(interaction_id)
        agent = self._agents.get(assignment.agent_id)
        if item is None or agent is None:
            return None
        why = refusal(agent_id=assignment.agent_id, state=agent.state, skills=agent.skills,
                      capacity=agent.capacity, load=agent.load, item=item)
        if why is not None:
            log.debug("offer refused id=%s agent=%s why=%s", interaction_id, assignment.agent_id, why)
            return None
        del self._waiting[interaction_id]
        self._index.drop_item(interaction_id)
        agent.load[item.channel] = agent.load.get(item.channel, 0) + 1
        self._sync(assignment.agent_id)
        offer = Offer(interaction_id=interaction_id, agent_id=assignment.agent_id, channel=item.channel,
                      offered_at=now, expires_at=now + timeout, reason=assignment.reason)
        self._offers[interaction_id] = _Pending(offer=offer, item=item)
        heapq.heappush(self._offer_due, (offer.expires_at, interaction_id, next(self._seq)))
        return offer

    async def offer_for(self, interaction_id: str) -> Offer | None:
        pending = self._offers.get(interaction_id)
        return None if pending is None else pending.offer

    async def accept(self, interaction_id: str, agent_id: str, *, now: float) -> Offer:
        pending = self._owned_offer(interaction_id, agent_id)
        del self._offers[interaction_id]
        self._active[interaction_id] = (agent_id, pending.offer.channel)
        return pending.offer

    async def reject(self, interaction_id: str, agent_id: str, *, now: float) -> WaitingItem:
        self._owned_offer(interaction_id, agent_id)
        return self._requeue(interaction_id)

    async def expire_offers(self, now: float) -> Sequence[WaitingItem]:
        requeued: list[WaitingItem] = []
        due = self._offer_due
        while due and due[0][0] <= now:
            _, interaction_id, _ = heapq.heappop(due)
            pending = self._offers.get(interaction_id)
            # The heap is pruned lazily: skip entries of offers already accepted or withdrawn.
            if pending is not None and pending.offer.expires_at <= now:
                requeued.append(self._requeue(interaction_id))
        return requeued

    async def hold(self, interaction_id: str, agent_id: str, channel: Channel) -> bool:
        agent = self._agent(agent_id)
        held = self._active.get(interaction_id)
        if held is not None:
            if held[0] != agent_id:
                raise Conflict("work-not-yours", "another agent holds this interaction",
                               interaction_id=interaction_id, agent_id=held[0])
            return False
        if interaction_id in self._offers or interaction_id in self._waiting:
            raise Conflict("interaction-routing", "the interaction is waiting or offered, not held",
                           interaction_id=interaction_id)
        # Over capacity if need be: the work exists whatever the configuration says now.
        agent.load[channel] = agent.load.get(channel, 0) + 1
        self._active[interaction_id] = (agent_id, channel)
        self._sync(agent_id)
        return True

    # ----- finished work -------------------------------------------------------------------

    async def release(self, interaction_id: str, agent_id: str, *, now: float,
                      customer_id: str | None, wrap_up: float) -> None:
        channel = self._take_held(interaction_id, agent_id)
        if customer_id is not None:
            self._remember(customer_id, agent_id, now)
        if channel is None:
            log.warning("release of work not held id=%s agent=%s", interaction_id, agent_id)
            return
        agent = self._agents[agent_id]
        if wrap_up > 0:
            agent.wraps += 1
            heapq.heappush(self._wrap_due,
                           (now + wrap_up, agent_id, interaction_id, next(self._seq), channel))
            if agent.state is AgentState.AVAILABLE and agent.total() == agent.wraps:
                agent.state = AgentState.WRAP_UP
                agent.reason = None
            self._sync(agent_id)
            return
        agent.free(channel)
        if agent.total() == 0:
            agent.idle_since = now
        self._sync(agent_id)

    async def tick(self, now: float) -> Sequence[str]:
        due = self._wrap_due
        if not due or due[0][0] > now:
            return []
        touched: dict[str, _Agent] = {}
        while due and due[0][0] <= now:
            _, agent_id, _, _, channel = heapq.heappop(due)
            agent = self._agents[agent_id]
            agent.wraps -= 1
            agent.free(channel)
            touched[agent_id] = agent
        ended: list[str] = []
        for agent_id, agent in touched.items():
            if agent.wraps == 0 and agent.state is AgentState.WRAP_UP:
                agent.state = AgentState.AVAILABLE
                agent.idle_since = now
                ended.append(agent_id)
            elif agent.total() == 0:
                agent.idle_since = now
            self._sync(agent_id)
        return sorted(ended)

    async def stats(self, now: float) -> QueueStats:
        return build_stats(now=now, waiting=self._waiting.values(), offered=len(self._offers),
                           active=len(self._active), wrapping=sum(a.wraps for a in self._agents.values()),
                           agent_states=(a.state for a in self._agents.values()))

    # ----- helpers -------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise NotFound("agent-not-found", f"no agent {agent_id!r}", agent_id=agent_id)
        return agent

    def _view(self, agent_id: str, agent: _Agent) -> AgentSnapshot:
        return AgentSnapshot(agent_id=agent_id, state=agent.state, skills=dict(agent.skills),
                             capacity=dict(agent.capacity), load=load_view(agent.capacity, agent.load),
                             idle_since=agent.idle_since, reason=agent.reason)

    def _sync(self, agent_id: str) -> None:
        """Hand the agent's new picture to the index.

        Skills and capacity are shared, not copied: this store only ever replaces those dicts,
        never changes them in place. The load is copied (it changes in place)."""
        agent = self._agents[agent_id]
        self._index.put_agent(AgentSnapshot(
            agent_id=agent_id, state=agent.state, skills=agent.skills, capacity=agent.capacity,
            load=dict(agent.load), idle_since=agent.idle_since, reason=agent.reason))

    def _owned_offer(self, interaction_id: str, agent_id: str) -> _Pending:
        pending = self._offers.get(interaction_id)
        if pending is None:
            raise NotFound("offer-not-found", f"no offer for {interaction_id!r}",
                           interaction_id=interaction_id)
        if pending.offer.agent_id != agent_id:
            raise Conflict("offer-not-yours", "the offer is for another agent",
                           interaction_id=interaction_id, agent_id=agent_id)
        return pending

    def _requeue(self, interaction_id: str) -> WaitingItem:
        """Withdraw an offer: the item waits again, keeping its wait, without that agent."""
        pending = self._offers.pop(interaction_id)
        self._agents[pending.offer.agent_id].free(pending.offer.channel)
        self._sync(pending.offer.agent_id)
        item = excluding(pending.item, pending.offer.agent_id)
        self._waiting[interaction_id] = item
        self._index.put_item(item)
        return item

    def _take_held(self, interaction_id: str, agent_id: str) -> Channel | None:
        """Stop tracking the agent's work on the interaction; the channel whose slot it held."""
        held = self._active.get(interaction_id)
        if held is not None:
            if held[0] != agent_id:
                raise Conflict("work-not-yours", "another agent holds this interaction",
                               interaction_id=interaction_id, agent_id=agent_id)
            del self._active[interaction_id]
            return held[1]
        pending = self._offers.get(interaction_id)
        if pending is None:
            return None
        if pending.offer.agent_id != agent_id:
            raise Conflict("work-not-yours", "the interaction is offered to another agent",
                           interaction_id=interaction_id, agent_id=agent_id)
        del self._offers[interaction_id]
        return pending.offer.channel

    def _remember(self, customer_id: str, agent_id: str, now: float) -> None:
        self._last.pop(customer_id, None)
        self._last[customer_id] = LastServed(agent_id=agent_id, at=now)
        horizon = now - self._last_served_ttl
        for _ in range(PRUNE_BATCH):
            oldest = next(iter(self._last))
            if self._last[oldest].at >= horizon:
                break
            del self._last[oldest]
