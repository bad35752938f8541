"""The agent and supervisor WebSockets: pushed events out, commands in.

Every message either way is one JSON object with a ``type``. The message types and an example
of each are in ``docs/websocket.md``. A command carries an optional ``ref`` that its ``ack`` or
``error`` echoes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import WSCloseCode, WSMsgType, web

from cti.consult import ChatConsults, consult_json
from cti.domain import InteractionState, Role, jsonable
from cti.errors import Conflict, CtiError, InvalidInput
from cti.events import DomainEvent
from cti.hub import Subscription
from cti.observe.logs import about
from cti.ports import DeskButtons
from cti.services import Services
from cti.text import has_bad_text_chars
from desktop_api import schemas
from desktop_api.auth import Principal, Unauthorized, in_role, read_token, still_valid
from desktop_api.common import principal
from desktop_api.input import check_tree, load_json
from desktop_api.keys import SERVICES
from desktop_api.outbox import LAGGED, Outbox
from desktop_api.rest_desk import desk_options
from desktop_api.scope import queues_for
from desktop_api.sockets import tracked
from desktop_api.team_view import TeamView, watched_agents

log = logging.getLogger(__name__)

MAX_WS_MESSAGE = 256 * 1024
# Sent in the hello: a client built for another version knows at once (docs/websocket.md).
PROTOCOL_VERSION = 1
# The socket outlived the token it was opened with (and no ``renew`` moved it on): log in again
# or reconnect with a fresh ticket. 4000-4999 are the application's own close codes.
TOKEN_EXPIRED = 4001
routes = web.RouteTableDef()

Handler = Callable[[Services, Principal, Any], Awaitable[Any]]


async def _accept(s: Services, p: Principal, c: schemas.Accept) -> Any:
    return jsonable(await s.interactions.accept(c.interaction_id, p.agent_id))


async def _reject(s: Services, p: Principal, c: schemas.Reject) -> Any:
    await s.interactions.reject(c.interaction_id, p.agent_id)
    return {"rejected": True}


async def _reply(s: Services, p: Principal, c: schemas.Reply) -> Any:
    return jsonable(await s.interactions.reply(c.interaction_id, p.agent_id, c.body))


async def _note(s: Services, p: Principal, c: schemas.Note) -> Any:
    return jsonable(await s.interactions.add_note(c.interaction_id, p.agent_id, c.body))


async def _transfer(s: Services, p: Principal, c: schemas.Transfer) -> Any:
    return jsonable(await s.transfer(c.interaction_id, p.agent_id, to_queue=c.queue,
                                     to_agent=c.agent_id, note=c.note, if_unavailable=c.if_unavailable))


async def _complete(s: Services, p: Principal, c: schemas.Complete) -> Any:
    return jsonable(await s.interactions.complete(c.interaction_id, p.agent_id,
                                                  disposition=c.disposition, note=c.note))


async def _set_state(s: Services, p: Principal, c: schemas.SetState) -> Any:
    return await s.agents.set_state(c.agent_id or p.agent_id, c.state, reason=c.reason,
                                    actor_id=p.agent_id)


async def _typing(s: Services, p: Principal, c: schemas.Typing) -> Any:
    sent = s.typing is not None and await s.typing.agent_typing(c.interaction_id, p.agent_id)
    return {"sent": sent}


def _consults(s: Services) -> ChatConsults:
    if s.consults is None:
        raise Conflict("consults-off", "consults are not available on this server")
    return s.consults


async def _consult_start(s: Services, p: Principal, c: schemas.ConsultStart) -> Any:
    return consult_json(await _consults(s).start(c.interaction_id, p.agent_id, c.agent_id, c.body))


async def _consult_say(s: Services, p: Principal, c: schemas.ConsultSay) -> Any:
    await _consults(s).say(c.consult_id, p.agent_id, c.body)
    return {"sent": True}


async def _consult_hand_over(s: Services, p: Principal, c: schemas.ConsultHandOver) -> Any:
    return consult_json(await _consults(s).hand_over(c.consult_id, p.agent_id, c.note))


async def _consult_end(s: Services, p: Principal, c: schemas.ConsultEnd) -> Any:
    return consult_json(await _consults(s).end(c.consult_id, p.agent_id))


COMMANDS: dict[str, Handler] = {
    "accept": _accept, "reject": _reject, "reply": _reply, "note": _note,
    "transfer": _transfer, "complete": _complete, "set_state": _set_state, "typing": _typing,
    "consult_start": _consult_start, "consult_say": _consult_say, "consult_hand_over": _consult_hand_over,
    "consult_end": _consult_end,
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


EARLY_EVENTS = 1000  # held while the hello is read, as the hub's queue held them before
# This node's open agent desks, so a configuration change can bring each its new desk options.
AGENT_DESKS = web.AppKey("agent_desks", set["_AgentFeed"])


def follow_desk_options(app: web.Application) -> None:
    """Once per application: when the running configuration changes (an admin's edit, on any
    node, reaches every node as a new version), each open agent desk whose options (dispositions,
    away reasons, canned replies) changed gets ``desk.options``; before, only a reconnect did."""
    desks: set[_AgentFeed] = set()
    app[AGENT_DESKS] = desks
    services = app[SERVICES]

    async def changed(_old: object, _new: object) -> None:
        for desk in list(desks):
            desk.options_changed()

    services.live.watch(changed)


class _AgentFeed:
    """An agent's events into their socket's outbox, called by the hub in the publisher (never
    waits). Events published while the hello is being read are held and follow it, in order."""

    __slots__ = ("_desk", "_early", "_lagged", "_outbox", "_services", "_who", "closing")

    def __init__(self, outbox: Outbox, who: Principal, services: Services) -> None:
        self._outbox = outbox
        self._who = who
        self._services = services
        self._early: list[DomainEvent] | None = []
        self._lagged = False
        self.closing: set[asyncio.Task[None]] = set()  # a close started from the publisher
        self._desk: dict[str, Any] | None = None  # the desk options the desk has, once the hello is out

    def __call__(self, event: DomainEvent) -> None:
        if self._early is None:
            self._put(event)
        elif len(self._early) < EARLY_EVENTS:
            self._early.append(event)
        else:
            self._lagged = True

    def started(self, hello: dict[str, Any]) -> None:
        """The hello is read: it goes first, then what was held."""
        self._outbox.put(hello)
        early, self._early = self._early or [], None
        if self._lagged:
            self._outbox.put(LAGGED)
        for event in early:
            self._put(event)
        self._desk = hello["desk"]
        self.options_changed()  # a change while the hello was read

    def options_changed(self) -> None:
        """Sends the desk its options if they differ from what it has (not before its hello)."""
        if self._desk is None or self._outbox.closing:
            return
        desk = desk_options(self._services, self._who)
        if desk != self._desk:
            self._desk = desk
            self._outbox.put({"type": "desk.options", "at": self._services.clock.now(), "desk": desk})

    def _put(self, event: DomainEvent) -> None:
        outbox = self._outbox
        if outbox.closing:
            return
        if not in_role(self._services, self._who):
            task = asyncio.create_task(outbox.close(WSCloseCode.POLICY_VIOLATION, b"log in again"))
            self.closing.add(task)
            task.add_done_callback(self.closing.discard)
            return
        outbox.put(event.to_dict())


async def _hello(services: Services, who: Principal) -> dict[str, Any]:
    hello: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL_VERSION,
                             "expires_at": who.expires_at,
                             "agent": await services.agents.view(who.agent_id),
                             "at": services.clock.now(), "desk": desk_options(services, who)}
    if who.role is Role.AGENT:
        mine = await services.context.list_interactions(states=None, agent_id=who.agent_id, limit=50,
                                                        open_only=True)
        hello["interactions"] = [await services.interactions.screen_pop(i) for i in mine]
        # Each open offer's deadline, so a reloaded desk counts down from the same moment.
        offers = [await services.routing.offer_for(i.id) for i in mine if i.state is InteractionState.OFFERED]
        hello["offers"] = [{"interaction_id": o.interaction_id, "expires_at": o.expires_at}
                           for o in offers if o is not None and o.agent_id == who.agent_id]
        # Click-to-dial and call controls: Asterisk, or Twilio when their phone is on it.
        hello["telephony"] = services.voice is not None or services.dialer_for(who.agent_id) is not None
        # Which call buttons each telephony path's calls get: the desk draws no button that would
        # be refused (consult on a SIP-line call).
        hello["call_controls"] = [{"refs": list(c.call_refs), "controls": list(c.desk_controls)}
                                  for c in services.call_controls if isinstance(c, DeskButtons)]
    else:
        hello["queues"] = queues_for(services, who, await services.queue_stats())
        hello["agents"] = [await services.agents.view(a) for a in watched_agents(services, who)]
    return hello


class _Lease:
    """Who holds an open socket, and until when: the life of the token it was opened with, moved
    on by a ``renew`` that brings a newer token of the same user and role (which then also
    stands for the checks of a log-out: the refresh revoked the old one)."""

    __slots__ = ("moved", "who")

    def __init__(self, who: Principal) -> None:
        self.who = who
        self.moved = asyncio.Event()

    async def renew(self, services: Services, token: str) -> float:
        fresh = read_token(token, secret=services.token_secret)
        if (fresh.agent_id, fresh.role) != (self.who.agent_id, self.who.role):
            raise Unauthorized("wrong-token", "a socket is renewed with a token of its own user and role")
        if not await still_valid(services, fresh):
            raise Unauthorized("token-revoked", "this token was logged out or its role changed; log in again")
        if fresh.expires_at >= self.who.expires_at:  # (an older token would shorten its life)
            self.who = fresh
            self.moved.set()
        return self.who.expires_at

    async def expire(self, services: Services, outbox: Outbox) -> None:
        """Closes the socket with ``TOKEN_EXPIRED`` when its token's life is over."""
        while (left := self.who.expires_at - services.clock.now()) > 0:
            self.moved.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.moved.wait(), left)
        log.info("socket token expired agent=%s", self.who.agent_id)
        await outbox.close(TOKEN_EXPIRED, b"token expired")


