"""Tokens that carry the agent id and role, and the checks handlers use.

Every request that presents a token is checked once, by ``auth_middleware``, before its handler:
the signature and expiry, the revocation list (log-out and refresh revoke by ``jti``), and the
live configuration (the user must still exist with the token's role, so a demotion or removal
counts at the next request). A token rides in the ``Authorization`` header; the query string
carries one only on a WebSocket upgrade (browsers cannot set headers there), preferably as a
one-time ``ticket`` from ``POST /api/ws-ticket`` rather than the token itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from structlog.contextvars import bind_contextvars

from cti.domain import Role
from cti.errors import CtiError, Forbidden
from cti.services import Services
from desktop_api.keys import SERVICES


class Unauthorized(CtiError):
    status = 401


@dataclass(frozen=True, slots=True)
class Principal:
    agent_id: str
    role: Role
    jti: str = ""
    expires_at: float = 0.0

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden("wrong-role", f"this needs the role {' or '.join(r.value for r in roles)}",
                            role=self.role.value)

    def claims(self) -> dict[str, Any]:
        return {"sub": self.agent_id, "role": self.role.value, "jti": self.jti, "exp": self.expires_at}


def issue_token(*, secret: str, agent_id: str, role: Role, now: float, ttl: float) -> str:
    payload = {"sub": agent_id, "role": role.value, "iat": int(now), "exp": int(now + ttl),
               "jti": uuid.uuid4().hex}
    return jwt.encode(payload, secret, algorithm="HS256")


def read_token(token: str, *, secret: str) -> Principal:
    try:
        payload = jwt.decode(token, secret, algorithms=["HS256"],
                             options={"require": ["sub", "role", "exp", "jti"]})
        return _principal(payload)
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("bad-token", "missing, expired or invalid token") from exc


def _principal(claims: Any) -> Principal:
    return Principal(agent_id=str(claims["sub"]), role=Role(claims["role"]), jti=str(claims["jti"]),
                     expires_at=float(claims["exp"]))


SOCKETS = ("/ws/agent", "/ws/supervisor")


def _is_upgrade(request: web.Request) -> bool:
    # The socket endpoints answer nothing but an upgrade (anything else is refused by the
    # handshake), so the query string's credentials open nothing else.
    return request.path in SOCKETS


async def authenticate(request: web.Request) -> Principal:
    services = request.app[SERVICES]
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        who = read_token(header[7:], secret=services.token_secret)
    elif _is_upgrade(request) and "ticket" in request.query:
        who = await _ticket_holder(services, request.query["ticket"][:100])
    elif _is_upgrade(request) and "token" in request.query:
        who = read_token(request.query["token"], secret=services.token_secret)
    else:
        raise Unauthorized("bad-token", "missing, expired or invalid token")
    if await services.tokens.is_revoked(who.jti):
        raise Unauthorized("token-revoked", "this token was logged out; log in again")
    if not in_role(services, who):
        raise Unauthorized("stale-token", "your account or role has changed; log in again")
    return who


async def _ticket_holder(services: Services, ticket: str) -> Principal:
    claims = await services.tokens.take_ticket(ticket)
    # Nor past the life of the token it was asked with.
    if claims is None or float(claims["exp"]) < services.clock.now():
        raise Unauthorized("bad-ticket", "unknown, used or expired ticket")
    return _principal(claims)


def in_role(services: Services, who: Principal) -> bool:
    """The user still exists with the token's role in the live configuration (read every time,
    so a demotion, a removal or a reload counts at once)."""
    profile = services.config.agents.get(who.agent_id)
    return profile is not None and profile.role is who.role


async def still_valid(services: Services, who: Principal) -> bool:
    """For an open socket, before each command: not logged out, not demoted."""
    return in_role(services, who) and not await services.tokens.is_revoked(who.jti)


PRINCIPAL = web.RequestKey("principal", object)  # a Principal, or the CtiError to raise


def needs_auth(path: str) -> bool:
    return path.startswith("/api/") or path in SOCKETS


@web.middleware
async def auth_middleware(request: web.Request,
                          handler: Any) -> web.StreamResponse:
    """Authenticates once per request; handlers that need a principal raise what went wrong."""
    if needs_auth(request.path):
        try:
            who = await authenticate(request)
            request[PRINCIPAL] = who
            bind_contextvars(agent=who.agent_id)  # every line of this request is about them
        except Unauthorized as exc:
            request[PRINCIPAL] = exc
    response: web.StreamResponse = await handler(request)
    return response


def request_principal(request: web.Request) -> Principal:
    found = request.get(PRINCIPAL)
    if isinstance(found, Principal):
        return found
    if isinstance(found, CtiError):
        raise found
    raise Unauthorized("bad-token", "missing, expired or invalid token")
