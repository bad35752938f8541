"""Desktop presence: an agent whose every desktop socket has been gone for a grace period is set
away with reason "disconnected" (their accepted work stays theirs); a socket back within the
grace, on any node, cancels it.

Each node counts the desktop sockets (agent desk or supervisor board) open on it per agent and
vouches for those agents in the shared ``PresenceStore`` (``cti.presence_store``): at once when
a socket opens, every heartbeat while one is open, and with the close time when the last one
there closes. Every node sweeps: an agent last seen more than the grace ago, who is still
expected at their desk (available, busy, wrap-up), is claimed atomically from the store (so of
two nodes sweeping at once one acts) and set away. A node that dies stops vouching, so its
agents are seen as gone three heartbeats after its last renewal.

The choice of who is gone is pure (``gone``); this module's service does the I/O around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence

from cti.agents import AT_DESK, AgentService
from cti.clock import Clock
from cti.presence_store import PresenceStore
from cti.routing import RoutingStore
from cti.settings.presence import PresenceSettings
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

DISCONNECTED = "disconnected"
HEARTBEATS_TO_EXPIRE = 3  # renewals a node may miss (a slow Redis round trip) before its word lapses


def gone(last_seen: Mapping[str, float], *, now: float, grace: float) -> list[str]:
    """The agents last seen ``grace`` seconds ago or earlier, sorted."""
    cutoff = now - grace
    return sorted(agent_id for agent_id, seen in last_seen.items() if seen <= cutoff)


class DesktopPresence:
    def __init__(self, *, store: PresenceStore, agents: AgentService, routing: RoutingStore, clock: Clock,
                 node_id: str, settings: PresenceSettings) -> None:
        self._store = store
        self._agents = agents
        self._routing = routing
        self._clock = clock
        self._node_id = node_id
        self._grace = settings.disconnect_grace
        self._heartbeat = settings.node_heartbeat
        # Often enough that "gone" is acted on within a quarter of the grace, rarely enough that a
        # centre of thousands of agents reads the store a few times a minute at most.
        self._sweep_every = min(max(self._grace / 4, 0.05), 2.0)
        self._open: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []

    @contextlib.asynccontextmanager
    async def desktop(self, agent_id: str) -> AsyncIterator[None]:
        """Around one desktop socket's life: the agent is present while any is open."""
        self._open[agent_id] += 1
        try:
            await self._vouch([agent_id])
        except Exception:  # the store away for a moment: the socket is served, the heartbeat vouches
            log.warning("presence: could not record a desktop agent=%s", agent_id, exc_info=True)
        try:
            yield
        finally:
            self._open[agent_id] -= 1
            if self._open[agent_id] <= 0:
                del self._open[agent_id]
                # Shielded: a socket ended by a shutdown still leaves its close time behind.
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._store.mark(self._node_id, {agent_id: self._clock.now()}))

    async def expect(self, agent_ids: Sequence[str]) -> None:
        """These agents should be at a desk from now (restored at start): gone after the grace
        unless a desktop of theirs opens."""
        now = self._clock.now()
        for agent_id in agent_ids:
            await self._store.touch(agent_id, now, create=True)

    async def sweep_once(self) -> list[str]:
        """Set away every agent gone past the grace who is still expected at a desk. Returns them."""
        now = self._clock.now()
        cutoff = now - self._grace
        set_away: list[str] = []
        for agent_id in gone(await self._store.last_seen(), now=now, grace=self._grace):
            if agent_id in self._open:
                continue  # open here: a renewal is on its way
            snap = await self._routing.agent(agent_id)
            if not await self._store.claim_gone(agent_id, cutoff):
                continue  # back meanwhile, or another node's sweep took it
            if snap is None or snap.state not in AT_DESK:
                continue  # offline or already away: nothing to change, only forgotten
            try:
                if await self._agents.set_away_if(agent_id, DISCONNECTED, when=AT_DESK):
                    set_away.append(agent_id)
                    log.info("agent set away: no desktop for %.0fs agent=%s", self._grace, agent_id)
            except Exception:  # the database or Redis away: put them back, the next sweep tries again
                log.exception("presence: agent %s not set away", agent_id)
                await self._store.touch(agent_id, cutoff, create=True)
        return set_away

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._renew(), name="presence-renew"),
                       asyncio.create_task(self._sweep(), name="presence-sweep")]

    async def aclose(self) -> None:
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks)

    async def _vouch(self, agent_ids: Sequence[str]) -> None:
        until = self._clock.now() + self._heartbeat * HEARTBEATS_TO_EXPIRE
        await self._store.mark(self._node_id, dict.fromkeys(agent_ids, until))

    async def renew(self) -> None:
        """Vouch again for every agent with a desktop open here (the heartbeat)."""
        await self._vouch(list(self._open))

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await self.renew()
            except Exception:  # Redis away for a moment: the next heartbeat tries again
                log.warning("presence: renewal failed", exc_info=True)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            try:
                await self.sweep_once()
            except Exception:
                log.warning("presence: sweep failed", exc_info=True)