async def _serve(request: web.Request, *, supervisor: bool) -> web.WebSocketResponse:
    who = principal(request)  # before the upgrade: a bad token gets a plain 401
    if supervisor:
        who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_WS_MESSAGE)
    await ws.prepare(request)
    log.info("socket open agent=%s role=%s", who.agent_id, who.role.value)
    traffic = services.config.traffic
    outbox = Outbox(ws, request, size=traffic.socket_queue_size, deadline=traffic.socket_send_deadline,
                    name=f"{who.role.value}:{who.agent_id}")
    # Subscribe before reading the hello's snapshot: an event published in between is then
    # delivered after the hello instead of being lost.
    feed: _AgentFeed | None = None
    if who.role is Role.AGENT:
        # Found by the hub's index on the agent id (an event costs nothing on others' sockets)
        # and handed straight to the outbox: no queue and no task per idle agent socket.
        feed = _AgentFeed(outbox, who, services)
        sub = services.hub.subscribe(agent_id=who.agent_id, on_event=feed)
    elif who.role is Role.SUPERVISOR:
        # Found by the hub under the agents they supervise (and their own id), which ``_wants``
        # reads from the same configuration: an agent's event costs only their supervisors'
        # boards, not every board open on the node.
        watched = [a.id for a in services.agents.supervised(who.agent_id)]
        sub = services.hub.subscribe(wants=lambda event: _wants(who, services, event),
                                     watch=[*watched, who.agent_id])
    else:  # an admin watches every agent
        sub = services.hub.subscribe(wants=lambda event: _wants(who, services, event))
    present = (services.presence.desktop(who.agent_id) if services.presence is not None
               else contextlib.nullcontext())
    async with present:  # counted before the hello: a desk back within the grace keeps its state
        return await _run(ws, who, services, outbox, sub, feed, request)


