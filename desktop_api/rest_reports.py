"""REST: reports over the event log and the contacts, as JSON or CSV, for supervisors (their teams'
queues and agents) and admins (everything); agents are refused. Formulas: ``docs/reports.md``.

- ``GET /api/reports/figures``: per bucket and queue / channel / agent / team, the figures of the
  live board with first-contact resolution across channels and CSAT beside them;
- ``GET /api/reports/trends``: the top contact reasons week over week;
- ``GET /api/reports/journey/{customer_id}``: one customer's contacts across channels.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cti.access import supervised_teams, supervisor_reach
from cti.domain import Role, jsonable
from cti.errors import Forbidden, Unavailable
from cti.figures import DAY, HOUR, WEEK, Bucket
from cti.reporting import queue_targets
from cti.reports import (
    COLUMNS,
    DEFAULT_FCR_DAYS,
    MAX_FCR_DAYS,
    Contact,
    ReportGroup,
    ReportRecords,
    Selection,
    Teams,
    journey,
    report,
    trends,
)
from cti.services import Services
from desktop_api.auth import Principal
from desktop_api.common import ok, principal, typed_query
from desktop_api.keys import SERVICES
from desktop_api.rest_figures import FiguresQuery, RangeQuery, event_log
from desktop_api.schemas import Ident
from desktop_api.scope import visible_customer

routes = web.RouteTableDef()

MAX_BUCKETS = 1000  # rows per group a report may ask for: hourly for ~41 days, daily for the 93
MAX_TOP = 50
MAX_JOURNEY = 200
_BUCKET_SECONDS = {Bucket.HOUR: HOUR, Bucket.DAY: DAY, Bucket.WEEK: WEEK}
Format = Literal["json", "csv"]


class ReportQuery(FiguresQuery):
    """The figures' query (``from``, ``to``, ``by``, ``queue``, ``channel``, ``agent``,
    ``short_abandon``), grouped also by team, narrowed also to a team, with the first-contact
    window and the answer's format."""

    group: ReportGroup | None = None  # type: ignore[assignment]  # the figures' groups and team
    team: Ident | None = None
    fcr_days: int = Field(default=DEFAULT_FCR_DAYS, ge=0, le=MAX_FCR_DAYS)
    format: Format = "json"

    @model_validator(mode="after")
    def _buckets(self) -> Self:
        count = (self.end_at - self.start_at) / _BUCKET_SECONDS[self.by]
        if count > MAX_BUCKETS:
            raise ValueError(f"at most {MAX_BUCKETS} {self.by.value}s; ask for a longer bucket or a "
                             "shorter range")
        return self


class TrendsQuery(RangeQuery):
    top: int = Field(default=10, ge=1, le=MAX_TOP)
    format: Format = "json"


class JourneyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fcr_days: int = Field(default=DEFAULT_FCR_DAYS, ge=0, le=MAX_FCR_DAYS)
    limit: int = Field(default=50, ge=1, le=MAX_JOURNEY)


def _contacts(services: Services) -> ReportRecords:
    if services.reports is None:
        raise Unavailable("no-reports", "this server keeps no contacts for reports")
    return services.reports


def _staff(request: web.Request) -> tuple[Services, Principal]:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    return request.app[SERVICES], who


def _selection(services: Services, who: Principal, query: ReportQuery) -> Selection:
    """The query's narrowing; for a supervisor, within their teams' queues (naming another queue,
    agent or team is refused, not emptied)."""
    config = services.config
    queues: set[str] | None = {query.queue} if query.queue is not None else None
    agents = {query.agent} if query.agent is not None else None
    teams = {query.team} if query.team is not None else None
    if who.role is Role.SUPERVISOR:
        reach = supervisor_reach(config, who.agent_id)
        if query.queue is not None and query.queue not in reach.queues:
            raise Forbidden("not-your-queue", "you do not supervise this queue", queue=query.queue)
        if query.agent is not None and query.agent not in reach.agents:
            raise Forbidden("not-your-team", "you do not supervise this agent", agent_id=query.agent)
        if query.team is not None and query.team not in supervised_teams(config, who.agent_id):
            raise Forbidden("not-your-team", "you do not supervise this team", team=query.team)
        queues = queues if queues is not None else set(reach.queues)
    return Selection(queues=queues, channels={query.channel.value} if query.channel is not None else None,
                     agents=agents, teams=teams)


