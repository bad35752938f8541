"""The wallboard: a read-only page for a wall screen, and the token that opens it and nothing else.

A supervisor or an admin mints a wallboard token (``POST /api/wallboard-tokens``). It is signed
with a key of its own, derived from the token secret, and carries no role: every other route and
socket reads tokens with the log-in key and the role claim, so they refuse it (401) without
knowing it exists. It shows what its minter may see (their teams' queues and agents; an admin's:
all), read at each use, so it stops when the minter loses the role; it can be revoked by id.
The page takes the token from the address's fragment (never sent to the server or kept in logs)
and asks ``GET /api/wallboard`` every few seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from pathlib import Path

import jwt
from aiohttp import web

from cti.access import team_agents, visible_queues
from cti.domain import Role, jsonable
from cti.errors import CtiError, InvalidInput
from cti.services import Services
from cti.wallboard_view import wallboard
from desktop_api.auth import Principal, Unauthorized
from desktop_api.common import json_body, ok, principal
from desktop_api.keys import SERVICES

STATIC = Path(__file__).with_name("static")
KIND = "wallboard"
DAY = 86_400.0
DEFAULT_DAYS = 30
MAX_DAYS = 365
routes = web.RouteTableDef()


def _key(secret: str) -> bytes:
    # A key of its own: a wallboard token never verifies as a log-in token, nor one as the other.
    return hmac.new(secret.encode(), b"wallboard-token/v1", hashlib.sha256).digest()


def issue_wallboard_token(*, secret: str, minter: str, now: float, days: int) -> tuple[str, str]:
    """(the token, its id)."""
    jti = uuid.uuid4().hex
    claims = {"typ": KIND, "sub": minter, "iat": int(now), "exp": int(now + days * DAY), "jti": jti}
    return jwt.encode(claims, _key(secret), algorithm="HS256"), jti


async def wallboard_viewer(services: Services, token: str) -> Principal:
    """The minter the token shows the board of; 401 for anything else."""
    try:
        claims = jwt.decode(token, _key(services.token_secret), algorithms=["HS256"],
                            options={"require": ["typ", "sub", "exp", "jti"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized("bad-token", "missing, expired or invalid token") from exc
    if claims["typ"] != KIND or await services.tokens.is_revoked(str(claims["jti"])):
        raise Unauthorized("bad-token", "missing, expired or invalid token")
    minter = services.config.agents.get(str(claims["sub"]))
    if minter is None or minter.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Unauthorized("stale-token", "whoever made this wallboard token may no longer")
    return Principal(agent_id=minter.id, role=minter.role, jti=str(claims["jti"]),
                     expires_at=float(claims["exp"]))


async def _viewer(request: web.Request) -> Principal:
    try:
        who = principal(request)  # a supervisor's or an admin's own log-in
    except CtiError as refused:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise
        try:
            return await wallboard_viewer(request.app[SERVICES], header[7:])
        except Unauthorized:
            raise refused from None
    who.require(Role.SUPERVISOR, Role.ADMIN)
    return who


@routes.post("/api/wallboard-tokens")
async def mint(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    days = (await json_body(request)).get("ttl_days", DEFAULT_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput("bad-ttl", f"ttl_days is a whole number of days from 1 to {MAX_DAYS}")
    now = services.clock.now()
    token, jti = issue_wallboard_token(secret=services.token_secret, minter=who.agent_id, now=now, days=days)
    await services.context.audit(actor=who.agent_id, action="wallboard.token_minted", target=jti,
                                 details={"expires_at": int(now + days * DAY)})
    return ok({"id": jti, "token": token, "expires_at": int(now + days * DAY),
               "url": f"/wallboard#token={token}"}, status=201)


@routes.delete("/api/wallboard-tokens/{token_id}")
async def revoke(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    jti = request.match_info["token_id"]
    if len(jti) != 32 or any(ch not in "0123456789abcdef" for ch in jti):
        raise InvalidInput("bad-token-id", "a wallboard token id is 32 hex digits")
    # Kept as long as any wallboard token can live.
    await services.tokens.revoke(jti, expires_at=services.clock.now() + MAX_DAYS * DAY)
    await services.context.audit(actor=who.agent_id, action="wallboard.token_revoked", target=jti)
    return ok({"id": jti, "revoked": True})


@routes.get("/api/wallboard")
async def figures(request: web.Request) -> web.Response:
    who = await _viewer(request)
    services = request.app[SERVICES]
    config = services.config
    if who.role is Role.ADMIN:
        queues, agents = list(config.queues.values()), list(config.agents.values())
    else:
        mine, people = visible_queues(config, who.agent_id), team_agents(config, who.agent_id)
        queues = [q for q in config.queues.values() if q.name in mine]
        agents = [a for a in config.agents.values() if a.id in people]
    stats = await services.queue_stats()  # the boards' levels: the event log, as the reports read it
    routing = await services.routing.snapshot()
    now = services.clock.now()
    board = wallboard(now=now, queues=queues, waiting=routing.waiting, levels=stats["service_level"],
                      agents=agents, states={a.agent_id: a for a in routing.agents})
    return ok({"at": now, "window": stats["service_level_window"], "queues": jsonable(board)})


def _file(name: str, content_type: str) -> web.FileResponse:
    return web.FileResponse(STATIC / name, headers={"Content-Type": content_type})


@routes.get("/wallboard")
async def page(request: web.Request) -> web.FileResponse:
    return _file("wallboard.html", "text/html; charset=utf-8")


@routes.get("/assets/wallboard.css")
async def style(request: web.Request) -> web.FileResponse:
    return _file("wallboard.css", "text/css; charset=utf-8")
