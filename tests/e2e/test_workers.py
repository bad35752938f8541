"""``cti serve --workers 2``: two processes on one port behave as one contact center.

Which worker a connection reaches is the kernel's choice (SO_REUSEPORT hashes the addresses).
A test learns it by asking ``/healthz`` (it names the node) on a client that keeps one pooled
connection, then opens its WebSocket on that same connection: same socket, same worker.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import redis

from cti.workers import RestartPolicy, Supervisor
from tests.e2e.conftest import Api, login, only_available
from tests.server_process import RunningServer, run_server
from tests.waiting import until
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.integration]

STARTED = re.compile(r"worker (\d+) started pid=(\d+)")


@pytest.fixture
def center(tmp_path_factory: pytest.TempPathFactory, pg_schema: str, redis_url: str,
           unique_prefix: str) -> Iterator[RunningServer]:
    with run_server(tmp_path_factory.mktemp("workers"), db_url=pg_schema, redis_url=redis_url,
                    redis_prefix=unique_prefix, workers=2) as srv:
        yield srv
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{unique_prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


class Pinned:
    """One HTTP client holding one connection, hence talking to one worker."""

    def __init__(self, srv: RunningServer) -> None:
        self.srv = srv
        self.connections = 0  # opened by this client: more than one and the worker may differ
        trace = aiohttp.TraceConfig()
        trace.on_connection_create_end.append(self._connected)
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), trace_configs=[trace])
        self.node = ""

    async def _connected(self, *_: Any) -> None:
        self.connections += 1

    async def open(self) -> Pinned:
        async with self.http.get(f"{self.srv.url}/healthz") as r:
            self.node = (await r.json())["node"]
        return self

    def check_same(self) -> None:
        assert self.connections == 1, "the client opened another connection"

    async def visitor(self, name: str) -> JsonSocket:
        sock = JsonSocket(await self.http.ws_connect(f"{self.srv.ws_url}/ws/chat"))
        self.check_same()
        await sock.send({"type": "hello", "name": name})
        await sock.expect("welcome")
        return sock

    async def agent(self, agent_id: str) -> JsonSocket:
        api: Api = await login(self.http, self.srv, agent_id)
        sock = await api.socket()
        self.check_same()
        return sock

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def pinned(center: RunningServer) -> AsyncIterator[list[Pinned]]:
    opened: list[Pinned] = []
    yield opened
    for p in opened:
        await p.close()


async def pin_to(center: RunningServer, opened: list[Pinned], *, node: str | None = None,
                 not_node: str | None = None, tries: int = 60) -> Pinned:
    """A connection to the worker ``node`` (or to any other than ``not_node``)."""
    for _ in range(tries):
        p = Pinned(center)
        opened.append(p)
        await p.open()
        if (node is None or p.node == node) and p.node != not_node:
            return p
    raise AssertionError(f"no connection reached the wanted worker in {tries} tries")


async def chat_across(center: RunningServer, http: aiohttp.ClientSession, opened: list[Pinned],
                      body: str) -> tuple[str, str]:
    """Alice's desk on one worker, a visitor on the other: she gets the offer and works the chat.
    Returns (alice's node, the visitor's node)."""
    await only_available(http, center, "alice")
    desk_conn = await pin_to(center, opened)
    alice = await desk_conn.agent("alice")
    visitor_conn = await pin_to(center, opened, not_node=desk_conn.node)
    chat = await visitor_conn.visitor("Otto")
    await chat.send({"type": "message", "body": body})
    offer = await alice.expect(lambda m: m.get("type") == "interaction.offered"
                               and m["screen_pop"]["messages"][0]["body"] == body)
    interaction_id = offer["interaction_id"]
    assert (await alice.command({"type": "accept", "interaction_id": interaction_id}))["type"] == "ack"
    assert (await chat.expect(lambda m: m.get("state") == "agent_joined"))["state"] == "agent_joined"
    await alice.command({"type": "reply", "interaction_id": interaction_id, "body": "Hello Otto"})
    assert (await chat.expect(lambda m: m.get("sender") == "agent"))["body"] == "Hello Otto"
    done = await alice.command({"type": "complete", "interaction_id": interaction_id,
                                "disposition": "resolved"})
    assert done["result"]["state"] == "closed"
    await chat.close()
    await alice.close()
    return desk_conn.node, visitor_conn.node


def worker_pids(srv: RunningServer) -> dict[int, int]:
    """The latest pid of each worker, from the supervisor's log."""
    return {int(index): int(pid) for index, pid in STARTED.findall(srv.log())}


