"""A bare aiohttp WebSocket relay: the baseline of ``python -m bench screen_pop``.

``python -m bench.relay --port P``

It speaks just enough of the server's protocol for the same client harness to drive it:
``POST /api/login`` hands back a token, ``/ws/agent`` says hello and acks every command,
``/ws/chat`` answers hello with welcome and relays a visitor's first message to the next agent
socket in turn as an ``interaction.offered`` whose screen pop carries only the visitor's name.
No routing, no database, no event hub: what is left is Python, aiohttp and the loopback.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Relay:
    agents: list[web.WebSocketResponse] = field(default_factory=list)
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def next_agent(self) -> web.WebSocketResponse | None:
        if not self.agents:
            return None
        return self.agents[next(self.turn) % len(self.agents)]


RELAY = web.AppKey("relay", Relay)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def login(request: web.Request) -> web.Response:
    data = await request.json()
    return web.json_response({"token": str(data.get("agent_id", ""))})


async def agent_socket(request: web.Request) -> web.WebSocketResponse:
    relay = request.app[RELAY]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_json({"type": "hello", "agent": {"id": request.query.get("token", "")},
                        "interactions": []})
    relay.agents.append(ws)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                data = json.loads(msg.data)
                await ws.send_json({"type": "ack", "ref": data.get("ref"), "command": data.get("type"),
                                    "result": None})
    finally:
        relay.agents.remove(ws)
    return ws


async def visitor_socket(request: web.Request) -> web.WebSocketResponse:
    relay = request.app[RELAY]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    name: str | None = None
    interaction_id: str | None = None
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            continue
        data = json.loads(msg.data)
        kind = data.get("type")
        if kind == "hello":
            name = data.get("name")
            await ws.send_json({"type": "welcome", "visitor_id": f"vis-{id(ws):x}", "interaction_id": None,
                                "messages": []})
        elif kind == "message" and interaction_id is None:
            interaction_id = f"int-{id(ws):x}"
            await offer(relay, interaction_id, name)
        elif kind == "leave":
            await ws.close()
    return ws


async def offer(relay: Relay, interaction_id: str, name: str | None) -> None:
    agent = relay.next_agent()
    if agent is None:
        return
    event: dict[str, Any] = {
        "type": "interaction.offered", "interaction_id": interaction_id, "agent_id": None,
        "screen_pop": {"interaction": {"id": interaction_id, "context": {"chat.name": name}}}}
    await agent.send_json(event)


def make_app() -> web.Application:
    app = web.Application()
    app[RELAY] = Relay()
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/login", login)
    app.router.add_get("/ws/agent", agent_socket)
    app.router.add_get("/ws/chat", visitor_socket)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(make_app(), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
