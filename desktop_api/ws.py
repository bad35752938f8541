"""The agent and supervisor WebSockets: pushed events out, commands in.

Every message either way is one JSON object with a ``type``. The message types and an example
of each are in ``docs/websocket.md``. A command carries an optional ``ref`` that its ``ack`` or
``error`` echoes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from cti.domain import Role, jsonable
from cti.errors import CtiError, InvalidInput
from cti.events import DomainEvent
from cti.hub import Subscription
from cti.services import Services
from desktop_api.auth import Principal, in_role, still_valid
from desktop_api.common import principal
from desktop_api.keys import SERVICES
from desktop_api.outbox import LAGGED, Outbox
from desktop_api.scope import queues_for
from desktop_api.sockets import tracked
from desktop_api.team_view import TeamView, watched_agents

log = logging.getLogger(__name__)

MAX_WS_MESSAGE = 256 * 1024
routes = web.RouteTableDef()

Command = Callable[[Services, Principal, dict[str, Any]], Awaitable[Any]]


def _s(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput("bad-field", f"{name!r} must be a string", field=name)
    return value


async def _accept(s: Services, p: Principal, d: dict[str, Any]) -> Any:
    return jsonable(await s.interactions.accept(_s(d, "interaction_id") or "", p.agent_id))


async def _reject(s: Services, p: Principal, d: dict[str, Any]) -> Any:
    await s.interactions.reject(_s(d, "interaction_id") or "", p.agent_id)
    return {"rejected": True}


async def _reply(s: Services, p: Principal, d: dict[str, Any]) -> Any:
    return jsonable(await s.interactions.reply(_s(d, "interaction_id") or "", p.agent_id,
                                               _s(d, "body") or ""))


async def _note(s: Services, p: Principal, d: dict[str, Any]) -> Any:
    return jsonable(await s.interactions.add_note(_s(d, "interaction_id") or "", p.agent_id,
                                                  _s(d, "body") or ""))


async def _transfer(s: Services, p: Principal, d: dict[str, Any]) -> Any:
    return jsonable(await s.transfer(
        _s(d, "interaction_id") or "", p.agent_id, to_queue=_s(d, "queue", required=False),
        to_agent=_s(d, "agent_id", required=False), note=_s(d, "note", required=False)))


async def _complete(s: Services, p: Principal, d: dict[str, Any]) -> Any:
    return jsonable(await s.interactions.complete(
        _s(d, "interaction_id") or "", p.agent_id, disposition=_s(d, "disposition") or "",
        note=_s(d, "note", required=False)))


async def _set_state(s: Services, p: Principal, d: dict[str, Any]) -> Any:
    target = _s(d, "agent_id", required=False) or p.agent_id
    return await s.agents.set_state(target, _s(d, "state") or "", reason=_s(d, "reason", required=False),
                                    actor_id=p.agent_id)


COMMANDS: dict[str, Command] = {
    "accept": _accept, "reject": _reject, "reply": _reply, "note": _note,
    "transfer": _transfer, "complete": _complete, "set_state": _set_state,
}


def _wants(who: Principal, services: Services, event: DomainEvent) -> bool:
    if who.role is Role.AGENT:
        return event.agent() == who.agent_id
    agent_id = event.agent()
    # Supervisors get every queue event and the agent events of their teams.
    return (agent_id is None or agent_id == who.agent_id
            or services.agents.may_supervise(who.agent_id, agent_id))


async def _pump(outbox: Outbox, who: Principal, services: Services, sub: Subscription) -> None:
    """Hub events into the socket's own queue: never waits on the socket."""
    view = TeamView(services, who) if who.role is Role.SUPERVISOR else None
    try:
        while not outbox.closing:
            event = await sub.get()
            if not in_role(services, who):
                await outbox.close(WSCloseCode.POLICY_VIOLATION, b"log in again")
                return
            if view is not None and not await view.wants(event):
                continue
            if sub.lagged:
                sub.lagged = False
                outbox.put(LAGGED)
            outbox.put(event.to_dict())
    finally:
        sub.close()


async def _hello(services: Services, who: Principal) -> dict[str, Any]:
    hello: dict[str, Any] = {"type": "hello", "agent": await services.agents.view(who.agent_id)}
    if who.role is Role.AGENT:
        mine = await services.context.list_interactions(states=None, agent_id=who.agent_id, limit=50,
                                                        open_only=True)
        hello["interactions"] = [await services.interactions.screen_pop(i) for i in mine]
        hello["telephony"] = services.voice is not None  # click-to-dial and call controls
    else:
        hello["queues"] = queues_for(services, who, await services.queue_stats())
        hello["agents"] = [await services.agents.view(a) for a in watched_agents(services, who)]
    return hello


async def _serve(request: web.Request, *, supervisor: bool) -> web.WebSocketResponse:
    who = principal(request)  # before the upgrade: a bad token gets a plain 401
    if supervisor:
        who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_WS_MESSAGE)
    await ws.prepare(request)
    log.info("socket open agent=%s role=%s", who.agent_id, who.role.value)
    # Subscribe before reading the hello's snapshot: an event published in between is then
    # delivered after the hello instead of being lost.
    sub = services.hub.subscribe(wants=lambda event: _wants(who, services, event))
    traffic = services.config.traffic
    outbox = Outbox(ws, request, size=traffic.socket_queue_size, deadline=traffic.socket_send_deadline,
                    name=f"{who.role.value}:{who.agent_id}")
    with tracked(request, ws):
        try:
            outbox.put(await _hello(services, who))
        except BaseException:
            sub.close()
            await outbox.aclose()
            raise
        pump = asyncio.create_task(_pump(outbox, who, services, sub), name=f"ws-pump-{who.agent_id}")
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    if not await still_valid(services, who):  # logged out or demoted since the open
                        await outbox.close(WSCloseCode.POLICY_VIOLATION, b"log in again")
                        break
                    outbox.put(await _command(services, who, msg.data))
                elif msg.type is WSMsgType.BINARY:
                    outbox.put({"type": "error", "error_id": "binary-not-supported",
                                "message": "send JSON text frames"})
                elif msg.type is WSMsgType.ERROR:
                    log.warning("socket error agent=%s: %s", who.agent_id, ws.exception())
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await pump
            await outbox.aclose()
            log.info("socket closed agent=%s", who.agent_id)
    return ws


async def _command(services: Services, who: Principal, text: str) -> dict[str, Any]:
    ref: Any = None
    try:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput("malformed-json", "the message is not valid JSON") from exc
        if not isinstance(data, dict):
            raise InvalidInput("malformed-json", "the message must be a JSON object")
        ref = data.get("ref")
        kind = data.get("type")
        command = COMMANDS.get(kind) if isinstance(kind, str) else None
        if command is None:
            raise InvalidInput("unknown-command", f"unknown command {kind!r}", known=sorted(COMMANDS))
        result = await command(services, who, data)
        return {"type": "ack", "ref": ref, "command": data["type"], "result": result}
    except CtiError as exc:
        return {"type": "error", "ref": ref, **exc.to_dict()}


@routes.get("/ws/agent")
async def agent_socket(request: web.Request) -> web.WebSocketResponse:
    return await _serve(request, supervisor=False)


@routes.get("/ws/supervisor")
async def supervisor_socket(request: web.Request) -> web.WebSocketResponse:
    return await _serve(request, supervisor=True)
