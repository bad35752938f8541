"""A center with two teams for the access tests: support (sam, alice, bob) and sales (sue, carol),
each with its own queue, and the steps the tests share (a visitor chats, an agent takes it)."""

from __future__ import annotations

from typing import Any

from tests.adapters.center import Center
from tests.wsclient import JsonSocket

TEAMS: dict[str, Any] = {
    "teams": [{"name": "support", "supervisors": ["sam"]}, {"name": "sales", "supervisors": ["sue"]}],
    "queues": [
        {"name": "support", "skills": {"english": 1}, "teams": ["support"],
         "service_targets": {"chat": 60, "email": 14400}, "address": "support@acme.example"},
        {"name": "sales", "skills": {"sales": 1}, "teams": ["sales"], "service_targets": {"chat": 60}},
    ],
    "agents": [
        {"id": "alice", "name": "Alice Martin", "team": "support", "password": "alice",
         "skills": {"english": 8}, "capacity": {"chat": 3, "email": 5}},
        {"id": "bob", "name": "Bob Chen", "team": "support", "password": "bob",
         "skills": {"english": 6}, "capacity": {"chat": 3, "email": 5}},
        {"id": "carol", "name": "Carol Diaz", "team": "sales", "password": "carol",
         "skills": {"sales": 7}, "capacity": {"chat": 3}},
        {"id": "sam", "name": "Sam Okafor", "role": "supervisor", "team": "support", "password": "sam"},
        {"id": "sue", "name": "Sue Park", "role": "supervisor", "team": "sales", "password": "sue"},
        {"id": "admin", "name": "Admin", "role": "admin", "password": "admin"},
    ],
}


async def chat(center: Center, name: str, **hello: Any) -> JsonSocket:
    """A visitor opens the widget, says hello and writes one line."""
    ws_url = center.url.replace("http", "ws", 1)
    sock = JsonSocket(await center.http.ws_connect(f"{ws_url}/ws/chat"))
    await sock.send({"type": "hello", "name": name, **hello})
    await sock.expect("welcome")
    await sock.send({"type": "message", "body": f"hello from {name}"})
    await sock.expect("message")
    return sock


async def take(agent: JsonSocket) -> dict[str, Any]:
    """The agent accepts the next offer; the accepted interaction."""
    offer = await agent.expect("interaction.offered")
    ack = await agent.command({"type": "accept", "interaction_id": offer["interaction_id"]})
    assert ack["type"] == "ack", ack
    result: dict[str, Any] = ack["result"]
    return result
