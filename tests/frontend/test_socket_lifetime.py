"""The agent and supervisor sockets: the protocol version in the hello, and a socket that does not
outlive its token unless the page renews it with the refreshed one (docs/websocket.md)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from desktop_api.ws import PROTOCOL_VERSION, TOKEN_EXPIRED
from tests.adapters.center import Center, running_center
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration]

TTL = 3  # seconds of a token's life in these tests


async def open_socket(c: Center, token: str, path: str = "/ws/agent") -> tuple[JsonSocket, dict[str, object]]:
    sock = JsonSocket(await c.http.ws_connect(f"{c.url.replace('http', 'ws', 1)}{path}?token={token}"))
    return sock, await sock.expect("hello")


async def closed_with(sock: JsonSocket, *, within: float) -> int | None:
    """The close code the server sent, waiting at most ``within`` seconds (frames before it are skipped)."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        msg = await sock.ws.receive(timeout=left)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return sock.ws.close_code
    raise AssertionError(f"the socket was still open after {within} s")


async def refresh(c: Center, token: str) -> str:
    async with c.http.post(f"{c.url}/api/token/refresh", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"])


async def test_the_hello_says_the_protocol_version_and_when_the_token_ends(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}) as c:
        for who, path in (("alice", "/ws/agent"), ("sam", "/ws/supervisor")):
            token = await c.token(who)
            sock, hello = await open_socket(c, token, path)
            assert hello["protocol"] == PROTOCOL_VERSION == 1
            assert isinstance(hello["expires_at"], float) and hello["expires_at"] > time.time() + 3600
            await sock.close()


async def test_a_socket_is_closed_when_its_token_expires(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, token_ttl=TTL) as c:
        sock, hello = await open_socket(c, await c.token("alice"))
        started = time.time()
        assert await closed_with(sock, within=TTL + 5) == TOKEN_EXPIRED == 4001
        # Not before the token's end (its exp is whole seconds).
        assert time.time() >= float(str(hello["expires_at"])) - 0.5
        assert time.time() - started <= TTL + 2


async def test_a_renewed_socket_lives_on_with_the_refreshed_token(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, token_ttl=TTL) as c:
        first = await c.token("alice")
        sock, hello = await open_socket(c, first)
        await asyncio.sleep(1.1)  # (a token's exp is in whole seconds)
        fresh = await refresh(c, first)  # the old token is revoked by the refresh
        ack = await sock.command({"type": "renew", "token": fresh})
        assert ack["type"] == "ack", ack
        assert ack["result"]["expires_at"] > float(str(hello["expires_at"]))
        await asyncio.sleep(float(str(hello["expires_at"])) - time.time() + 1)  # past the first token's end
        # Still open, and its commands still count (the refresh did not make it look logged out).
        ack = await sock.command({"type": "set_state", "state": "available"})
        assert ack["type"] == "ack", ack
        assert await closed_with(sock, within=TTL + 5) == TOKEN_EXPIRED


async def test_a_socket_is_renewed_only_with_a_valid_token_of_its_own_user(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}) as c:
        alice = await c.token("alice")
        sock, _ = await open_socket(c, alice)
        answer = await sock.command({"type": "renew", "token": await c.token("bob")})
        assert (answer["type"], answer["error_id"]) == ("error", "wrong-token")
        answer = await sock.command({"type": "renew", "token": "not.a.token"})
        assert (answer["type"], answer["error_id"]) == ("error", "bad-token")
        other = await c.token("alice")  # hers, but logged out
        async with c.http.post(f"{c.url}/api/logout", headers={"Authorization": f"Bearer {other}"}) as r:
            assert r.status in (200, 204)
        answer = await sock.command({"type": "renew", "token": other})
        assert (answer["type"], answer["error_id"]) == ("error", "token-revoked")
        # The socket is still hers and works.
        answer = await sock.command({"type": "set_state", "state": "away", "reason": "break"})
        assert answer["type"] == "ack", answer
        await sock.close()
