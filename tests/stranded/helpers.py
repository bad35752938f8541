"""What the stranded-customer tests share: a centre with short timers, a chat visitor, waits."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from cti.app import ServerSettings
from cti.domain import AgentState
from tests.adapters.center import Center, running_center
from tests.wsclient import JsonSocket


@contextlib.asynccontextmanager
async def center(tmp_path: Path, *, settings: ServerSettings | None = None, offer_timeout: float = 1,
                 grace: float = 1.0, **extra: Any) -> AsyncIterator[Center]:
    """The real server in-process, with offers that time out and desks that drop out quickly."""
    extra.setdefault("presence", {"disconnect_grace": grace})
    extra["routing"] = {"offer_timeout": offer_timeout, **extra.get("routing", {})}
    async with running_center(tmp_path, {}, settings=settings, **extra) as c:
        yield c


async def chat(c: Center, body: str = "Hello?", name: str = "Mia") -> JsonSocket:
    """A visitor on the chat widget's socket who has said something (so it is queued)."""
    sock = JsonSocket(await c.http.ws_connect(c.url.replace("http", "ws", 1) + "/ws/chat"))
    await sock.send({"type": "hello", "name": name})
    await sock.expect("welcome")
    await sock.send({"type": "message", "body": body})
    return sock


async def state_of(c: Center, agent_id: str) -> tuple[AgentState, str | None]:
    snap = await c.services.routing.agent(agent_id)
    assert snap is not None
    return snap.state, snap.reason


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0,
                     what: str = "condition") -> None:
    """Wait for ``check`` to hold, with a deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)


def state_event(agent_id: str, state: str, reason: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda m: (m.get("type") == "agent.state_changed" and m.get("agent_id") == agent_id
                      and m.get("state") == state and (reason is None or m.get("reason") == reason))
