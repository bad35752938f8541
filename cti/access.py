"""Who may read what: the rules as pure functions of the live configuration, and the ports of
the records they need (``context.access``, the token stores).

- An agent reads a customer whose interaction they hold now (offered, active, wrap-up), held
  within ``access.agent_history_days``, or that a supervisor of their team shared with them.
- A supervisor reads the interactions of their teams' queues (a queue with no ``teams`` is every
  supervisor's) or held by their teams' agents, and the customers of those interactions.
- An admin reads everything.

The configuration is passed in on every call (never kept), so a demotion or a reload counts at
the next request.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cti.config import AppConfig
from cti.domain import Interaction, Role

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Reach:
    """Whose work opens a customer or an interaction: interactions held by ``agents`` (since
    ``held_since`` when set) or live with them now, interactions in ``queues``, and customers
    shared with ``shared_to``."""

    agents: Collection[str] = ()
    queues: Collection[str] = ()
    held_since: float | None = None
    shared_to: str | None = None


class AccessRecords(Protocol):
    async def share(self, *, share_id: str, customer_id: str, agent_id: str, shared_by: str,
                    at: float, until: float) -> None: ...

    async def reaches(self, root_id: str, reach: Reach, *, now: float) -> bool: ...

    async def search(self, text: str, reach: Reach | None, *, now: float,
                     limit: int) -> Sequence[str]: ...


class TokenRecords(Protocol):
    """Revoked tokens (by ``jti``) and one-time WebSocket tickets, shared by every node."""

    async def revoke(self, jti: str, *, expires_at: float) -> None: ...

    async def is_revoked(self, jti: str) -> bool: ...

    async def put_ticket(self, ticket: str, principal: Mapping[str, Any], *, expires_at: float) -> None: ...

    async def take_ticket(self, ticket: str) -> Mapping[str, Any] | None:
        """The ticket's principal, once: a second take of the same ticket (on any node) is None."""
        ...


def supervised_teams(config: AppConfig, actor_id: str) -> set[str]:
    return {t.name for t in config.teams.values() if actor_id in t.supervisors}


def team_agents(config: AppConfig, actor_id: str) -> set[str]:
    """The agents of the teams ``actor_id`` supervises, and the supervisor themself."""
    teams = supervised_teams(config, actor_id)
    return {a.id for a in config.agents.values() if a.team in teams} | {actor_id}


def in_team_agents(config: AppConfig, actor_id: str, agent_id: str) -> bool:
    """``agent_id in team_agents(config, actor_id)`` from the agent's own team, without listing
    every agent: a supervisor's socket asks it of each agent event, and listing them made every
    agent's log-in cost each of its supervisors a pass over all agents."""
    if agent_id == actor_id:
        return True
    profile = config.agents.get(agent_id)
    team = config.teams.get(profile.team) if profile is not None and profile.team is not None else None
    return team is not None and actor_id in team.supervisors


def visible_queues(config: AppConfig, actor_id: str) -> set[str]:
    teams = supervised_teams(config, actor_id)
    return {q.name for q in config.queues.values() if not q.teams or teams.intersection(q.teams)}


def supervisor_reach(config: AppConfig, actor_id: str) -> Reach:
    return Reach(agents=team_agents(config, actor_id), queues=visible_queues(config, actor_id))


def customer_reach(config: AppConfig, agent_id: str, role: Role, *, now: float) -> Reach | None:
    """What opens a customer to this person; None: everything (an admin)."""
    if role is Role.ADMIN:
        return None
    if role is Role.SUPERVISOR:
        return supervisor_reach(config, agent_id)
    return Reach(agents=(agent_id,), held_since=now - config.access.agent_history_days * DAY,
                 shared_to=agent_id)


def may_see_interaction(config: AppConfig, agent_id: str, role: Role, interaction: Interaction) -> bool:
    if role is Role.ADMIN:
        return True
    if role is Role.SUPERVISOR:
        return (interaction.queue in visible_queues(config, agent_id)
                or (interaction.agent_id is not None
                    and in_team_agents(config, agent_id, interaction.agent_id)))
    # An agent sees the interaction offered or given to them, and nothing else.
    return interaction.agent_id == agent_id


def may_supervise(config: AppConfig, actor_id: str, role: Role, agent_id: str) -> bool:
    if role is Role.ADMIN:
        return agent_id in config.agents
    return role is Role.SUPERVISOR and in_team_agents(config, actor_id, agent_id)
