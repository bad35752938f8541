"""What the benchmarks share: printing figures, percentiles, /proc readings, a PostgreSQL schema."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from context.migrate import sync_url


def emit(name: str, value: float | int | str) -> None:
    if isinstance(value, float):
        print(f"{name}: {value:.3f}", flush=True)
    else:
        print(f"{name}: {value}", flush=True)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, all threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scheduled_ns(pid: int) -> tuple[int, int]:
    """Nanoseconds a process's main thread has spent on a core, and runnable but waiting for one,
    so far (Linux ``/proc/<pid>/schedstat``): precise where ``cpu_seconds`` counts clock ticks."""
    on_cpu, waiting, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(on_cpu), int(waiting)


def machine_busy_seconds() -> float:
    """CPU time all cores spent on anything but idle and I/O wait, so far."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int, key: str = "VmRSS") -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL at ``url``, dropped afterwards; yields the server's URL."""
    schema = f"bench{uuid.uuid4().hex[:10]}"
    admin = create_engine(sync_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


async def open_desk(session: aiohttp.ClientSession, url: str, ws_url: str,
                    agent: str) -> aiohttp.ClientWebSocketResponse:
    """An agent logged in (password = id), their socket open and set available."""
    return await open_socket(session, ws_url, agent, await log_in(session, url, agent))


async def log_in(session: aiohttp.ClientSession, url: str, agent: str) -> str:
    """The agent's token (password = id)."""
    async with session.post(f"{url}/api/login", json={"agent_id": agent, "password": agent}) as resp:
        resp.raise_for_status()
        return str((await resp.json())["token"])


async def open_socket(session: aiohttp.ClientSession, ws_url: str, agent: str,
                      token: str) -> aiohttp.ClientWebSocketResponse:
    """The agent's socket open with ``token`` (its hello read) and set available."""
    # Screen pops with long histories exceed aiohttp's 4 MiB default: no limit here.
    ws = await session.ws_connect(f"{ws_url}/ws/agent?token={token}", max_msg_size=0)
    if (await ws.receive_json()).get("type") != "hello":
        raise RuntimeError(f"{agent}: no hello")
    await ws.send_json({"type": "set_state", "state": "available", "ref": "ready"})
    while True:
        reply = await ws.receive_json()
        if reply.get("ref") == "ready":
            if reply.get("type") != "ack":
                raise RuntimeError(f"{agent}: set_state refused: {reply}")
            return ws


async def open_desks(session: aiohttp.ClientSession, url: str, ws_url: str, agents: Sequence[str], *,
                     concurrency: int) -> list[aiohttp.ClientWebSocketResponse]:
    """Many desks at once, ``concurrency`` log-ins in flight (more only queue in the server)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(agent: str) -> aiohttp.ClientWebSocketResponse:
        async with gate:
            return await open_desk(session, url, ws_url, agent)

    return list(await asyncio.gather(*(one(a) for a in agents)))


Frame = tuple[dict[str, Any], int, float]  # the message, its size in bytes, when it was read


async def json_frames(ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[Frame]:
    """Each JSON text frame of ``ws``: the message, its size in bytes, and when it was read
    (``time.perf_counter``, taken before parsing, so parsing is not counted as latency)."""
    async for msg in ws:
        received = time.perf_counter()
        if msg.type is aiohttp.WSMsgType.TEXT:
            yield json.loads(msg.data), len(msg.data), received


async def close_desks(sockets: Sequence[aiohttp.ClientWebSocketResponse],
                      readers: Sequence[asyncio.Task[Any]]) -> None:
    """Close the agents' sockets and stop the tasks that read them."""
    for ws in sockets:
        await ws.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
