"""Helpers of the chat security tests: a visitor on the real widget socket, an agent taking work."""

from __future__ import annotations

from typing import Any

from tests.adapters.center import Center
from tests.wsclient import JsonSocket


async def visitor(center: Center, **hello: Any) -> tuple[JsonSocket, dict[str, Any]]:
    """A browser on ``/ws/chat`` that said ``hello``; its welcome (or the error it got instead)."""
    sock = JsonSocket(await center.http.ws_connect(center.url.replace("http", "ws", 1) + "/ws/chat"))
    await sock.send({"type": "hello", **hello})
    answer = await sock.expect(lambda m: m.get("type") in ("welcome", "error"))
    return sock, answer


async def take_offer(agent: JsonSocket) -> dict[str, Any]:
    """The next offer, accepted: its screen pop and interaction id."""
    offer = await agent.expect("interaction.offered")
    ack = await agent.command({"type": "accept", "interaction_id": offer["interaction_id"]})
    assert ack["type"] == "ack", ack
    return offer
