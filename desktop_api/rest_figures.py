"""REST: an interaction's event log and the figures read from the logs, for supervisors (their
teams' queues and agents) and admins (everything); agents are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cti.access import supervisor_reach
from cti.domain import Channel, Role, jsonable
from cti.errors import Forbidden, Unavailable
from cti.eventlog import EventLogRecords
from cti.figures import Bucket, GroupBy
from cti.reporting import DEFAULT_SHORT_ABANDON, figures_from_log, queue_targets
from cti.segments import segments
from cti.services import Services
from desktop_api.common import ok, principal, typed_query
from desktop_api.keys import SERVICES
from desktop_api.schemas import Ident
from desktop_api.scope import visible_interaction

routes = web.RouteTableDef()

MAX_RANGE = 93 * 86_400.0  # a quarter: longer reports are asked for in parts


class RangeQuery(BaseModel):
    """``from`` and ``to``: seconds since the epoch or ISO 8601 (UTC when no offset is given);
    ``to`` after ``from``, at most ``MAX_RANGE`` apart. Other keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")

    @model_validator(mode="after")
    def _range(self) -> Self:
        span = self.end_at - self.start_at
        if span <= 0:
            raise ValueError("'to' must be after 'from'")
        if span > MAX_RANGE:
            raise ValueError(f"the range is at most {MAX_RANGE / 86_400:.0f} days")
        return self

    @property
    def start_at(self) -> float:
        return _epoch(self.start)

    @property
    def end_at(self) -> float:
        return _epoch(self.end)


class FiguresQuery(RangeQuery):
    by: Bucket = Bucket.HOUR
    group: GroupBy | None = None
    queue: Ident | None = None
    channel: Channel | None = None
    agent: Ident | None = None
    short_abandon: float = Field(default=DEFAULT_SHORT_ABANDON, ge=0, le=3600)


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def event_log(services: Services) -> EventLogRecords:
    if services.event_log is None:
        raise Unavailable("no-event-log", "this server keeps no event log")
    return services.event_log


@routes.get("/api/interactions/{interaction_id}/events")
async def interaction_events(request: web.Request) -> web.Response:
    """One interaction's log, oldest first, and the segments read from it."""
    principal(request).require(Role.SUPERVISOR, Role.ADMIN)
    services, _, interaction = await visible_interaction(request)
    log = await event_log(services).of(interaction.id)
    return ok({"interaction_id": interaction.id, "events": [e.to_dict() for e in log],
               "segments": [jsonable(s) for s in segments(log, now=services.clock.now())]})


@routes.get("/api/figures")
async def get_figures(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    query = typed_query(FiguresQuery, request)
    queues: set[str] | None = {query.queue} if query.queue is not None else None
    agents: set[str] | None = {query.agent} if query.agent is not None else None
    if who.role is Role.SUPERVISOR:
        # Their teams' queues and agents only: asking for another is refused, not emptied.
        reach = supervisor_reach(services.config, who.agent_id)
        if query.queue is not None and query.queue not in reach.queues:
            raise Forbidden("not-your-queue", "you do not supervise this queue", queue=query.queue)
        if query.agent is not None and query.agent not in reach.agents:
            raise Forbidden("not-your-team", "you do not supervise this agent", agent_id=query.agent)
        queues = queues if queues is not None else set(reach.queues)
    rows = await figures_from_log(
        event_log(services), start=query.start_at, end=query.end_at, by=query.by, now=services.clock.now(),
        targets=queue_targets(services.config), short_abandon=query.short_abandon, group=query.group,
        queues=queues, channels={query.channel.value} if query.channel is not None else None, agents=agents)
    body: dict[str, Any] = {"from": query.start_at, "to": query.end_at, "by": query.by.value,
                            "group": query.group.value if query.group else None,
                            "short_abandon": query.short_abandon, "rows": [jsonable(r) for r in rows]}
    return ok(body)
