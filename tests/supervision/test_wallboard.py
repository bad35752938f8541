"""The wallboard: a page for a wall screen, opened with a wallboard token that a supervisor or an
admin mints and that opens nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.adapters.center import Center, running_center
from tests.security.scoping import TEAMS, chat, take
from tests.stranded.helpers import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def mint(c: Center, who: str, **body: Any) -> tuple[int, Any]:
    return await c.api(who, "POST", "/api/wallboard-tokens", body)


async def board(c: Center, token: str) -> tuple[int, Any]:
    async with c.http.get(f"{c.url}/api/wallboard", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json()


def row(body: Any, queue: str, channel: str) -> dict[str, Any]:
    found = next(q for q in body["queues"] if q["queue"] == queue)
    return dict(next(ch for ch in found["channels"] if ch["channel"] == channel))


async def test_a_wallboard_token_shows_the_teams_queues_live(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        status, minted = await mint(c, "sam")
        assert status == 201, minted
        token = minted["token"]
        assert minted["url"] == f"/wallboard#token={token}"
        status, body = await board(c, token)
        assert status == 200, body
        assert [q["queue"] for q in body["queues"]] == ["support"]  # sam's team's queue only
        assert row(body, "support", "chat")["waiting"] == 0

        visitor = await chat(c, "Mia")  # nobody available: she waits, and the board shows it

        async def shows_her() -> bool:
            figures = row((await board(c, token))[1], "support", "chat")
            return figures["waiting"] == 1 and figures["longest_wait"] is not None
        await eventually(shows_her, what="the waiting chat on the wallboard")

        alice = await c.agent_socket("alice")
        await take(alice)
        async def answered() -> bool:
            figures = row((await board(c, token))[1], "support", "chat")
            return figures["answered"] == 1 and figures["service_level"] == 1.0
        await eventually(answered, what="the answered chat in the service level")
        figures = row((await board(c, token))[1], "support", "chat")
        assert figures["average_speed_of_answer"] is not None and figures["abandon_rate"] == 0.0
        assert body["queues"][0]["agents"]["offline"] == 2  # alice and bob have the skill
        for sock in (visitor, alice):
            await sock.close()


async def test_a_wallboard_token_opens_nothing_else(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        _, minted = await mint(c, "admin", ttl_days=1)
        token = minted["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for method, path in [("GET", "/api/me"), ("GET", "/api/queues"), ("GET", "/api/waiting"),
                             ("GET", "/api/agents"), ("GET", "/api/interactions"), ("GET", "/api/audit"),
                             ("POST", "/api/ws-ticket"), ("POST", "/api/wallboard-tokens"),
                             ("POST", "/api/token/refresh"), ("PUT", "/api/agents/alice/state")]:
            async with c.http.request(method, f"{c.url}{path}", headers=headers, json={"state": "away"}) as r:
                assert r.status == 401, (path, r.status, await r.text())
        ws_url = c.url.replace("http", "ws", 1)
        for path in ("/ws/agent", "/ws/supervisor"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await c.http.ws_connect(f"{ws_url}{path}?token={token}")
            assert refused.value.status == 401


async def test_who_may_mint_and_read_a_wallboard(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        status, body = await mint(c, "alice")
        assert (status, body["error_id"]) == (403, "wrong-role")
        status, body = await mint(c, "sam", ttl_days=400)
        assert (status, body["error_id"]) == (400, "bad-ttl")
        # A supervisor's own log-in reads the board of their teams; an agent's does not.
        status, body = await c.api("sue", "GET", "/api/wallboard")
        assert status == 200 and [q["queue"] for q in body["queues"]] == ["sales"]
        status, body = await c.api("alice", "GET", "/api/wallboard")
        assert (status, body["error_id"]) == (403, "wrong-role")
        async with c.http.get(f"{c.url}/api/wallboard", headers={"Authorization": "Bearer nonsense"}) as r:
            assert r.status == 401
        # A revoked wallboard token is refused from then on.
        status, minted = await mint(c, "sam")
        status, body = await c.api("sam", "DELETE", f"/api/wallboard-tokens/{minted['id']}")
        assert status == 200, body
        assert (await board(c, minted["token"]))[0] == 401


async def test_the_page_is_read_only_with_its_code_in_files_and_the_formulas_written(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **TEAMS) as c:
        async with c.http.get(f"{c.url}/wallboard") as r:
            assert r.status == 200
            html = await r.text()
            policy = r.headers["Content-Security-Policy"]
        scripts = policy.split("script-src")[1].split(";")[0]
        assert "'self'" in scripts and "unsafe-inline" not in scripts
        module = '<script type="module" src="/assets/js/wallboard/main.js">'
        assert re.findall(r"<script[^>]*>", html) == [module]
        assert not re.search(r"<(button|input|select|textarea|form)\b", html)  # no controls
        for formula in ("answered within target", "abandoned / offered", "Σ wait of answered"):
            assert formula in html
        async with c.http.get(f"{c.url}/assets/js/wallboard/main.js") as r:
            assert r.status == 200 and "javascript" in r.headers["Content-Type"]
