"""Log-in tokens: checked against the live configuration on every request and socket, revoked
by log-out, 8 hours with refresh, and accepted in the query string only on a WebSocket upgrade
(preferably as a one-time ticket)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import yaml

from cti.app import ServerSettings
from cti.config import parse_config
from tests.adapters.center import Center, center_config, running_center
from tests.server_process import FIXTURES, run_server_async
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def call(center: Center | str, token: str, method: str, path: str,
               query_token: bool = False) -> tuple[int, Any]:
    base = center if isinstance(center, str) else center.url
    headers = {} if query_token else {"Authorization": f"Bearer {token}"}
    suffix = f"?token={token}" if query_token else ""
    async with aiohttp.ClientSession() as http, http.request(
            method, f"{base}{path}{suffix}", headers=headers) as r:
        return r.status, await r.json()


async def login(base: str, agent: str) -> str:
    async with aiohttp.ClientSession() as http, http.post(
            f"{base}/api/login", json={"agent_id": agent, "password": agent}) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"])


async def socket_status(base: str, path: str) -> int:
    """101 when the upgrade succeeded (the hello arrived), else the HTTP status refused with."""
    async with aiohttp.ClientSession() as http:
        try:
            ws = await http.ws_connect(f"{base.replace('http', 'ws', 1)}{path}")
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        sock = JsonSocket(ws)
        await sock.expect("hello")
        await sock.close()
        return 101


def demoted(**changes: Any) -> dict[str, Any]:
    raw = center_config({})
    raw["agents"] = [dict(a, **changes.get(a["id"], {})) for a in raw["agents"]
                     if changes.get(a["id"]) != "removed"]
    return raw


async def test_a_demoted_or_removed_user_loses_access_at_once(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}) as center:
        sam, bob = await center.token("sam"), await center.token("bob")
        assert (await call(center, sam, "GET", "/api/audit"))[0] == 200
        assert await socket_status(center.url, f"/ws/supervisor?token={sam}") == 101
        board = JsonSocket(await center.http.ws_connect(
            f"{center.url.replace('http', 'ws', 1)}/ws/supervisor?token={sam}"))
        await board.expect("hello")
        # The configuration changes under the running server (a reload): Sam is an agent now,
        # Bob is gone.
        new = parse_config(demoted(sam={"role": "agent"}, bob="removed"))
        await center.services.live.swap(new, version=center.services.live.version + 1)
        # The board he had open is closed at his next command.
        await board.send({"type": "set_state", "state": "available"})
        closing = await board.ws.receive(timeout=10)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1008), closing
        status, body = await call(center, sam, "GET", "/api/audit")
        assert (status, body["error_id"]) == (401, "stale-token")
        assert (await call(center, sam, "GET", "/api/me"))[0] == 401  # even what an agent may do
        assert await socket_status(center.url, f"/ws/supervisor?token={sam}") == 401
        status, body = await call(center, bob, "GET", "/api/me")
        assert (status, body["error_id"]) == (401, "stale-token")
        assert await socket_status(center.url, f"/ws/agent?token={bob}") == 401
        # Logging in again gives Sam a token of the role he has now.
        sam = await center.token("sam")
        assert (await call(center, sam, "GET", "/api/me"))[0] == 200
        assert (await call(center, sam, "GET", "/api/audit"))[0] == 403


async def test_a_restart_with_a_demoted_user_refuses_their_old_token(tmp_path: Path) -> None:
    raw = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    db = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    async with run_server_async(tmp_path, db_url=db, config=config) as srv:
        sam, alice = await login(srv.url, "sam"), await login(srv.url, "alice")
        assert (await call(srv.url, sam, "GET", "/api/audit"))[0] == 200
        assert (await call(srv.url, alice, "POST", "/api/logout"))[0] == 200
    raw["agents"] = [dict(a, role="agent") if a["id"] == "sam" else a for a in raw["agents"]]
    raw["teams"] = [dict(t, supervisors=[s for s in t["supervisors"] if s != "sam"]) for t in raw["teams"]]
    config.write_text(yaml.safe_dump(raw))
    async with run_server_async(tmp_path, db_url=db, config=config) as srv:
        status, body = await call(srv.url, sam, "GET", "/api/audit")
        assert (status, body["error_id"]) == (401, "stale-token")
        # A log-out outlives the restart too.
        status, body = await call(srv.url, alice, "GET", "/api/me")
        assert (status, body["error_id"]) == (401, "token-revoked")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_logout_revokes_the_token(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    settings = None if backend == "sqlite" else ServerSettings(
        db_url=str(request.getfixturevalue("pg_schema")), node_id="pg")
    async with running_center(tmp_path, {}, settings=settings) as center:
        alice, other = await center.token("alice"), await center.token("alice")
        assert (await call(center, alice, "GET", "/api/me"))[0] == 200
        desk = JsonSocket(await center.http.ws_connect(
            f"{center.url.replace('http', 'ws', 1)}/ws/agent?token={alice}"))
        await desk.expect("hello")
        status, body = await call(center, alice, "POST", "/api/logout")
        assert status == 200, body
        status, body = await call(center, alice, "GET", "/api/me")
        assert (status, body["error_id"]) == (401, "token-revoked")
        assert await socket_status(center.url, f"/ws/agent?token={alice}") == 401
        assert (await call(center, alice, "POST", "/api/logout"))[0] == 401
        # The desktop she had open is closed at its next command.
        await desk.send({"type": "set_state", "state": "away"})
        closing = await desk.ws.receive(timeout=10)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1008), closing
        # Only that token: her other session goes on.
        assert (await call(center, other, "GET", "/api/me"))[0] == 200


async def test_tokens_last_eight_hours_and_are_refreshed(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}) as center:
        old = await center.token("alice")
        claims = jwt.decode(old, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 8 * 3600 and claims["jti"]
        status, body = await call(center, old, "POST", "/api/token/refresh")
        assert status == 200, body
        new = body["token"]
        assert jwt.decode(new, options={"verify_signature": False})["jti"] != claims["jti"]
        assert (await call(center, new, "GET", "/api/me"))[0] == 200
        status, body = await call(center, old, "GET", "/api/me")
        assert (status, body["error_id"]) == (401, "token-revoked")


async def test_a_token_in_the_query_string_opens_only_a_websocket(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}) as center:
        sam = await center.token("sam")
        status, body = await call(center, sam, "GET", "/api/audit", query_token=True)
        assert (status, body["error_id"]) == (401, "bad-token")
        assert await socket_status(center.url, f"/ws/supervisor?token={sam}") == 101


async def test_a_websocket_ticket_opens_one_socket_once(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}) as center:
        alice = await center.token("alice")
        status, body = await call(center, alice, "POST", "/api/ws-ticket")
        assert status == 200 and body["expires_in"] == 30, body
        ticket = body["ticket"]
        assert await socket_status(center.url, f"/ws/supervisor?ticket={ticket}") == 403
        status, body = await call(center, alice, "POST", "/api/ws-ticket")
        ticket = body["ticket"]
        assert await socket_status(center.url, f"/ws/agent?ticket={ticket}") == 101
        assert await socket_status(center.url, f"/ws/agent?ticket={ticket}") == 401
        assert await socket_status(center.url, "/ws/agent?ticket=made-up") == 401
        # A ticket is no token: it opens nothing else.
        status, body = await call(center, ticket, "GET", "/api/me")
        assert status == 401


async def test_logout_and_tickets_hold_across_nodes(
        tmp_path: Path, cluster_node: Callable[[str], ServerSettings]) -> None:
    async with running_center(tmp_path / "a", {}, settings=cluster_node("a")) as a, \
            running_center(tmp_path / "b", {}, settings=cluster_node("b")) as b:
        alice = await a.token("alice")
        assert (await call(b, alice, "GET", "/api/me"))[0] == 200
        status, body = await call(a, alice, "POST", "/api/ws-ticket")
        ticket = body["ticket"]
        assert await socket_status(b.url, f"/ws/agent?ticket={ticket}") == 101
        assert await socket_status(a.url, f"/ws/agent?ticket={ticket}") == 401
        assert (await call(a, alice, "POST", "/api/logout"))[0] == 200
        status, body = await call(b, alice, "GET", "/api/me")
        assert (status, body["error_id"]) == (401, "token-revoked")
