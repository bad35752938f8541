"""REST: interactions and the agent's actions on them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp import web

from cti.access import supervisor_reach
from cti.domain import InteractionState, Role, jsonable
from cti.errors import InvalidInput, NotFound
from desktop_api.common import field_str, json_body, ok, principal
from desktop_api.keys import SERVICES
from desktop_api.scope import customer_files, visible_interaction

routes = web.RouteTableDef()

REF = re.compile(r"sha256:[0-9a-f]{64}")
SAFE_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")  # a plain type, no parameters
OCTETS = "application/octet-stream"
CONTROL = re.compile(r'[\x00-\x1f\x7f"\\]')  # not in a quoted header value


@routes.get("/api/interactions")
async def list_interactions(request: web.Request) -> web.Response:
    who = principal(request)
    services = request.app[SERVICES]
    states: list[InteractionState] | None = None
    if "state" in request.query:
        try:
            states = [InteractionState(s) for s in request.query["state"].split(",")]
        except ValueError as exc:
            raise InvalidInput("bad-state", "unknown interaction state in 'state'") from exc
    agent_id = who.agent_id if who.role is Role.AGENT else request.query.get("agent_id")
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError as exc:
        raise InvalidInput("bad-limit", "'limit' must be an integer") from exc
    if not 1 <= limit <= 200:  # as documented; a negative LIMIT is an error on PostgreSQL
        raise InvalidInput("bad-limit", "'limit' must be between 1 and 200")
    # A supervisor lists their teams' queues and agents' work; an admin everything.
    scope = supervisor_reach(services.config, who.agent_id) if who.role is Role.SUPERVISOR else None
    items = await services.context.list_interactions(states=states, agent_id=agent_id, limit=limit,
                                                     scope=scope)
    return ok([jsonable(i) for i in items])


@routes.get("/api/interactions/{interaction_id}")
async def get_interaction(request: web.Request) -> web.Response:
    services, _, interaction = await visible_interaction(request)
    body: dict[str, Any] = jsonable(interaction)
    body["messages"] = [jsonable(m) for m in await services.context.messages(interaction.id)]
    body["notes"] = [jsonable(n) for n in await services.context.notes(interaction.id)]
    return ok(body)


@routes.get("/api/interactions/{interaction_id}/screen-pop")
async def get_screen_pop(request: web.Request) -> web.Response:
    services, _, interaction = await visible_interaction(request)
    return ok(await services.interactions.screen_pop(interaction))


@routes.get("/api/interactions/{interaction_id}/attachments/{ref}")
async def get_attachment(request: web.Request) -> web.StreamResponse:
    """A file the customer sent, to whoever may see the interaction or read its customer; only a
    file its channel recorded on one of its customer messages is served, and always as a download
    (never rendered by the page)."""
    services, interaction = await customer_files(request)
    ref = request.match_info["ref"]
    if not REF.fullmatch(ref):
        raise InvalidInput("bad-attachment-ref", "an attachment reference is sha256:<64 hex digits>")
    # Only what the channel recorded on a customer message when it arrived: never text.
    recorded = next((a for a in await services.context.attachments(interaction.id) if a.ref == ref), None)
    for source in services.attachment_sources:
        found = source.attachment(recorded) if recorded is not None else None
        if found is not None:
            content_type = found.content_type if SAFE_TYPE.fullmatch(found.content_type) else OCTETS
            # The plain name for old clients (ASCII, no quotes or backslashes), the exact one in RFC 5987.
            plain = CONTROL.sub("_", found.filename.encode("ascii", "replace").decode())
            return web.FileResponse(found.path, headers={
                "Content-Type": content_type,
                "Content-Disposition": f"attachment; filename=\"{plain}\"; "
                                       f"filename*=UTF-8''{quote(found.filename, safe='')}",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-store",
            })
    raise NotFound("attachment-not-found", "no such file on this interaction", interaction_id=interaction.id)


@routes.post("/api/interactions/{interaction_id}/accept")
async def accept(request: web.Request) -> web.Response:
    who = principal(request)
    interaction = await request.app[SERVICES].interactions.accept(
        request.match_info["interaction_id"], who.agent_id)
    return ok(jsonable(interaction))


@routes.post("/api/interactions/{interaction_id}/reject")
async def reject(request: web.Request) -> web.Response:
    who = principal(request)
    await request.app[SERVICES].interactions.reject(request.match_info["interaction_id"], who.agent_id)
    return ok({"rejected": True})


@routes.post("/api/interactions/{interaction_id}/reply")
async def reply(request: web.Request) -> web.Response:
    who = principal(request)
    data = await json_body(request)
    body = field_str(data, "body", max_len=1_000_000) or ""
    message = await request.app[SERVICES].interactions.reply(
        request.match_info["interaction_id"], who.agent_id, body)
    return ok(jsonable(message), status=201)


@routes.post("/api/interactions/{interaction_id}/notes")
async def add_note(request: web.Request) -> web.Response:
    services, who, interaction = await visible_interaction(request)
    data = await json_body(request)
    body = field_str(data, "body", max_len=1_000_000) or ""
    note = await services.interactions.add_note(interaction.id, who.agent_id, body)
    return ok(jsonable(note), status=201)


@routes.post("/api/interactions/{interaction_id}/transfer")
async def transfer(request: web.Request) -> web.Response:
    who = principal(request)
    data = await json_body(request)
    interaction = await request.app[SERVICES].transfer(
        request.match_info["interaction_id"], who.agent_id,
        to_queue=field_str(data, "queue", required=False, max_len=100, kind="id"),
        to_agent=field_str(data, "agent_id", required=False, max_len=100, kind="id"),
        note=field_str(data, "note", required=False, max_len=10_000),
        if_unavailable=field_str(data, "if_unavailable", required=False, max_len=20, kind="id"))
    return ok(jsonable(interaction))


@routes.post("/api/interactions/{interaction_id}/complete")
async def complete(request: web.Request) -> web.Response:
    who = principal(request)
    data = await json_body(request)
    interaction = await request.app[SERVICES].interactions.complete(
        request.match_info["interaction_id"], who.agent_id,
        disposition=field_str(data, "disposition", max_len=100, kind="line") or "",
        note=field_str(data, "note", required=False, max_len=10_000))
    return ok(jsonable(interaction))


@routes.post("/api/interactions/{interaction_id}/priority")
async def set_priority(request: web.Request) -> web.Response:
    """A supervisor (of the work's queue's teams) or an admin sets an interaction's priority
    (1..10); waiting work is ranked by it at once. Audited."""
    principal(request).require(Role.SUPERVISOR, Role.ADMIN)
    services, who, interaction = await visible_interaction(request)  # another team's work is not theirs
    data = await json_body(request)
    priority = data.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int | float):
        raise InvalidInput("bad-priority", "'priority' is a number from 1 to 10")
    before = interaction.priority
    changed = await services.interactions.set_priority(interaction.id, float(priority), by=who.agent_id)
    await services.context.audit(actor=who.agent_id, action="interaction.priority", target=interaction.id,
                                 details={"from": before, "to": changed.priority})
    return ok(jsonable(changed))


@routes.get("/api/routing/explain/{interaction_id}")
async def explain(request: web.Request) -> web.Response:
    principal(request).require(Role.SUPERVISOR, Role.ADMIN)
    _, _, interaction = await visible_interaction(request)  # another team's work is not theirs
    explanation = await request.app[SERVICES].explain(interaction.id)
    return ok(jsonable(explanation))
