"""REST: campaign notices.

    POST /api/campaigns                               a supervisor or admin enters one (audited)
    GET  /api/campaigns                               supervisors and admins: every campaign
    GET  /api/campaigns/notices                       the caller's notices, with their acknowledgement
    POST /api/campaigns/{campaign_id}/acknowledge     the caller has read it
    GET  /api/campaigns/{campaign_id}/readers         who has and has not read it (a supervisor:
                                                      their teams' agents; an admin: every agent)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cti.access import team_agents
from cti.campaign_service import CampaignDraft, CampaignService
from cti.campaigns import pop_view
from cti.domain import Channel, Role
from cti.errors import Unavailable
from desktop_api.common import ok, principal, typed_body
from desktop_api.keys import SERVICES
from desktop_api.schemas import CleanText, Line

routes = web.RouteTableDef()

Keyword = Annotated[Line, Field(min_length=2, max_length=100)]


class CampaignIn(BaseModel):
    """Times: seconds since the epoch or ISO 8601 (UTC when no offset is given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[Line, Field(min_length=1, max_length=200)]
    starts_at: datetime
    ends_at: datetime
    notice_at: datetime | None = None
    channels: Annotated[list[Channel], Field(max_length=len(Channel))] = []
    summary: Annotated[CleanText, Field(min_length=1, max_length=2000)]
    public_faq: Annotated[CleanText, Field(max_length=20_000)] = ""
    internal_notes: Annotated[CleanText, Field(max_length=20_000)] = ""
    keywords: Annotated[list[Keyword], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _order(self) -> Self:
        if _epoch(self.ends_at) <= _epoch(self.starts_at):
            raise ValueError("'ends_at' must be after 'starts_at'")
        if self.notice_at is not None and _epoch(self.notice_at) > _epoch(self.starts_at):
            raise ValueError("'notice_at' must be no later than 'starts_at'")
        return self

    def draft(self) -> CampaignDraft:
        return CampaignDraft(
            name=self.name.strip(), starts_at=_epoch(self.starts_at), ends_at=_epoch(self.ends_at),
            notice_at=_epoch(self.notice_at) if self.notice_at is not None else None,
            channels=tuple(dict.fromkeys(c.value for c in self.channels)), summary=self.summary,
            public_faq=self.public_faq, internal_notes=self.internal_notes,
            keywords=tuple(dict.fromkeys(k.strip() for k in self.keywords)))


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def _campaigns(request: web.Request) -> CampaignService:
    campaigns = request.app[SERVICES].campaigns
    if campaigns is None:
        raise Unavailable("campaigns-unavailable", "campaign notices are not running on this server")
    return campaigns


@routes.post("/api/campaigns")
async def create_campaign(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    body = await typed_body(CampaignIn, request)
    campaign = await _campaigns(request).create(body.draft(), actor=who.agent_id)
    return ok(pop_view(campaign), status=201)


@routes.get("/api/campaigns")
async def list_campaigns(request: web.Request) -> web.Response:
    principal(request).require(Role.SUPERVISOR, Role.ADMIN)
    return ok({"campaigns": [pop_view(c) for c in await _campaigns(request).campaigns()]})


@routes.get("/api/campaigns/notices")
async def my_notices(request: web.Request) -> web.Response:
    who = principal(request)
    return ok({"notices": await _campaigns(request).notices(who.agent_id)})


@routes.post("/api/campaigns/{campaign_id}/acknowledge")
async def acknowledge(request: web.Request) -> web.Response:
    who = principal(request)
    campaign_id = request.match_info["campaign_id"]
    at = await _campaigns(request).acknowledge(campaign_id, who.agent_id)
    return ok({"campaign_id": campaign_id, "agent_id": who.agent_id, "acknowledged_at": at})


@routes.get("/api/campaigns/{campaign_id}/readers")
async def readers(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    config = request.app[SERVICES].config
    # The agents who must read it: a supervisor's own teams (themself left out), or every agent.
    agents = ({a for a in team_agents(config, who.agent_id) if a != who.agent_id}
              if who.role is Role.SUPERVISOR else set(config.agents))
    return ok(await _campaigns(request).readers(request.match_info["campaign_id"], agents))
