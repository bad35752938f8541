"""A stopping server closes its sockets cleanly, so desktops and widgets know to reconnect."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import login, visitor
from tests.server_process import run_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_shutdown_closes_agent_and_visitor_sockets_with_going_away(tmp_path: Path) -> None:
    with run_server(tmp_path) as srv:
        async with aiohttp.ClientSession() as http:
            alice = await login(http, srv, "alice")
            agent = await alice.socket()
            chat, _ = await visitor(http, srv, name="Late Visitor")
            srv.process.send_signal(signal.SIGTERM)
            for sock in (agent, chat):
                msg = await sock.ws.receive(timeout=10)
                assert msg.type is aiohttp.WSMsgType.CLOSE
                assert msg.data == aiohttp.WSCloseCode.GOING_AWAY
            # The process ends on its own; without the close it would wait out aiohttp's
            # shutdown timeout for the socket handlers.
            code = await asyncio.to_thread(srv.process.wait, 10)
            assert code == 0