async def _run(ws: web.WebSocketResponse, who: Principal, services: Services, outbox: Outbox,
               sub: Subscription, feed: _AgentFeed | None, request: web.Request) -> web.WebSocketResponse:
    with tracked(request, ws, who.role.value):
        try:
            hello = await _hello(services, who)
        except BaseException:
            sub.close()
            await outbox.aclose()
            raise
        pump: asyncio.Task[None] | None = None
        desks = request.app.get(AGENT_DESKS)
        if feed is not None:
            feed.started(hello)
            if desks is not None:
                desks.add(feed)
        else:
            outbox.put(hello)
            pump = asyncio.create_task(_pump(outbox, who, services, sub), name=f"ws-pump-{who.agent_id}")
        # The outbox holds it until sent: this frame, which lives as long as the socket, need not
        # (with an agent's open interactions and their screen pops, it can weigh tens of KB).
        del hello
        lease = _Lease(who)
        expiry = asyncio.create_task(lease.expire(services, outbox), name=f"ws-expiry-{who.agent_id}")
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    reply = await _command(services, lease, msg.data)
                    if reply is None:  # logged out or demoted since the open
                        await outbox.close(WSCloseCode.POLICY_VIOLATION, b"log in again")
                        break
                    outbox.put(reply)
                elif msg.type is WSMsgType.BINARY:
                    outbox.put({"type": "error", "error_id": "binary-not-supported",
                                "message": "send JSON text frames"})
                elif msg.type is WSMsgType.ERROR:
                    log.warning("socket error agent=%s: %s", who.agent_id, ws.exception())
        finally:
            if desks is not None and feed is not None:
                desks.discard(feed)
            expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await expiry
            sub.close()
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await pump
            for task in list(feed.closing if feed is not None else ()):
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
            await outbox.aclose()
            log.info("socket closed agent=%s", who.agent_id)
    return ws


