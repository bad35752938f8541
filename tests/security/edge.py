"""The server in this process on a free port, for the log-in tests: configurations built here."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from cti.app import ServerSettings, build_app
from cti.config import parse_config

SECRET = "login-tests-secret-at-least-32-bytes-long"


def pbkdf2(password: str, *, iterations: int = 1000, salt: str | None = None) -> str:
    """A hash in the legacy format ``pbkdf2_sha256$<iterations>$<salt>$<hex digest>``."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${digest.hex()}"


def config_with(agents: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"token_secret": SECRET, "queues": [{"name": "support"}], "agents": agents, **extra}


@dataclass
class Edge:
    url: str
    http: aiohttp.ClientSession

    async def login(self, agent_id: str, password: str) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        async with self.http.post(f"{self.url}/api/login",
                                  json={"agent_id": agent_id, "password": password}) as r:
            return r.status, await r.json(), r.headers

    async def healthz(self) -> int:
        async with self.http.get(f"{self.url}/healthz") as r:
            return r.status


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, raw: dict[str, Any], *,
                  settings: ServerSettings | None = None) -> AsyncIterator[Edge]:
    app = build_app(parse_config(raw), settings or ServerSettings(
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", node_id="login-test"))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Edge(url=str(server.make_url("")).rstrip("/"), http=http)
    finally:
        await server.close()
