"""Where the desktop presence of agents is kept: in memory on one node, in Redis for several.

Per agent, a set of entries ``field -> seconds``: one per node with the agent's desktop open
there (the time that node vouches for them until, renewed by its heartbeat; the close time
once the last socket there closed), and ``""``, when the server last gave the agent a reason to
be at their desk without one (restored at start, made available by a supervisor). The agent was
last seen at the largest of them. An agent without entries is never set away for a missing
desktop (an API client that works without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

TOUCHED = ""  # the entry of a state change or a restore; node ids are never empty


class PresenceStore(Protocol):
    async def mark(self, node_id: str, seen: Mapping[str, float]) -> None:
        """Node ``node_id`` vouches for each agent's desktop until the time given."""
        ...

    async def touch(self, agent_id: str, at: float, *, create: bool) -> None:
        """The agent was last expected at their desk ``at``; only if they have entries unless ``create``."""
        ...

    async def last_seen(self) -> dict[str, float]:
        """Every agent with entries, and the latest of them."""
        ...

    async def claim_gone(self, agent_id: str, before: float) -> bool:
        """Forget the agent if none of their entries is after ``before``: True for the one caller
        that did (two nodes sweeping at once act once)."""
        ...


class MemoryPresence:
    def __init__(self) -> None:
        self._seen: dict[str, dict[str, float]] = {}

    async def mark(self, node_id: str, seen: Mapping[str, float]) -> None:
        for agent_id, until in seen.items():
            self._seen.setdefault(agent_id, {})[node_id] = until

    async def touch(self, agent_id: str, at: float, *, create: bool) -> None:
        if create or agent_id in self._seen:
            self._seen.setdefault(agent_id, {})[TOUCHED] = at

    async def last_seen(self) -> dict[str, float]:
        return {agent_id: max(entries.values()) for agent_id, entries in self._seen.items() if entries}

    async def claim_gone(self, agent_id: str, before: float) -> bool:
        entries = self._seen.get(agent_id)
        if not entries or max(entries.values()) > before:
            return False
        del self._seen[agent_id]
        return True


# Atomic, so a node renewing an entry between the check and the delete is never lost.
_TOUCH = """
if ARGV[2] == '1' or redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], '', ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[3])
end
return 0
"""
_CLAIM = """
local values = redis.call('HVALS', KEYS[1])
if #values == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
  return 0
end
for _, v in ipairs(values) do
  if tonumber(v) > tonumber(ARGV[1]) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""


class RedisPresence:
    """One hash per agent (``<prefix>:presence:<agent>``) and the set of agents that have one."""

    def __init__(self, *, redis: Any, prefix: str) -> None:
        self._redis = redis
        self._agents = f"{prefix}:presence"
        self._prefix = f"{prefix}:presence:"
        self._touch = redis.register_script(_TOUCH)
        self._claim = redis.register_script(_CLAIM)

    async def mark(self, node_id: str, seen: Mapping[str, float]) -> None:
        if not seen:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for agent_id, until in seen.items():
                pipe.hset(self._prefix + agent_id, node_id, repr(until))
            pipe.sadd(self._agents, *seen)
            await pipe.execute()

    async def touch(self, agent_id: str, at: float, *, create: bool) -> None:
        await self._touch(keys=[self._prefix + agent_id, self._agents],
                          args=[repr(at), "1" if create else "0", agent_id])

    async def last_seen(self) -> dict[str, float]:
        agents = sorted(_text(a) for a in await self._redis.smembers(self._agents))
        if not agents:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for agent_id in agents:
                pipe.hvals(self._prefix + agent_id)
            replies = await pipe.execute()
        return {agent_id: max(float(v) for v in values)
                for agent_id, values in zip(agents, replies, strict=True) if values}

    async def claim_gone(self, agent_id: str, before: float) -> bool:
        return bool(await self._claim(keys=[self._prefix + agent_id, self._agents],
                                      args=[repr(before), agent_id]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