def _echoable(ref: Any) -> Any:
    """The command's ``ref`` if it is safe to send back (a short clean string or an integer)."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref
    if isinstance(ref, str) and len(ref) <= 200 and not has_bad_text_chars(ref):
        return ref
    return None


async def _command(services: Services, lease: _Lease, text: str) -> dict[str, Any] | None:
    """The answer to one frame; None when the socket's user logged out or lost their role."""
    who = lease.who
    ref: Any = None
    try:
        data = load_json(text)
        if not isinstance(data, dict):
            raise InvalidInput("malformed-json", "the message must be a JSON object")
        ref = _echoable(data.get("ref"))
        check_tree(data)  # depth and characters (too-deep, bad-characters), with the ref known
        kind = data.get("type")
        if kind == "renew":  # before the log-out check: the refresh that made it revoked the old token
            renew = cast(schemas.Renew, schemas.parse_command(data))
            return {"type": "ack", "ref": ref, "command": kind,
                    "result": {"expires_at": await lease.renew(services, renew.token)}}
        if not await still_valid(services, who):
            return None
        command = COMMANDS.get(kind) if isinstance(kind, str) else None
        if command is None:
            raise InvalidInput("unknown-command", f"unknown command {kind!r}",
                               known=sorted([*COMMANDS, "renew"]))
        target = data.get("interaction_id")
        with about(interaction=target if isinstance(target, str) else None):
            result = await command(services, who, schemas.parse_command(data))
        return {"type": "ack", "ref": ref, "command": data["type"], "result": result}
    except CtiError as exc:
        return {"type": "error", "ref": ref, **exc.to_dict()}
    except Exception:
        # A fault of ours: the client gets an error frame on a socket that stays usable.
        log.exception("command failed agent=%s", who.agent_id)
        return {"type": "error", "ref": ref, "error_id": "internal-error", "message": "internal error",
                "details": {}}


@routes.get("/ws/agent")
async def agent_socket(request: web.Request) -> web.WebSocketResponse:
    return await _serve(request, supervisor=False)


@routes.get("/ws/supervisor")
async def supervisor_socket(request: web.Request) -> web.WebSocketResponse:
    return await _serve(request, supervisor=True)
