"""REST: call control for voice interactions, click-to-dial and supervisor monitoring, on the
path that carries the call (Asterisk, Twilio); the Asterisk bridge answers what no path claims."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from cti.domain import Role, jsonable
from cti.errors import InvalidInput, Unavailable
from cti.ports import CallRecorder, DeskCallControl
from desktop_api.common import field_str, json_body, ok, principal
from desktop_api.keys import SERVICES

if TYPE_CHECKING:
    from cti.ami.bridge import AmiBridge

routes = web.RouteTableDef()


def _voice(request: web.Request) -> AmiBridge:
    bridge = request.app[SERVICES].voice
    if bridge is None:
        raise Unavailable("voice-not-configured", "this server has no telephony link configured")
    return bridge


async def _desk(request: web.Request) -> DeskCallControl:
    """The path of this interaction's call, else the Asterisk bridge (its errors, or 503)."""
    services = request.app[SERVICES]
    control = services.desk_control_for(await services.context.interaction(_iid(request)))
    return control if control is not None else _voice(request)


def _iid(request: web.Request) -> str:
    return request.match_info["interaction_id"]


async def _bool(request: web.Request, name: str) -> bool:
    data = await json_body(request)
    value = data.get(name)
    if not isinstance(value, bool):
        raise InvalidInput("bad-field", f"{name!r} must be true or false", field=name)
    return value


@routes.post("/api/interactions/{interaction_id}/hold")
async def hold(request: web.Request) -> web.Response:
    who = principal(request)
    on = await _bool(request, "hold")
    await (await _desk(request)).hold(_iid(request), who.agent_id, on=on)
    return ok({"interaction_id": _iid(request), "held": on})


@routes.post("/api/interactions/{interaction_id}/hangup")
async def hangup(request: web.Request) -> web.Response:
    who = principal(request)
    services = request.app[SERVICES]
    control = services.call_control_for(await services.context.interaction(_iid(request)))
    await (control.hangup(_iid(request), who.agent_id) if control is not None
           else _voice(request).hangup(_iid(request), who.agent_id))
    return ok({"interaction_id": _iid(request), "hangup": "requested"}, status=202)


@routes.post("/api/interactions/{interaction_id}/consult")
async def consult(request: web.Request) -> web.Response:
    who = principal(request)
    data = await json_body(request)
    to_agent = field_str(data, "agent_id", max_len=100, kind="id") or ""
    await (await _desk(request)).consult(_iid(request), who.agent_id, to_agent)
    return ok({"interaction_id": _iid(request), "consulting": to_agent}, status=202)


@routes.post("/api/interactions/{interaction_id}/consult/cancel")
async def cancel_consult(request: web.Request) -> web.Response:
    who = principal(request)
    await (await _desk(request)).cancel_consult(_iid(request), who.agent_id)
    return ok({"interaction_id": _iid(request), "consulting": None}, status=202)


@routes.post("/api/interactions/{interaction_id}/consult/complete")
async def complete_consult(request: web.Request) -> web.Response:
    who = principal(request)
    await (await _desk(request)).complete_consult(_iid(request), who.agent_id)
    return ok({"interaction_id": _iid(request), "transfer": "completing"}, status=202)


@routes.post("/api/interactions/{interaction_id}/recording")
async def recording(request: web.Request) -> web.Response:
    who = principal(request)
    data = await json_body(request)
    action = field_str(data, "action", max_len=10) or ""
    services = request.app[SERVICES]
    interaction = await services.context.interaction(_iid(request))
    recorder = next((c for c in services.call_controls if isinstance(c, CallRecorder)
                     and c.handles(interaction)), None)
    await (recorder.record(_iid(request), who.agent_id, action) if recorder is not None
           else _voice(request).recording(_iid(request), who.agent_id, action))
    return ok({"interaction_id": _iid(request), "recording": action}, status=202)


@routes.post("/api/calls")
async def dial(request: web.Request) -> web.Response:
    who = principal(request)
    data = await json_body(request)
    number = field_str(data, "number", max_len=40, kind="line") or ""
    queue = field_str(data, "queue", required=False, max_len=100, kind="id")
    dialer = request.app[SERVICES].dialer_for(who.agent_id) or _voice(request)
    interaction = await dialer.dial(who.agent_id, number, queue=queue)
    return ok(jsonable(interaction), status=201)


@routes.post("/api/agents/{agent_id}/monitor")
async def monitor(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    data = await json_body(request)
    mode = field_str(data, "mode", max_len=10) or ""
    agent_id = request.match_info["agent_id"]
    services = request.app[SERVICES]
    # Not on a call: the first path says so (after its role checks), as it would for one.
    control = await services.monitor_control_for(agent_id) or services.voice or next(
        (c for c in services.call_controls if isinstance(c, DeskCallControl)), None)
    if control is None:
        raise Unavailable("voice-not-configured", "this server has no telephony link configured")
    await control.monitor(who.agent_id, agent_id, mode)
    return ok({"agent_id": agent_id, "mode": mode, "supervisor_id": who.agent_id}, status=202)


@routes.get("/api/voice")
async def status(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    bridge = services.voice
    # Twilio calls have the same controls: the board offers listen, whisper and barge for them too.
    others = any(isinstance(c, DeskCallControl) for c in services.call_controls if c is not bridge)
    body: dict[str, Any] = {"configured": bridge is not None or others}
    if bridge is not None:
        body.update(bridge.status())
    return ok(body)
