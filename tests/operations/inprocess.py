"""The server in this process on a free port, with a configuration built by the test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from cti.app import ServerSettings
from tests.security import edge

SECRET = "operations-tests-secret-32-bytes-long!"


def config_with(**sections: Any) -> dict[str, Any]:
    return {"token_secret": SECRET, "queues": [{"name": "support"}],
            "agents": [{"id": "ops", "password": "ops", "role": "admin"}], "demo": True, **sections}


@dataclass
class Node:
    url: str
    http: aiohttp.ClientSession

    async def get(self, path: str, **headers: str) -> tuple[int, Any, Mapping[str, str]]:
        async with self.http.get(f"{self.url}{path}", headers=headers) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body, r.headers


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, raw: dict[str, Any], *,
                  settings: ServerSettings | None = None) -> AsyncIterator[Node]:
    """The log-in tests' in-process server, seen through this module's ``Node``."""
    async with edge.serving(tmp_path, raw, settings=settings or ServerSettings(
            db_url=f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", node_id="ops-test")) as server:
        yield Node(url=server.url, http=server.http)
