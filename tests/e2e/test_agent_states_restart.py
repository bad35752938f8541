"""The real server process, stopped and started again on its SQLite file: agents come back in their
state, and one whose desktop does not return is set away after the grace."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.e2e.conftest import Api, login
from tests.server_process import FIXTURES, run_server_async

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def agent_state(api: Api, agent_id: str) -> tuple[str, str | None]:
    status, view = await api.call("GET", f"/api/agents/{agent_id}")
    assert status == 200, view
    return view["state"], view["reason"]


def with_grace(tmp_path: Path, seconds: float) -> Path:
    """The end-to-end configuration with this ``presence.disconnect_grace``."""
    config = yaml.safe_load((FIXTURES / "config.yaml").read_text())
    config["presence"] = {"disconnect_grace": seconds}
    path = tmp_path / f"config-{seconds}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_states_survive_a_restart_of_the_process(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    async with run_server_async(tmp_path, db_url=db, config=with_grace(tmp_path, 60)) as srv:
        alice, bob = await login(http, srv, "alice"), await login(http, srv, "bob")
        desk = await alice.socket()
        assert (await desk.command({"type": "set_state", "state": "available"}))["type"] == "ack"
        status, _ = await bob.call("PUT", "/api/agents/bob/state", {"state": "away", "reason": "training"})
        assert status == 200
        await desk.close()  # and the server stops well within the grace

    # The grace runs from the start: long enough for a log-in (a password hash) on a busy machine
    # to read alice before it ends, short enough to see it end.
    async with run_server_async(tmp_path, db_url=db, config=with_grace(tmp_path, 8)) as srv:
        sam = await login(http, srv, "sam")
        assert await agent_state(sam, "alice") == ("available", None)
        assert await agent_state(sam, "bob") == ("away", "training")
        deadline = time.monotonic() + 25
        while await agent_state(sam, "alice") != ("away", "disconnected"):
            assert time.monotonic() < deadline, "alice was not set away after the grace"
            await asyncio.sleep(0.1)
