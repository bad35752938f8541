"""Agents: who may do what, and their presence (state with a reason code).

Every state change goes through ``_change``: stored (``AgentStateRecords``, so a restart brings
the agent back as they were), applied to the routing store, and announced on the hub. Besides
the states a person sets, the server sets an agent away on its own when nobody is at their desk:
"no-answer" after a missed offer (``missed_offer``), "disconnected" when every desktop socket has
been gone for the grace period (``cti.presence``).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from cti.agent_records import AgentStateRecords, StoredAgentState
from cti.clock import Clock
from cti.config import AppConfig
from cti.domain import AgentProfile, AgentState, Role
from cti.errors import Forbidden, InvalidInput, NotFound
from cti.events import AgentStateChanged
from cti.hub import EventHub
from cti.live_config import LiveConfig, as_live
from cti.ports import ContextStore
from cti.routing import AgentSnapshot, RoutingStore
from cti.text import has_bad_line_chars

log = logging.getLogger(__name__)

# States a person may choose; wrap_up is set by the router after completed work.
SETTABLE = frozenset({AgentState.AVAILABLE, AgentState.AWAY, AgentState.BUSY, AgentState.OFFLINE})
MAX_REASON = 64
# States in which the agent is expected at their desk: a desk that is gone makes them away.
AT_DESK = frozenset({AgentState.AVAILABLE, AgentState.BUSY, AgentState.WRAP_UP})
NO_ANSWER = "no-answer"


class PresenceTouch(Protocol):
    async def touch(self, agent_id: str, at: float, *, create: bool) -> None: ...


class AgentService:
    def __init__(self, *, config: AppConfig | LiveConfig, routing: RoutingStore, context: ContextStore,
                 hub: EventHub, clock: Clock, poke: Any, records: AgentStateRecords | None = None,
                 presence: PresenceTouch | None = None) -> None:
        self._live = as_live(config)
        # Agents added or given new skills or capacity by an admin are told to the router.
        self._live.watch(self._follow)
        self._routing = routing
        self._context = context
        self._hub = hub
        self._clock = clock
        self._poke = poke
        self._records = records
        self._presence = presence

    @property
    def _config(self) -> AppConfig:
        return self._live.current  # read at each use: an admin's change counts at once

    async def _follow(self, old: AppConfig, new: AppConfig) -> None:
        now = self._clock.now()
        for agent in new.agents.values():
            before = old.agents.get(agent.id)
            if before is None or (before.skills, before.capacity) != (agent.skills, agent.capacity):
                await self._routing.register_agent(agent.id, skills=agent.skills, capacity=agent.capacity,
                                                   now=now)
        for agent_id in old.agents.keys() - new.agents.keys():
            # Removed: no more offers. Their open work stays theirs to finish.
            await self._routing.set_agent_state(agent_id, AgentState.OFFLINE, reason="removed", now=now)
        self._poke()

    async def register_all(self) -> None:
        now = self._clock.now()
        for agent in self._config.agents.values():
            await self._routing.register_agent(agent.id, skills=agent.skills, capacity=agent.capacity,
                                               now=now)

    def profile(self, agent_id: str) -> AgentProfile:
        return profile_of(self._config, agent_id)

    def may_supervise(self, actor_id: str, agent_id: str) -> bool:
        return may_supervise(self._config, actor_id, agent_id)

    def supervised(self, actor_id: str) -> list[AgentProfile]:
        return [a for a in self._config.agents.values() if self.may_supervise(actor_id, a.id)]

    async def view(self, agent_id: str) -> dict[str, Any]:
        profile = self.profile(agent_id)
        snap = await self._routing.agent(agent_id)
        return agent_view(profile, snap)

    async def set_state(self, agent_id: str, state: str, *, reason: str | None,
                        actor_id: str) -> dict[str, Any]:
        profile = self.profile(agent_id)
        try:
            new_state = AgentState(state)
        except ValueError as exc:
            raise InvalidInput("bad-state", f"unknown state {state!r}",
                               allowed=sorted(s.value for s in SETTABLE)) from exc
        if new_state not in SETTABLE:
            raise InvalidInput("bad-state", f"{state!r} cannot be set by hand",
                               allowed=sorted(s.value for s in SETTABLE))
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
            raise InvalidInput("bad-reason", f"a reason code is a string of at most {MAX_REASON} characters")
        if reason is not None and has_bad_line_chars(reason):  # logged and audited: one line only
            raise InvalidInput("bad-characters", "a reason code is one line without control characters")
        allowed = self._config.away_reasons
        if new_state is AgentState.AWAY and reason and allowed and reason not in allowed:
            raise InvalidInput("unknown-reason", f"{reason!r} is not one of the away reasons",
                               allowed=list(allowed))
        if actor_id != agent_id:
            if not self.may_supervise(actor_id, agent_id):
                raise Forbidden("not-your-team", "you do not supervise this agent", agent_id=agent_id)
            await self._context.audit(actor=actor_id, action="agent.set_state", target=agent_id,
                                      details={"state": new_state.value, "reason": reason})
        snap = await self._change(agent_id, new_state, reason, by=actor_id)
        return agent_view(profile, snap)

    async def set_away_if(self, agent_id: str, reason: str, *, when: frozenset[AgentState]) -> bool:
        """The server sets the agent away (``reason``) if they are in one of ``when`` now; a person
        who already chose another state keeps it. True if it was set."""
        snap = await self._routing.agent(agent_id)
        if snap is None or snap.state not in when:
            return False
        await self._change(agent_id, AgentState.AWAY, reason, by=None)
        return True

    async def missed_offer(self, agent_id: str) -> None:
        """An offer to the agent ended unanswered (timed out, their phone rang out): as Asterisk's
        queue autopause, a desk that does not answer is not offered the next customer."""
        if await self.set_away_if(agent_id, NO_ANSWER, when=frozenset({AgentState.AVAILABLE})):
            log.info("agent set away after a missed offer agent=%s", agent_id)

    async def restore(self) -> list[str]:
        """After a start: each agent back in their stored state, unless the routing store already
        holds a live one (another node of the centre is running). Returns who came back at
        their desk (available or busy), for the presence check to expect their desktop."""
        if self._records is None:
            return []
        now = self._clock.now()
        at_desk: list[str] = []
        for record in await self._records.load_all():
            if record.agent_id not in self._config.agents or record.state is AgentState.OFFLINE:
                continue
            live = await self._routing.agent(record.agent_id)
            if live is not None and live.state is not AgentState.OFFLINE:
                continue
            await self._routing.set_agent_state(record.agent_id, record.state, reason=record.reason, now=now)
            if record.state in AT_DESK:
                at_desk.append(record.agent_id)
        if at_desk:
            self._poke()
        return at_desk

    async def _change(self, agent_id: str, state: AgentState, reason: str | None, *,
                      by: str | None) -> AgentSnapshot:
        now = self._clock.now()
        if self._records is not None:
            # Stored first: a change the database refused is refused, not live and lost at restart.
            await self._records.save(StoredAgentState(agent_id=agent_id, state=state, reason=reason, at=now))
        snap = await self._routing.set_agent_state(agent_id, state, reason=reason, now=now)
        if self._presence is not None and state in AT_DESK:
            # Back at work without a desktop open (set by a supervisor): the grace starts again now.
            await self._presence.touch(agent_id, now, create=False)
        await self._hub.publish(AgentStateChanged(at=now, agent_id=agent_id, state=state.value, reason=reason,
                                                  by=by if by != agent_id else None))
        log.info("agent state agent=%s state=%s reason=%s by=%s", agent_id, state.value, reason,
                 by or "server")
        if state is AgentState.AVAILABLE:
            self._poke()
        return snap


def profile_of(config: AppConfig, agent_id: str) -> AgentProfile:
    agent = config.agents.get(agent_id)
    if agent is None:
        raise NotFound("agent-not-found", f"no agent {agent_id!r}", agent_id=agent_id)
    return agent


def may_supervise(config: AppConfig, actor_id: str, agent_id: str) -> bool:
    """Admins supervise everyone, supervisors the agents of the teams they supervise (pure)."""
    actor = profile_of(config, actor_id)
    if actor.role is Role.ADMIN:
        return True
    if actor.role is not Role.SUPERVISOR:
        return False
    team = profile_of(config, agent_id).team
    return team is not None and actor_id in config.teams[team].supervisors


def agent_view(profile: AgentProfile, snap: AgentSnapshot | None) -> dict[str, Any]:
    return {
        "id": profile.id, "name": profile.name, "role": profile.role.value, "team": profile.team,
        "skills": dict(profile.skills), "capacity": {k.value: v for k, v in profile.capacity.items()},
        "state": snap.state.value if snap else AgentState.OFFLINE.value,
        "reason": snap.reason if snap else None,
        "load": {k.value: v for k, v in snap.load.items()} if snap else {},
        "idle_since": snap.idle_since if snap else None,
    }
