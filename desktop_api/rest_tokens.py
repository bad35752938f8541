"""REST: the life of a log-in token after log-in: log-out, refresh, and WebSocket tickets."""

from __future__ import annotations

import secrets

from aiohttp import web

from desktop_api.auth import issue_token
from desktop_api.common import ok, principal
from desktop_api.keys import SERVICES

routes = web.RouteTableDef()

TICKET_TTL = 30.0  # seconds: a page asks for one right before it opens its socket


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    who = principal(request)
    await request.app[SERVICES].tokens.revoke(who.jti, expires_at=who.expires_at)
    return ok({"logged_out": True})


@routes.post("/api/token/refresh")
async def refresh(request: web.Request) -> web.Response:
    """A fresh token for a still-valid one, which is revoked (a page refreshes before expiry)."""
    who = principal(request)
    services = request.app[SERVICES]
    now = services.clock.now()
    token = issue_token(secret=services.token_secret, agent_id=who.agent_id, role=who.role, now=now,
                        ttl=services.config.token_ttl)
    await services.tokens.revoke(who.jti, expires_at=who.expires_at)
    return ok({"token": token, "expires_at": int(now + services.config.token_ttl)})


@routes.post("/api/ws-ticket")
async def ws_ticket(request: web.Request) -> web.Response:
    """A one-time ticket that opens one WebSocket within 30 s, so the token itself never rides
    in a URL (where proxies and logs keep it)."""
    who = principal(request)
    services = request.app[SERVICES]
    ticket = secrets.token_urlsafe(32)
    await services.tokens.put_ticket(ticket, who.claims(), expires_at=services.clock.now() + TICKET_TTL)
    return ok({"ticket": ticket, "expires_in": int(TICKET_TTL)})
