"""Tokens that carry the agent id and role, and the checks handlers use."""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from aiohttp import web

from cti.domain import Role
from cti.errors import CtiError, Forbidden


class Unauthorized(CtiError):
    status = 401


@dataclass(frozen=True, slots=True)
class Principal:
    agent_id: str
    role: Role

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden("wrong-role", f"this needs the role {' or '.join(r.value for r in roles)}",
                            role=self.role.value)


def issue_token(*, secret: str, agent_id: str, role: Role, now: float, ttl: float) -> str:
    payload = {"sub": agent_id, "role": role.value, "iat": int(now), "exp": int(now + ttl)}
    return jwt.encode(payload, secret, algorithm="HS256")


def read_token(token: str, *, secret: str) -> Principal:
    try:
        payload = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "role", "exp"]})
        return Principal(agent_id=str(payload["sub"]), role=Role(payload["role"]))
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthorized("bad-token", "missing, expired or invalid token") from exc


def token_from_request(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:]
    # Browsers cannot set headers on a WebSocket handshake: the token may ride in the query.
    return request.query.get("token", "")
