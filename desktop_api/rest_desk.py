"""REST for the agent desk: its options (dispositions, away reasons, canned replies), canned
replies filled in for one conversation, whom work may be transferred to, and recent work."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.canned import reply_json, variables, visible_replies
from cti.errors import NotFound
from cti.services import Services
from desktop_api.auth import Principal
from desktop_api.common import ok, principal
from desktop_api.keys import SERVICES
from desktop_api.scope import visible_interaction

routes = web.RouteTableDef()


def desk_options(services: Services, who: Principal) -> dict[str, Any]:
    """What the admins set for this person's desk; sent in the hello and by ``/api/desk-options``."""
    config = services.config
    return {"dispositions": list(config.dispositions), "away_reasons": list(config.away_reasons),
            "canned_replies": [reply_json(r) for r in visible_replies(config, who.agent_id, who.role)]}


@routes.get("/api/desk-options")
async def get_desk_options(request: web.Request) -> web.Response:
    return ok(desk_options(request.app[SERVICES], principal(request)))


@routes.get("/api/interactions/{interaction_id}/canned-replies")
async def canned_replies(request: web.Request) -> web.Response:
    """The caller's canned replies with this conversation's variables filled in."""
    services, who, interaction = await visible_interaction(request)
    try:
        customer = await services.context.customer(interaction.customer_id)
    except NotFound:
        customer = None
    values = variables(interaction=interaction, customer=customer,
                       agent=services.config.agents.get(who.agent_id))
    return ok({"canned_replies": [reply_json(r, values) for r in
                                  visible_replies(services.config, who.agent_id, who.role)]})
