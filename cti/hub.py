"""The event hub: in-process fan-out of domain events, optionally bridged across nodes.

Subscribers get their own bounded queue, so a slow WebSocket never blocks routing; when a
subscriber's queue is full it is told it lagged (it should resync) instead of growing without
bound. With a Redis URL, each event is also published on a channel and events from the other
nodes are delivered to local subscribers, so an agent connected to node B sees an offer made
by the engine on node A.

A subscription may name the one agent whose events it takes (an agent's desktop socket): the hub
keeps those in an index by agent id, so an event reaches only its agent's sockets and the cost of
a publish does not grow with the number of agents connected. A subscription may instead name the
agents it ``watch``es (a supervisor's board: their teams' agents): it is found through the same
index under each of them, and takes every event of no agent besides, so an agent's event costs
only their own supervisors' boards. Subscriptions without either (an admin's board, the channels'
forwarders: a few per node) see every event through their ``wants`` filter.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from cti.events import DomainEvent, event_from_dict
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)


class Subscription:
    __slots__ = ("_hub", "_maxsize", "_on_event", "_queue", "_wants", "agent_id", "lagged", "local_only",
                 "watch")

    def __init__(self, hub: EventHub, maxsize: int,
                 wants: Callable[[DomainEvent], bool] | None = None, *, local_only: bool = False,
                 agent_id: str | None = None, on_event: Callable[[DomainEvent], None] | None = None,
                 watch: tuple[str, ...] | None = None) -> None:
        self._hub = hub
        self._maxsize = maxsize
        self._queue: asyncio.Queue[DomainEvent] | None = None  # made on first use
        self.lagged = False
        self._wants = wants
        self.local_only = local_only
        self.agent_id = agent_id
        self.watch = watch
        self._on_event = on_event

    @property
    def queue(self) -> asyncio.Queue[DomainEvent]:
        if self._queue is None:
            self._queue = asyncio.Queue(self._maxsize)
        return self._queue

    def _deliver(self, event: DomainEvent) -> None:
        # Filtered on the publisher's side: with hundreds of agent sockets, waking every one of
        # them for every event costs more than the events themselves.
        if self._wants is not None:
            try:
                if not self._wants(event):
                    return
            except Exception:  # a subscriber's filter must never break the publisher
                log.exception("hub: a subscription filter failed on %s", event.type)
                return
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # nor a subscriber's handler
                log.exception("hub: a subscriber failed on %s", event.type)
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True

    async def get(self) -> DomainEvent:
        return await self.queue.get()

    def close(self) -> None:
        self._hub._remove(self)

    async def __aiter__(self) -> AsyncIterator[DomainEvent]:
        while True:
            yield await self.queue.get()


class EventHub:
    def __init__(self, *, node_id: str, redis: Any | None = None, channel: str = "cti:events") -> None:
        self._subs: set[Subscription] = set()  # those without an agent: they see every event
        self._by_agent: dict[str, set[Subscription]] = {}  # an agent's sockets, and their watchers
        self._agentless: set[Subscription] = set()  # watchers: they see every event of no agent
        self._node_id = node_id
        self._redis = redis
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def subscribe(self, maxsize: int = 1000, wants: Callable[[DomainEvent], bool] | None = None, *,
                  local_only: bool = False, agent_id: str | None = None,
                  on_event: Callable[[DomainEvent], None] | None = None,
                  watch: Iterable[str] | None = None) -> Subscription:
        """``local_only``: only the events published on this node. For work done once per event
        that this node must do because it caused it (sending an agent's reply), which every
        node hearing the event would otherwise do again.

        ``agent_id``: only the events of that agent (``event.agent() == agent_id``), and of
        those only what ``wants`` takes; found through an index, never by asking every socket.

        ``on_event``: called with each event at once, in the publisher (it must not block or
        await), instead of queueing it: no queue and no reading task per subscriber, for one that
        only hands the event on to its own bounded queue (an agent socket's outbox).

        ``watch``: only the events of those agents and the events of no agent, and of those only
        what ``wants`` takes (not with ``agent_id``)."""
        if watch is not None and agent_id is not None:
            raise ValueError("a subscription takes one agent's events or watches agents, not both")
        watched = None if watch is None else tuple(dict.fromkeys(watch))
        sub = Subscription(self, maxsize, wants, local_only=local_only, agent_id=agent_id, on_event=on_event,
                           watch=watched)
        if watched is not None:
            for agent in watched:
                self._by_agent.setdefault(agent, set()).add(sub)
            self._agentless.add(sub)
        elif agent_id is None:
            self._subs.add(sub)
        else:
            self._by_agent.setdefault(agent_id, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub.watch is not None:
            self._agentless.discard(sub)
            for agent in sub.watch:
                self._unindex(agent, sub)
        elif sub.agent_id is None:
            self._subs.discard(sub)
        else:
            self._unindex(sub.agent_id, sub)

    def _unindex(self, agent_id: str, sub: Subscription) -> None:
        subs = self._by_agent.get(agent_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_agent[agent_id]

    def _deliver_local(self, event: DomainEvent, *, remote: bool = False) -> None:
        for sub in list(self._subs):
            if not (remote and sub.local_only):
                sub._deliver(event)
        agent_id = event.agent()
        found = self._agentless if agent_id is None else self._by_agent.get(agent_id, ())
        for sub in list(found):
            if not (remote and sub.local_only):
                sub._deliver(event)

    async def publish(self, event: DomainEvent) -> None:
        self._deliver_local(event)
        if self._redis is not None:
            payload = json.dumps({"node": self._node_id, "event": event.to_dict()})
            await self._redis.publish(self._channel, payload)

    async def start(self) -> None:
        if self._redis is None:
            return
        self._task = asyncio.create_task(self._relay(), name="hub-relay")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def aclose(self) -> None:
        await stop_tasks([self._task])

    async def _relay(self) -> None:
        assert self._redis is not None
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            self._ready.set()
            async for raw in pubsub.listen():
                if raw.get("type") != "message":
                    continue
                try:
                    data = json.loads(raw["data"])
                    if data.get("node") == self._node_id:
                        continue
                    self._deliver_local(event_from_dict(data["event"]), remote=True)
                except (ValueError, KeyError, TypeError):
                    log.warning("hub: dropped a malformed event from another node")
        finally:
            await pubsub.aclose()