async def both_serving(center: RunningServer, opened: list[Pinned]) -> None:
    """Until connections have reached two different nodes (both workers answer)."""
    seen: set[str] = set()

    async def another() -> bool:
        seen.add((await pin_to(center, opened)).node)
        return len(seen) == 2

    await until(another, timeout=30, what=f"both workers serving:\n{center.log()}")


async def test_an_agent_on_one_worker_gets_the_offer_of_a_visitor_on_the_other(
        center: RunningServer, http: aiohttp.ClientSession, pinned: list[Pinned]) -> None:
    desk_node, visitor_node = await chat_across(center, http, pinned, "Hello across processes")
    assert desk_node != visitor_node
    assert {desk_node, visitor_node} == {p.node for p in pinned}  # two workers, each its own node
    assert len(worker_pids(center)) == 2


async def test_sigterm_stops_every_worker_cleanly(center: RunningServer, pinned: list[Pinned]) -> None:
    await both_serving(center, pinned)
    pids = worker_pids(center)
    center.process.send_signal(signal.SIGTERM)
    try:
        code = center.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 20 s after SIGTERM:\n{center.log()}")
    assert code == 0, center.log()
    log = center.log()
    for index in pids:
        assert f"worker {index} (pid {pids[index]}) stopped with code 0" in log, log
    assert "all workers stopped" in log


async def test_a_killed_worker_is_restarted_and_the_center_keeps_working(
        center: RunningServer, http: aiohttp.ClientSession, pinned: list[Pinned]) -> None:
    await both_serving(center, pinned)
    victim = worker_pids(center)[2]
    os.kill(victim, signal.SIGKILL)
    await until(lambda: worker_pids(center)[2] != victim, timeout=15, what="worker 2 restarted")
    log = center.log()
    assert f"worker 2 (pid {victim}) exited with signal SIGKILL" in log and "restarting it in" in log
    await both_serving(center, pinned)  # the new worker answers, under the same node id
    desk_node, visitor_node = await chat_across(center, http, pinned, "Still here after a crash")
    assert desk_node != visitor_node
    assert center.process.poll() is None


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for whoever adopted it to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


async def test_workers_stop_when_their_supervisor_is_killed_outright(
        center: RunningServer, pinned: list[Pinned]) -> None:
    await both_serving(center, pinned)
    pids = worker_pids(center)
    center.process.kill()
    center.process.wait(timeout=10)
    await until(lambda: not any(_running(pid) for pid in pids.values()), timeout=20,
                what="the orphaned workers gone")


async def test_the_supervisor_gives_up_with_an_error_when_workers_keep_dying(
        caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor(count=2, command=lambda index: [sys.executable, "-c", "raise SystemExit(1)"],
                            policy=RestartPolicy(first_delay=0.01, max_deaths=4, window=60.0))
    assert await supervisor.run() == 1
    assert "workers keep dying, stopping them all" in caplog.text
    assert caplog.text.count("restarting it in") == 3


async def test_a_worker_refusing_its_configuration_stops_the_supervisor_at_once(
        caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor(count=1, command=lambda index: [sys.executable, "-c", "raise SystemExit(2)"])
    assert await supervisor.run() == 1
    assert "restarting it in" not in caplog.text
