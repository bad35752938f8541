"""The web chat edge: the widget page, the visitor WebSocket, and events pushed to visitors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from adapters.webchat.codes import VisitorCodes
from adapters.webchat.guard import GUARD, VisitorGuard, refusal_response, refuse
from adapters.webchat.schemas import (
    MAX_BODY,
    CallbackRequest,
    ChatText,
    Hello,
    Leave,
    SendCode,
    Typing,
    VerifyCode,
    parse_frame,
)
from adapters.webchat.sessions import ChatSessions, Visitor
from adapters.webchat.waiting import WaitingNotices
from cti.errors import CtiError, InvalidInput
from cti.events import (
    DomainEvent,
    InteractionAccepted,
    InteractionClosed,
    InteractionQueued,
    InteractionTransferred,
    MessageAdded,
    TypingIndicated,
)
from cti.hub import EventHub
from cti.observe.logs import about
from cti.settings.traffic import TrafficSettings
from cti.tasks import stop_tasks
from cti.typing_signal import TypingSignals
from desktop_api.client_address import client_address
from desktop_api.input import check_lines, parse_json
from desktop_api.outbox import Outbox
from desktop_api.sockets import track_sockets, tracked

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_VISITOR_MESSAGE = MAX_BODY  # one frame; the service refuses a longer message text itself
# Fields of a hello (and of the code frames) that must be one line without control characters.
ONE_LINE = ("type", "visitor_id", "session_secret", "name", "email", "phone", "page", "site", "identifier",
            "identifier_hash", "to", "code")
SESSIONS = web.AppKey("chat_sessions", ChatSessions)
WAITING = web.AppKey("chat_waiting", WaitingNotices)
CODES = web.AppKey("chat_codes", VisitorCodes)
AgentName = Callable[[str], str]
AGENT_NAME: web.AppKey[AgentName] = web.AppKey("chat_agent_name")
TRAFFIC = web.AppKey("chat_traffic", TrafficSettings)
TYPING = web.AppKey("chat_typing", TypingSignals)


def visitor_message(m: Mapping[str, Any], agent_name: Callable[[str], str]) -> dict[str, Any]:
    """A stored message as the visitor sees it: agents by name, no internal ids or refs."""
    out = {"type": "message", "id": m["id"], "sender": m["sender"], "body": m["body"], "at": m["at"]}
    if m.get("agent_id"):
        out["agent_name"] = agent_name(m["agent_id"])
    return out


SurveyToken = Callable[[str], str | None]  # an interaction's signed survey token (cti.surveys)


def _visitor_event(event: DomainEvent, agent_name: Callable[[str], str],
                   survey_token: SurveyToken | None = None) -> tuple[str, dict[str, Any]] | None:
    """The part of a domain event a visitor may see, or None. Internal notes never leave.
    A close carries the survey's signed token: only this visitor's sockets hear it."""
    if isinstance(event, MessageAdded):
        return event.interaction_id, visitor_message(event.message, agent_name)
    if isinstance(event, InteractionAccepted):
        return event.interaction_id, {"type": "status", "state": "agent_joined",
                                      "agent_name": agent_name(event.agent_id)}
    if isinstance(event, InteractionTransferred):
        return event.interaction_id, {"type": "status", "state": "transferred"}
    if isinstance(event, InteractionClosed):
        closed: dict[str, Any] = {"type": "status", "state": "closed"}
        token = survey_token(event.interaction_id) if survey_token is not None else None
        if token is not None:
            closed["survey_token"] = token
        return event.interaction_id, closed
    if isinstance(event, TypingIndicated) and event.by == "agent":
        return event.interaction_id, {"type": "typing", "who": "agent",
                                      "agent_name": agent_name(event.agent_id)}
    if isinstance(event, InteractionQueued) and event.requeued_because is None:
        return str(event.interaction["id"]), {"type": "status", "state": "queued"}
    return None


def setup_webchat(app: web.Application, *, sessions: ChatSessions, codes: VisitorCodes, hub: EventHub,
                  agent_name: Callable[[str], str], traffic: TrafficSettings | None = None,
                  waiting: WaitingNotices | None = None, typing: TypingSignals | None = None,
                  survey_token: SurveyToken | None = None) -> None:
    app[SESSIONS] = sessions
    if waiting is not None:
        app[WAITING] = waiting
    app[CODES] = codes
    app[AGENT_NAME] = agent_name
    app[TRAFFIC] = traffic or TrafficSettings()
    app[GUARD] = VisitorGuard(app[TRAFFIC])
    if typing is not None:
        app[TYPING] = typing
    track_sockets(app)

    async def forward(_: web.Application) -> AsyncIterator[None]:
        sub = hub.subscribe(maxsize=10_000)

        async def pump() -> None:
            while True:
                event = await sub.get()
                picked = _visitor_event(event, agent_name, survey_token)
                if picked is None:
                    continue
                visitor = sessions.visitor_for(picked[0])
                if visitor is None:
                    continue
                # Each socket's own queue: a visitor who stopped reading stalls nobody else.
                outbox: Outbox
                for outbox in list(visitor.sockets):
                    outbox.put(picked[1])

        task = asyncio.create_task(pump(), name="webchat-forward")
        if waiting is not None:
            await waiting.start()
        yield
        if waiting is not None:
            await waiting.aclose()
        await stop_tasks([task])
        sub.close()
        await sessions.aclose()

    app.cleanup_ctx.append(forward)
    app.router.add_get("/chat", chat_page)
    # The page's code and style are files of their own, so it runs under "script-src 'self'".
    app.router.add_get("/chat/chat.js", chat_script)
    app.router.add_get("/chat/chat.css", chat_style)
    app.router.add_get("/chat/waiting.js", waiting_script)
    app.router.add_get("/chat/survey.js", survey_script)  # the inline survey after a close
    app.router.add_get("/ws/chat", visitor_socket)


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.html")


async def chat_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.js", headers={"Content-Type": "text/javascript; charset=utf-8"})


async def waiting_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "waiting.js", headers={"Content-Type": "text/javascript; charset=utf-8"})


async def survey_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "survey.js", headers={"Content-Type": "text/javascript; charset=utf-8"})


async def chat_style(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.css", headers={"Content-Type": "text/css; charset=utf-8"})


async def visitor_socket(request: web.Request) -> web.StreamResponse:
    guard = request.app[GUARD]
    address = client_address(request, guard.settings.trusted_proxies)
    refused = guard.admit(address)
    if refused is not None:
        return refusal_response(refused)
    try:
        return await _visitor_socket(request, guard, address)
    finally:
        guard.release(address)


async def _visitor_socket(request: web.Request, guard: VisitorGuard, address: str) -> web.WebSocketResponse:
    sessions = request.app[SESSIONS]
    codes = request.app[CODES]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_VISITOR_MESSAGE)
    await ws.prepare(request)
    traffic = request.app[TRAFFIC]
    outbox = Outbox(ws, request, size=traffic.socket_queue_size, deadline=traffic.socket_send_deadline,
                    name="visitor", close_on_lag=True)  # the reconnect's welcome resends the transcript
    visitor: Visitor | None = None
    said_hello = False
    watch = asyncio.create_task(guard.hello_watch(outbox, lambda: said_hello), name="chat-hello-watch")
    with tracked(request, ws, "visitor"):
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = parse_frame(_parse(msg.data))
                    if isinstance(frame, Hello) and visitor is None:
                        visitor, welcome = await sessions.hello(frame, outbox)
                        said_hello = True
                        with about(interaction=visitor.interaction_id):
                            log.info("visitor connected visitor=%s interaction=%s",
                                     visitor.visitor_id, visitor.interaction_id)
                        name = request.app[AGENT_NAME]
                        welcome["messages"] = [visitor_message(m, name) for m in welcome["messages"]]
                        outbox.put(welcome)
                    elif isinstance(frame, Hello):
                        raise InvalidInput("already-started", "this conversation has already said hello")
                    elif visitor is None:
                        raise InvalidInput("hello-first", "send a hello before anything else")
                    elif isinstance(frame, ChatText):
                        refusal = await guard.message(visitor.visitor_id)
                        if refusal is None and visitor.interaction_id is None:
                            refusal = await guard.new_conversation(address)
                        if refusal is not None:
                            await refuse(outbox, refusal)
                            break
                        await sessions.message(visitor, frame.body)
                    elif isinstance(frame, Typing):
                        # Before an agent joins there is nobody to tell: nothing happens.
                        if visitor.interaction_id is not None and TYPING in request.app:
                            await request.app[TYPING].customer_typing(visitor.interaction_id)
                    elif isinstance(frame, SendCode):
                        outbox.put(await codes.send(visitor, frame.to))
                    elif isinstance(frame, VerifyCode):
                        outbox.put(await codes.verify(visitor, frame.code))
                    elif isinstance(frame, CallbackRequest):
                        if WAITING not in request.app:
                            raise InvalidInput("callback-unavailable", "callbacks are not offered here")
                        outbox.put(await request.app[WAITING].callback(visitor, frame))
                    elif isinstance(frame, Leave):
                        # Mark the interaction before closing: close() waits for the visitor's
                        # close frame, which a departing browser may never send.
                        await sessions.disconnected(visitor, outbox, leaving=True)
                        visitor = None
                        await outbox.close()
                except CtiError as exc:
                    outbox.put({"type": "error", **exc.to_dict()})
                except Exception:  # a fault of ours: an error frame, the socket stays usable
                    log.exception("visitor message failed")
                    outbox.put({"type": "error", "error_id": "internal-error",
                                "message": "internal error", "details": {}})
        finally:
            watch.cancel()
            if visitor is not None:
                await sessions.disconnected(visitor, outbox, leaving=False)
            await outbox.aclose()
    return ws


def _parse(text: str) -> dict[str, Any]:
    data = parse_json(text)  # depth and characters checked (too-deep, bad-characters)
    if not isinstance(data, dict):
        raise InvalidInput("malformed-json", "the message must be a JSON object")
    check_lines(data, ONE_LINE)  # these reach the customer record, the screen pop and log lines
    return data
