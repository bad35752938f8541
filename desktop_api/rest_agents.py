"""REST: log-in, agents and their states."""

from __future__ import annotations

from aiohttp import web

from cti.domain import Role
from cti.errors import Forbidden
from cti.login_throttle import TooManyAttempts
from desktop_api.auth import Unauthorized, issue_token
from desktop_api.client_address import client_address
from desktop_api.common import field_str, json_body, ok, principal
from desktop_api.keys import LOGIN, SERVICES
from desktop_api.team_view import watched_agents

routes = web.RouteTableDef()


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    data = await json_body(request)
    agent_id = field_str(data, "agent_id", max_len=100) or ""
    password = field_str(data, "password", max_len=200) or ""
    try:
        # The client the trusted proxy names, as the chat's caps count it: behind a proxy every
        # agent shares its address, and one guesser would lock out the whole center.
        client = client_address(request, services.config.traffic.trusted_proxies)
        profile = await request.app[LOGIN].log_in(agent_id, password, client=client)
    except TooManyAttempts as exc:
        return web.json_response(exc.to_dict(), status=exc.status,
                                 headers={"Retry-After": str(exc.retry_after)})
    if profile is None:
        # One answer for an unknown agent and a wrong password: ids are not probeable.
        raise Unauthorized("bad-credentials", "unknown agent or wrong password")
    token = issue_token(secret=services.token_secret, agent_id=profile.id, role=profile.role,
                        now=services.clock.now(), ttl=services.config.token_ttl)
    return ok({"token": token, "agent": await services.agents.view(profile.id)})


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    return ok(await request.app[SERVICES].agents.view(who.agent_id))


@routes.get("/api/agents")
async def list_agents(request: web.Request) -> web.Response:
    who = principal(request)
    services = request.app[SERVICES]
    if who.role is Role.AGENT:
        return ok([await services.agents.view(who.agent_id)])
    return ok([await services.agents.view(a) for a in watched_agents(services, who)])


@routes.get("/api/agents/{agent_id}")
async def get_agent(request: web.Request) -> web.Response:
    who = principal(request)
    services = request.app[SERVICES]
    agent_id = request.match_info["agent_id"]
    services.agents.profile(agent_id)
    if agent_id != who.agent_id and not services.agents.may_supervise(who.agent_id, agent_id):
        raise Forbidden("not-your-team", "you do not supervise this agent", agent_id=agent_id)
    return ok(await services.agents.view(agent_id))


@routes.put("/api/agents/{agent_id}/state")
async def set_state(request: web.Request) -> web.Response:
    who = principal(request)
    data = await json_body(request)
    state = field_str(data, "state", max_len=20, kind="line") or ""
    reason = field_str(data, "reason", required=False, max_len=64, kind="line")
    view = await request.app[SERVICES].agents.set_state(
        request.match_info["agent_id"], state, reason=reason, actor_id=who.agent_id)
    return ok(view)
