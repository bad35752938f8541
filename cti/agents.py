"""Agents: who may do what, and their presence (state with a reason code)."""

from __future__ import annotations

import logging
from typing import Any

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


class AgentService:
    def __init__(self, *, config: AppConfig | LiveConfig, routing: RoutingStore, context: ContextStore,
                 hub: EventHub, clock: Clock, poke: Any) -> None:
        self._live = as_live(config)
        # Agents added or given new skills or capacity by an admin are told to the router.
        self._live.watch(self._follow)
        self._routing = routing
        self._context = context
        self._hub = hub
        self._clock = clock
        self._poke = poke

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
        agent = self._config.agents.get(agent_id)
        if agent is None:
            raise NotFound("agent-not-found", f"no agent {agent_id!r}", agent_id=agent_id)
        return agent

    def may_supervise(self, actor_id: str, agent_id: str) -> bool:
        actor = self.profile(actor_id)
        if actor.role is Role.ADMIN:
            return True
        if actor.role is not Role.SUPERVISOR:
            return False
        team = self.profile(agent_id).team
        return team is not None and actor_id in self._config.teams[team].supervisors

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
        now = self._clock.now()
        snap = await self._routing.set_agent_state(agent_id, new_state, reason=reason, now=now)
        await self._hub.publish(AgentStateChanged(at=now, agent_id=agent_id, state=new_state.value,
                                                  reason=reason,
                                                  by=actor_id if actor_id != agent_id else None))
        log.info("agent state agent=%s state=%s reason=%s by=%s", agent_id, new_state.value, reason, actor_id)
        if new_state is AgentState.AVAILABLE:
            self._poke()
        return agent_view(profile, snap)


def agent_view(profile: AgentProfile, snap: AgentSnapshot | None) -> dict[str, Any]:
    return {
        "id": profile.id, "name": profile.name, "role": profile.role.value, "team": profile.team,
        "skills": dict(profile.skills), "capacity": {k.value: v for k, v in profile.capacity.items()},
        "state": snap.state.value if snap else AgentState.OFFLINE.value,
        "reason": snap.reason if snap else None,
        "load": {k.value: v for k, v in snap.load.items()} if snap else {},
        "idle_since": snap.idle_since if snap else None,
    }
