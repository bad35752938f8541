"""The whole server in-process on a real port, with the written channels a test configures.

Adapter tests use it to drive a channel as a customer would (an SMTP client, a signed webhook)
while an agent works on the real WebSocket and REST API.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from adapters.channel import ChannelAdapter
from adapters.registry import CHANNEL_ADAPTERS
from cti.app import ServerSettings, build_app
from cti.config import parse_config
from cti.domain import Channel
from cti.services import Services
from desktop_api.keys import SERVICES
from tests.wsclient import JsonSocket

SECRET = "adapter-tests-secret-at-least-32-bytes-long"

AGENTS: list[dict[str, Any]] = [
    {"id": "alice", "name": "Alice Martin", "team": "support", "password": "alice",
     "skills": {"english": 8}, "capacity": {"email": 5, "sms": 3, "x": 3, "slack": 3, "chat": 3, "voice": 1}},
    {"id": "bob", "name": "Bob Chen", "team": "support", "password": "bob",
     "skills": {"english": 6}, "capacity": {"email": 5, "sms": 3, "x": 3, "slack": 3, "chat": 3, "voice": 1}},
    {"id": "sam", "name": "Sam Okafor", "role": "supervisor", "team": "support", "password": "sam",
     "skills": {"english": 9}, "capacity": {}},
]


def center_config(channels: Mapping[str, Mapping[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "token_secret": SECRET,
        "demo": True,  # the passwords are the ids, in plain text
        "default_country_code": "1",
        "routing": {"offer_timeout": 20},
        "teams": [{"name": "support", "supervisors": ["sam"]}],
        "queues": [{"name": "support", "skills": {"english": 1}, "address": "support@acme.example",
                    "service_targets": {"email": 14400, "sms": 900, "x": 1800, "slack": 900,
                                        "chat": 60, "voice": 20}}],
        "chat": {"queue": "support"},
        "agents": AGENTS,
        "channels": dict(channels),
        **extra,
    }


@dataclass
class Center:
    url: str
    services: Services
    http: aiohttp.ClientSession
    adapters: Mapping[Channel, ChannelAdapter]

    async def token(self, agent: str) -> str:
        async with self.http.post(f"{self.url}/api/login",
                                  json={"agent_id": agent, "password": agent}) as r:
            assert r.status == 200, await r.text()
            return str((await r.json())["token"])

    async def agent_socket(self, agent: str, *, available: bool = True) -> JsonSocket:
        token = await self.token(agent)
        ws_url = self.url.replace("http", "ws", 1)
        sock = JsonSocket(await self.http.ws_connect(f"{ws_url}/ws/agent?token={token}"))
        await sock.expect("hello")
        if available:
            ack = await sock.command({"type": "set_state", "state": "available"})
            assert ack["type"] == "ack", ack
        return sock

    async def api(self, agent: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {await self.token(agent)}"}
        async with self.http.request(method, f"{self.url}{path}", json=body, headers=headers) as r:
            return r.status, (await r.json() if r.content_type == "application/json" else await r.text())


@contextlib.asynccontextmanager
async def running_center(tmp_path: Path, channels: Mapping[str, Mapping[str, Any]],
                         settings: ServerSettings | None = None, **extra: Any) -> AsyncIterator[Center]:
    """``async with running_center(tmp_path, {"sms": {...}}) as center:`` the server on a free port
    (one node on SQLite unless ``settings`` say otherwise)."""
    config = parse_config(center_config(channels, **extra))
    app = build_app(config, settings or ServerSettings(
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", node_id="test"))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Center(url=str(server.make_url("")).rstrip("/"), services=app[SERVICES], http=http,
                         adapters=app[CHANNEL_ADAPTERS])
    finally:
        await server.close()
