"""REST: the supervisor's waiting list, pick and reassign, and chat whisper, barge and leave (the rules
and the audit are ``cti.supervision``'s; these handlers read the request and answer)."""

from __future__ import annotations

from aiohttp import web

from cti.domain import Role, jsonable
from cti.supervision import SupervisionService, Supervisor
from desktop_api.common import field_str, json_body, ok, principal
from desktop_api.keys import SERVICES

routes = web.RouteTableDef()


def _supervision(request: web.Request) -> tuple[SupervisionService, Supervisor]:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    s = request.app[SERVICES]
    # Stateless: built from the running services per request (no state to keep between them).
    service = SupervisionService(config=lambda: s.config, context=s.context, routing=s.routing, hub=s.hub,
                                 clock=s.clock,
                                 ids=s.ids, interactions=s.interactions, transfer=s.transfer)
    return service, Supervisor(agent_id=who.agent_id, role=who.role)


def _iid(request: web.Request) -> str:
    return request.match_info["interaction_id"]


@routes.get("/api/waiting")
async def waiting(request: web.Request) -> web.Response:
    service, who = _supervision(request)
    rows = await service.waiting(who)
    return ok({"at": request.app[SERVICES].clock.now(), "waiting": [jsonable(r) for r in rows]})


@routes.post("/api/interactions/{interaction_id}/pick")
async def pick(request: web.Request) -> web.Response:
    service, who = _supervision(request)
    data = await json_body(request)
    to_agent = field_str(data, "agent_id", max_len=100, kind="id") or ""
    return ok(jsonable(await service.pick(who, _iid(request), to_agent)))


@routes.post("/api/interactions/{interaction_id}/reassign")
async def reassign(request: web.Request) -> web.Response:
    service, who = _supervision(request)
    data = await json_body(request)
    moved = await service.reassign(
        who, _iid(request), to_agent=field_str(data, "agent_id", required=False, max_len=100, kind="id"),
        to_queue=field_str(data, "queue", required=False, max_len=100, kind="id"),
        note=field_str(data, "note", required=False, max_len=10_000))
    return ok(jsonable(moved))


@routes.post("/api/interactions/{interaction_id}/whisper")
async def whisper(request: web.Request) -> web.Response:
    service, who = _supervision(request)
    data = await json_body(request)
    note = await service.whisper(who, _iid(request), field_str(data, "body") or "")
    return ok(jsonable(note), status=201)


@routes.post("/api/interactions/{interaction_id}/barge")
async def barge(request: web.Request) -> web.Response:
    service, who = _supervision(request)
    announced = await service.barge(who, _iid(request))
    return ok({"interaction_id": _iid(request), "barged": True,
               "announcement": jsonable(announced) if announced is not None else None})


@routes.post("/api/interactions/{interaction_id}/barge/leave")
@routes.delete("/api/interactions/{interaction_id}/barge")
async def barge_leave(request: web.Request) -> web.Response:
    service, who = _supervision(request)
    announced = await service.leave(who, _iid(request))
    return ok({"interaction_id": _iid(request), "barged": False, "announcement": jsonable(announced)})


@routes.post("/api/interactions/{interaction_id}/barge/messages")
async def barge_message(request: web.Request) -> web.Response:
    service, who = _supervision(request)
    data = await json_body(request)
    message = await service.say(who, _iid(request), field_str(data, "body") or "")
    return ok(jsonable(message), status=201)
