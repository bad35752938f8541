"""What a supervisor's socket carries: the events of their teams' agents and of their teams'
queues (a queue with no teams is every supervisor's), read against the live configuration."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from cti.access import in_team_agents, team_agents, visible_queues
from cti.domain import Role
from cti.errors import NotFound
from cti.events import DomainEvent
from cti.services import Services
from desktop_api.auth import Principal

MAX_KNOWN = 2000  # interactions whose queue a socket remembers (an LRU, so memory stays bounded)


def watched_agents(services: Services, who: Principal) -> list[str]:
    """The agents a supervisor (their teams) or an admin (all) watches, in configuration order."""
    if who.role is Role.ADMIN:
        return list(services.config.agents)
    mine = team_agents(services.config, who.agent_id)
    return [a for a in services.config.agents if a in mine]


class TeamView:
    def __init__(self, services: Services, who: Principal) -> None:
        self._services = services
        self._who = who
        self._queues: OrderedDict[str, str] = OrderedDict()  # interaction id -> its queue

    async def wants(self, event: DomainEvent) -> bool:
        config = self._services.config
        agent = event.agent()
        if agent is not None:
            return in_team_agents(config, self._who.agent_id, agent)
        queue = await self._queue_of(event)
        return queue is None or queue in visible_queues(config, self._who.agent_id)

    async def _queue_of(self, event: DomainEvent) -> str | None:
        """The queue of the event's interaction; None for events of no interaction."""
        snapshot = getattr(event, "interaction", None)
        interaction_id = getattr(event, "interaction_id", None)
        if isinstance(snapshot, Mapping):
            interaction_id, queue = str(snapshot.get("id")), str(snapshot.get("queue"))
        elif interaction_id is None:
            return None
        elif interaction_id in self._queues:
            self._queues.move_to_end(interaction_id)
            return self._queues[interaction_id]
        else:
            try:
                queue = (await self._services.context.interaction(interaction_id)).queue
            except NotFound:
                return ""  # gone: nobody's
        self._queues[interaction_id] = queue
        if len(self._queues) > MAX_KNOWN:
            self._queues.popitem(last=False)
        return queue
