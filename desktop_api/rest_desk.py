"""REST for the agent desk: its options (dispositions, away reasons, canned replies), canned
replies filled in for one conversation, whom work may be transferred to, and recent work."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti import admin_edit
from cti.access import may_see_interaction, supervised_teams, team_agents, visible_queues
from cti.availability import TAKES_WORK, transfer_refusal
from cti.canned import reply_json, variables, visible_replies
from cti.config import AppConfig
from cti.conversations import group
from cti.domain import AgentState, Interaction, InteractionState, Role
from cti.errors import Forbidden, NotFound, Unavailable
from cti.services import Services
from desktop_api.auth import Principal
from desktop_api.common import json_body, ok, principal, typed_query
from desktop_api.keys import SERVICES
from desktop_api.rest_admin import version_json
from desktop_api.scope import visible_customer, visible_interaction

routes = web.RouteTableDef()


def desk_options(services: Services, who: Principal) -> dict[str, Any]:
    """What the admins set for this person's desk; sent in the hello and by ``/api/desk-options``."""
    config = services.config
    return {"dispositions": list(config.dispositions), "away_reasons": list(config.away_reasons),
            "canned_replies": [reply_json(r) for r in visible_replies(config, who.agent_id, who.role)]}


@routes.get("/api/desk-options")
async def get_desk_options(request: web.Request) -> web.Response:
    return ok(desk_options(request.app[SERVICES], principal(request)))


@routes.get("/api/interactions/{interaction_id}/canned-replies")
async def canned_replies(request: web.Request) -> web.Response:
    """The caller's canned replies with this conversation's variables filled in."""
    services, who, interaction = await visible_interaction(request)
    try:
        customer = await services.context.customer(interaction.customer_id)
    except NotFound:
        customer = None
    values = variables(interaction=interaction, customer=customer,
                       agent=services.config.agents.get(who.agent_id))
    return ok({"canned_replies": [reply_json(r, values) for r in
                                  visible_replies(services.config, who.agent_id, who.role)]})


class PickerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    interaction_id: str | None = Field(default=None, min_length=1, max_length=128)


def _transfer_agents(services: Services, who: Principal) -> list[str]:
    """Whom the caller may see in the picker: their own team (agents), their teams (supervisors),
    everyone (admins); never themself."""
    config = services.config
    if who.role is Role.ADMIN:
        ids: set[str] = set(config.agents)
    elif who.role is Role.SUPERVISOR:
        ids = team_agents(config, who.agent_id)
    else:
        team = config.team_of(who.agent_id)
        ids = {a.id for a in config.agents.values() if team is not None and a.team == team}
    return sorted(ids - {who.agent_id})


@routes.get("/api/transfer-targets")
async def transfer_targets(request: web.Request) -> web.Response:
    """Who could take a transfer now (for ``interaction_id``: its channel and skills, in the
    router's words) and each queue's waiting count and longest wait."""
    who = principal(request)
    services = request.app[SERVICES]
    query = typed_query(PickerQuery, request)
    interaction: Interaction | None = None
    if query.interaction_id is not None:
        interaction = await services.context.interaction(query.interaction_id)
        if not may_see_interaction(services.config, who.agent_id, who.role, interaction):
            raise Forbidden("not-your-interaction", "this interaction is not yours",
                            interaction_id=interaction.id)
    agents = []
    for agent_id in _transfer_agents(services, who):
        profile = services.config.agents[agent_id]
        snap = await services.routing.agent(agent_id)
        state = snap.state if snap is not None else AgentState.OFFLINE
        if interaction is not None:
            why = transfer_refusal(snap, channel=interaction.channel, skills=interaction.skills)
        else:
            why = None if state in TAKES_WORK else f"not-available:{state.value}"
        agents.append({"id": agent_id, "name": profile.name, "team": profile.team, "state": state.value,
                       "reason": snap.reason if snap is not None else None,
                       "can_take": why is None, "why": why})
    stats = await services.routing.stats(services.clock.now())
    names = (visible_queues(services.config, who.agent_id) if who.role is Role.SUPERVISOR
             else set(services.config.queues))
    queues = [{"name": name, "waiting": sum(stats.waiting_by_queue.get(name, {}).values()),
               "longest_wait": round(stats.oldest_wait.get(name, 0.0), 1)}
              for name in services.config.queues if name in names]
    return ok({"agents": agents, "queues": queues})


class RecentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=20, ge=1, le=100)


@routes.get("/api/me/recent")
async def recent_work(request: web.Request) -> web.Response:
    """The caller's own closed work, newest first, with each customer's name: the inbox's
    "recently closed"."""
    who = principal(request)
    services = request.app[SERVICES]
    query = typed_query(RecentQuery, request)
    items = await services.context.list_interactions(states=[InteractionState.CLOSED], agent_id=who.agent_id,
                                                     limit=query.limit)
    out = []
    for item in items:
        try:
            name = (await services.context.customer(item.customer_id)).display_name
        except NotFound:
            name = None
        out.append({"id": item.id, "channel": item.channel.value, "state": item.state.value,
                    "queue": item.queue, "disposition": item.disposition, "customer_id": item.customer_id,
                    "customer_name": name, "arrived_at": item.arrived_at, "ended_at": item.ended_at})
    return ok({"interactions": out})


class ConversationsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=50, ge=1, le=200)
    before: str | None = Field(default=None, max_length=500)


@routes.get("/api/customers/{customer_id}/conversations")
async def conversations(request: web.Request) -> web.Response:
    """The customer's timeline page grouped by conversation, with each one's channel, outcome and
    disposition; scoped as the customer is (``visible_customer``)."""
    who = principal(request)
    services = request.app[SERVICES]
    query = typed_query(ConversationsQuery, request)
    customer = await visible_customer(services, who, request.match_info["customer_id"])
    page = await services.context.timeline(customer.id, limit=query.limit, before=query.before)
    found: dict[str, Interaction] = {}
    for interaction_id in dict.fromkeys(e.interaction_id for e in page.entries):
        try:
            found[interaction_id] = await services.context.interaction(interaction_id)
        except NotFound:
            continue
    return ok({"customer_id": customer.id, "conversations": group(page.entries, found),
               "next_cursor": page.next_cursor})


def _may_edit_reply(config: AppConfig, who: Principal, teams: Sequence[str]) -> None:
    """Supervisors write replies of the teams they supervise only; a reply for everyone (no team)
    is the admins'."""
    if who.role is Role.ADMIN:
        return
    mine = supervised_teams(config, who.agent_id)
    if not teams or not set(teams) <= mine:
        raise Forbidden("not-your-team", "you may change canned replies of the teams you supervise only",
                        teams=list(teams)[:20])


def _reply_teams(document: Mapping[str, Any], reply_id: str) -> list[str] | None:
    found = next((r for r in document.get("canned_replies") or [] if r.get("id") == reply_id), None)
    return None if found is None else list(found.get("teams") or [])


async def _edit_replies(request: web.Request,
                        change: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    if services.admin is None:
        raise Unavailable("admin-unavailable", "live administration is not set up on this server")
    # Checked on the newest version, under the admin service's lock (``change`` runs there).
    info = await services.admin.edit(change, actor=who.agent_id)
    return ok(version_json(info))


@routes.put("/api/canned-replies/{reply_id}")
async def put_canned_reply(request: web.Request) -> web.Response:
    """Add or replace a canned reply: admins any, supervisors their teams' (a new version of the
    configuration, audited with their name)."""
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    reply_id = request.match_info["reply_id"]
    data = await json_body(request)
    config = request.app[SERVICES].config
    raw = data.get("teams")
    _may_edit_reply(config, who, [str(t) for t in raw] if isinstance(raw, list) else [])

    def change(document: Mapping[str, Any]) -> Mapping[str, Any]:
        existing = _reply_teams(document, reply_id)
        if existing is not None:
            _may_edit_reply(config, who, existing)
        return admin_edit.put_item(document, "canned_replies", reply_id, data, merge=False)

    return await _edit_replies(request, change)


@routes.delete("/api/canned-replies/{reply_id}")
async def delete_canned_reply(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    reply_id = request.match_info["reply_id"]
    config = request.app[SERVICES].config

    def change(document: Mapping[str, Any]) -> Mapping[str, Any]:
        _may_edit_reply(config, who, _reply_teams(document, reply_id) or [])
        return admin_edit.delete_item(document, "canned_replies", reply_id)

    return await _edit_replies(request, change)
