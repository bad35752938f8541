"""The routing store shared by several nodes: state in Redis, every mutator one Lua script.

Semantics are those of ``MemoryRoutingStore`` (the contract suite runs on both); atomicity
comes from Redis running each script alone, so two nodes racing for the same interaction or
the same last free slot get one success. Reads that need a consistent picture (snapshot,
stats) use MULTI. The store does not own the client: whoever built it closes it.

Script calls made at the same time share one pipelined round trip (``ScriptBatcher``), so
a pass's offers cost one trip. For ``decide`` each store keeps a ``RoutingIndex`` mirror of
the waiting items, agents and last-served entries, fed from the change log the scripts
write (``redis_scripts``): one read of the new entries per pass, never the whole queue,
except the first time or after falling more than ``LOG_MAX`` changes behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as redis_asyncio
from redis.exceptions import ResponseError

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
from router import codec, redis_scripts
from router.codec import Arg, text
from router.errors import RoutingDataError
from router.ranking import RoutingIndex
from router.records import PRUNE_BATCH, check_item
from router.redis_batch import ScriptBatcher
from router.stats import QueueStats, build_stats

log = logging.getLogger(__name__)

# Upper bound of entries one expiry or wrap-up script handles, so that no script holds
# Redis for long; the caller loops while a batch comes back full.
BATCH = 500
# Log entries read per round trip while catching up.
LOG_READ = 5000


class RedisRoutingStore:
    """Implements ``cti.routing.RoutingStore`` on Redis."""

    def __init__(self, *, redis: redis_asyncio.Redis, prefix: str = "cti",
                 last_served_ttl: float = 86400.0) -> None:
        self._redis = redis
        self._last_served_ttl = last_served_ttl
        names = {name: f"{prefix}:routing:{name}" for name in redis_scripts.KEY_NAMES}
        self._keys = [names[name] for name in redis_scripts.KEY_NAMES]
        self._agents_key = names["agents"]
        self._waiting_key = names["waiting"]
        self._offers_key = names["offers"]
        self._active_key = names["active"]
        self._last_key = names["last"]
        self._log_key = names["log"]
        self._log_seq_key = names["log_seq"]
        self._batch = ScriptBatcher(redis=redis, keys=[f"{prefix}:routing:"])
        self._register = redis_scripts.REGISTER
        self._set_state = redis_scripts.SET_STATE
        self._enqueue = redis_scripts.ENQUEUE
        self._remove = redis_scripts.REMOVE
        self._try_offer = redis_scripts.TRY_OFFER
        self._accept = redis_scripts.ACCEPT
        self._reject = redis_scripts.REJECT
        self._hold = redis_scripts.HOLD
        self._expire = redis_scripts.EXPIRE
        self._release = redis_scripts.RELEASE
        self._tick = redis_scripts.TICK
        # The mirror behind decide: the index, its last-served map, the log seq it reflects.
        self._last_mirror: dict[str, LastServed] = {}
        self._index = RoutingIndex(last_served=self._last_mirror)
        self._seq: int | None = None
        self._sync_lock = asyncio.Lock()

    @property
    def script_trips(self) -> int:
        """Round trips the scripts have taken so far (benchmarks: trips per operation)."""
        return self._batch.trips

    @property
    def keys(self) -> Sequence[str]:
        """Every key this store writes (for cleanup in tests and benchmarks)."""
        return tuple(self._keys)

    async def _run(self, script: str, *args: Arg) -> list[Any]:
        try:
            reply: list[Any] = await self._batch.run(script, codec.args(*args))
        except ResponseError as exc:
            raise _data_error(exc) from exc
        return reply

    # ----- agents --------------------------------------------------------------------------

    async def register_agent(self, agent_id: str, *, skills: Mapping[str, int],
                             capacity: Mapping[Channel, int], now: float) -> None:
        await self._run(self._register, agent_id, codec.skills_json(skills), codec.capacity_json(capacity),
                        codec.num(now))

    async def set_agent_state(self, agent_id: str, state: AgentState, *, reason: str | None,
                              now: float) -> AgentSnapshot:
        reply = await self._run(self._set_state, agent_id, AgentState(state).value,
                                "0" if reason is None else "1", reason or "", codec.num(now))
        if text(reply[0]) != "ok":
            raise NotFound("agent-not-found", f"no agent {agent_id!r}", agent_id=agent_id)
        return codec.agent_from(agent_id, reply[1])

    async def agent(self, agent_id: str) -> AgentSnapshot | None:
        raw = await self._redis.hget(self._agents_key, agent_id)
        return None if raw is None else codec.agent_from(agent_id, raw)

    # ----- the queue -----------------------------------------------------------------------

    async def enqueue(self, item: WaitingItem) -> None:
        check_item(item)
        reply = await self._run(self._enqueue, item.interaction_id, codec.item_json(item))
        if text(reply[0]) != "ok":
            raise Conflict("interaction-offered", "the interaction is offered to an agent",
                           interaction_id=item.interaction_id, agent_id=text(reply[1]))
        if reply[1]:
            log.warning("enqueue of held interaction id=%s agent=%s: slot freed",
                        item.interaction_id, text(reply[1]))

    async def remove(self, interaction_id: str) -> WaitingItem | None:
        reply = await self._run(self._remove, interaction_id)
        return None if text(reply[0]) == "none" else codec.item_from(reply[1])

    async def snapshot(self) -> RoutingSnapshot:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hvals(self._waiting_key)
            pipe.hgetall(self._agents_key)
            raw_waiting, raw_agents = await pipe.execute()
        waiting = sorted((codec.item_from(raw) for raw in raw_waiting),
                         key=lambda w: (w.enqueued_at, w.interaction_id))
        agents = sorted((codec.agent_from(text(k), v) for k, v in raw_agents.items()),
                        key=lambda a: a.agent_id)
        # Only the customers with something waiting: that is all the policy looks at. Read
        # after the MULTI: a preference a moment stale is harmless.
        customers = sorted({w.customer_id for w in waiting})
        last = {}
        if customers:
            raw_last = await self._redis.hmget(self._last_key, customers)
            last = {c: codec.last_from(raw) for c, raw in zip(customers, raw_last, strict=True)
                    if raw is not None}
        return RoutingSnapshot(waiting=waiting, agents=agents, last_served=last)

    # ----- offers --------------------------------------------------------------------------

    async def decide(self, *, now: float, settings: RoutingSettings) -> list[Assignment]:
        """``policy.decide`` on the current state, from this node's mirror index."""
        await self._sync()
        return self._index.decide(now=now, settings=settings)

    async def try_offer(self, assignment: Assignment, *, now: float,
                        timeout: float) -> Offer | None:
        (offer,) = await self.try_offers([assignment], now=now, timeout=timeout)
        return offer

    async def try_offers(self, assignments: Sequence[Assignment], *, now: float,
                         timeout: float) -> list[Offer | None]:
        """Each assignment tried atomically, in order, all in one round trip."""
        offered_at, expires_at = codec.num(now), codec.num(now + timeout)
        try:
            replies = await self._batch.run_all([
                (self._try_offer, (codec.args(a.interaction_id, a.agent_id, offered_at, expires_at,
                                              codec.reason_json(a.reason)),))
                for a in assignments])
        except ResponseError as exc:
            raise _data_error(exc) from exc
        offers: list[Offer | None] = []
        for assignment, reply in zip(assignments, replies, strict=True):
            status = text(reply[0])
            if status != "ok":
                log.debug("offer refused id=%s agent=%s why=%s", assignment.interaction_id,
                          assignment.agent_id, status)
                offers.append(None)
            else:
                # The record holds these very values (times as their exact strings): only
                # the channel comes from Redis, so the reply needs no decoding.
                offers.append(Offer(
                    interaction_id=assignment.interaction_id, agent_id=assignment.agent_id,
                    channel=codec.channel(reply[1]), offered_at=float(offered_at),
                    expires_at=float(expires_at), reason=assignment.reason))
        return offers

    async def offer_for(self, interaction_id: str) -> Offer | None:
        raw = await self._redis.hget(self._offers_key, interaction_id)
        return None if raw is None else codec.offer_from(interaction_id, raw)

    async def accept(self, interaction_id: str, agent_id: str, *, now: float) -> Offer:
        reply = await self._run(self._accept, interaction_id, agent_id)
        self._check_owned(text(reply[0]), interaction_id, agent_id)
        return codec.offer_from(interaction_id, reply[1])

    async def reject(self, interaction_id: str, agent_id: str, *, now: float) -> WaitingItem:
        reply = await self._run(self._reject, interaction_id, agent_id)
        self._check_owned(text(reply[0]), interaction_id, agent_id)
        return codec.item_from(reply[1])

    async def expire_offers(self, now: float) -> Sequence[WaitingItem]:
        requeued: list[WaitingItem] = []
        while True:
            seen, items = await self._run(self._expire, codec.num(now), BATCH)
            requeued.extend(codec.item_from(raw) for raw in items)
            if int(seen) < BATCH:
                return requeued

    async def hold(self, interaction_id: str, agent_id: str, channel: Channel) -> bool:
        reply = await self._run(self._hold, interaction_id, agent_id, channel.value)
        status = text(reply[0])
        if status == "agent-not-found":
            raise NotFound("agent-not-found", f"no agent {agent_id!r}", agent_id=agent_id)
        if status == "work-not-yours":
            raise Conflict("work-not-yours", "another agent holds this interaction",
                           interaction_id=interaction_id, agent_id=agent_id)
        if status == "interaction-routing":
            raise Conflict("interaction-routing", "the interaction is waiting or offered, not held",
                           interaction_id=interaction_id)
        return bool(int(reply[1]))

    # ----- finished work -------------------------------------------------------------------

    async def release(self, interaction_id: str, agent_id: str, *, now: float,
                      customer_id: str | None, wrap_up: float) -> None:
        reply = await self._run(
            self._release, interaction_id, agent_id, codec.num(now), "0" if customer_id is None else "1",
            customer_id or "", codec.num(wrap_up), codec.num(now + wrap_up),
            codec.num(now - self._last_served_ttl), PRUNE_BATCH)
        status = text(reply[0])
        if status == "work-not-yours":
            raise Conflict("work-not-yours", "another agent holds this interaction",
                           interaction_id=interaction_id, agent_id=agent_id)
        if status == "not-held":
            log.warning("release of work not held id=%s agent=%s", interaction_id, agent_id)

    async def tick(self, now: float) -> Sequence[str]:
        ended: list[str] = []
        while True:
            freed, agents = await self._run(self._tick, codec.num(now), BATCH)
            ended.extend(text(a) for a in agents)
            if int(freed) < BATCH:
                return sorted(set(ended))

    async def stats(self, now: float) -> QueueStats:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hvals(self._waiting_key)
            pipe.hlen(self._offers_key)
            pipe.hlen(self._active_key)
            pipe.hgetall(self._agents_key)
            raw_waiting, offered, active, raw_agents = await pipe.execute()
        agents = [codec.agent_from(text(k), v) for k, v in raw_agents.items()]
        return build_stats(now=now, waiting=(codec.item_from(raw) for raw in raw_waiting),
                           offered=int(offered), active=int(active),
                           wrapping=sum(codec.wrapping(v) for v in raw_agents.values()),
                           agent_states=(a.state for a in agents))

    # ----- the mirror ----------------------------------------------------------------------

    async def _sync(self) -> None:
        """Bring the mirror index up to the newest log entry."""
        async with self._sync_lock:
            while self._seq is not None:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.get(self._log_seq_key)
                    pipe.xrange(self._log_key, min=f"{self._seq + 1}-0", max="+", count=LOG_READ)
                    raw_seq, entries = await pipe.execute()
                newest = int(raw_seq or 0)
                if newest == self._seq:
                    return
                if newest < self._seq or not entries or _entry_seq(entries[0][0]) != self._seq + 1:
                    log.info("routing mirror behind the log (at %s, log at %s): reading it all",
                             self._seq, newest)
                    break
                for entry_id, fields in entries:
                    self._apply(fields)
                    self._seq = _entry_seq(entry_id)
            await self._load_all()

    async def _load_all(self) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._log_seq_key)
            pipe.hgetall(self._waiting_key)
            pipe.hgetall(self._agents_key)
            pipe.hgetall(self._last_key)
            raw_seq, raw_waiting, raw_agents, raw_last = await pipe.execute()
        self._index.clear()
        self._last_mirror.clear()
        for raw in raw_waiting.values():
            self._index.put_item(codec.item_from(raw))
        for key, raw in raw_agents.items():
            self._index.put_agent(codec.agent_from(text(key), raw))
        for key, raw in raw_last.items():
            self._last_mirror[text(key)] = codec.last_from(raw)
        self._seq = int(raw_seq or 0)

    def _apply(self, fields: Mapping[Any, Any]) -> None:
        kind, key, raw = text(fields[b"k"]), text(fields[b"i"]), fields[b"v"]
        if kind == "w":
            self._index.put_item(codec.item_from(raw))
        elif kind == "x":
            self._index.drop_item(key)
        elif kind == "a":
            self._index.put_agent(codec.agent_from(key, raw))
        elif kind == "l":
            self._last_mirror[key] = codec.last_from(raw)
        elif kind == "m":
            self._last_mirror.pop(key, None)

    # ----- helpers -------------------------------------------------------------------------

    @staticmethod
    def _check_owned(status: str, interaction_id: str, agent_id: str) -> None:
        if status == "offer-not-found":
            raise NotFound("offer-not-found", f"no offer for {interaction_id!r}",
                           interaction_id=interaction_id)
        if status == "offer-not-yours":
            raise Conflict("offer-not-yours", "the offer is for another agent",
                           interaction_id=interaction_id, agent_id=agent_id)


def _data_error(exc: ResponseError) -> Exception:
    """A script's refusal to read its input as the typed error; any other error as it came."""
    error_id = str(exc).split(" ", 1)[0]
    if error_id in ("routing-record-unreadable", "routing-arguments-unreadable"):
        return RoutingDataError(error_id, "routing state in Redis could not be read", why=str(exc))
    return exc


def _entry_seq(entry_id: Any) -> int:
    return int(text(entry_id).partition("-")[0])