def _cell(value: Any) -> Any:
    # A text cell a spreadsheet would run as a formula (a disposition typed as "=HYPERLINK(...)")
    # is written with a leading apostrophe; numbers are left as they are.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def csv_response(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, name: str) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@routes.get("/api/reports/figures")
async def report_figures(request: web.Request) -> web.Response:
    services, who = _staff(request)
    query = typed_query(ReportQuery, request)
    selection = _selection(services, who, query)
    now = services.clock.now()
    logs = await event_log(services).touching(query.start_at, query.end_at, channels=selection.channels)
    contacts = await _contacts(services).contacts(query.start_at, query.end_at + query.fcr_days * DAY)
    rows = report(logs, contacts, start=query.start_at, end=query.end_at, by=query.by, now=now,
                  targets=queue_targets(services.config), short_abandon=query.short_abandon,
                  fcr_days=query.fcr_days, teams=Teams.from_config(services.config), group=query.group,
                  selection=selection)
    flat = [r.flat() for r in rows]
    if query.format == "csv":
        return csv_response(("bucket_start", *COLUMNS),
                            ([_iso(r["bucket"]), *(r[c] for c in COLUMNS)] for r in flat), name="report")
    return ok({"from": query.start_at, "to": query.end_at, "by": query.by.value,
               "group": query.group.value if query.group else None, "short_abandon": query.short_abandon,
               "fcr_days": query.fcr_days, "rows": flat})


def _visible(services: Services, who: Principal, contacts: Sequence[Contact]) -> list[Contact]:
    """The contacts the caller may see: as the interaction rule (their teams' queues or agents)."""
    if who.role is Role.ADMIN:
        return list(contacts)
    reach = supervisor_reach(services.config, who.agent_id)
    return [c for c in contacts
            if c.queue in reach.queues or (c.agent_id is not None and c.agent_id in reach.agents)]


@routes.get("/api/reports/trends")
async def report_trends(request: web.Request) -> web.Response:
    services, who = _staff(request)
    query = typed_query(TrendsQuery, request)
    start, end = query.start_at, query.end_at
    contacts = _visible(services, who, await _contacts(services).contacts(start, end))
    logs = await event_log(services).touching(start, end)
    found = trends(logs, contacts, start=start, end=end, top=query.top)
    if query.format == "csv":
        return csv_response(("reason", *(_iso(w) for w in found.weeks), "change"),
                            ([t.reason, *t.counts, t.change] for t in found.rows), name="trends")
    return ok({"from": start, "to": end, "weeks": found.weeks,
               "rows": [{"reason": t.reason, "counts": list(t.counts), "total": t.total, "change": t.change}
                        for t in found.rows]})


@routes.get("/api/reports/journey/{customer_id}")
async def customer_journey(request: web.Request) -> web.Response:
    """A customer the caller may read (the timeline's rule, else 404 as for no such customer),
    with every contact of theirs, as the timeline shows them."""
    services, who = _staff(request)
    query = typed_query(JourneyQuery, request)
    customer = await visible_customer(services, who, request.match_info["customer_id"])
    store = _contacts(services)
    contacts = await store.of_customer(customer.id, limit=query.limit)
    logs = await store.logs([c.interaction_id for c in contacts])
    steps = journey(contacts, logs, fcr_days=query.fcr_days, now=services.clock.now())
    return ok({"customer_id": customer.id, "display_name": customer.display_name, "fcr_days": query.fcr_days,
               "steps": jsonable(steps)})
