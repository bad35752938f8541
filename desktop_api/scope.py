"""The read rules of ``cti.access`` applied to a request: the customer or interaction asked for,
or the same answer as for one that does not exist (customers) or is not yours (interactions)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.access import customer_reach, may_see_interaction, visible_queues
from cti.domain import Customer, Interaction, Role
from cti.errors import Forbidden, NotFound
from cti.services import Services
from desktop_api.auth import Principal
from desktop_api.common import principal
from desktop_api.keys import SERVICES


def hidden_customer(customer_id: str) -> NotFound:
    # One answer for "no such customer" and "not yours": ids are not probeable.
    return NotFound("customer-not-found", "no such customer", customer_id=customer_id[:100])


async def visible_customer(services: Services, who: Principal, customer_id: str) -> Customer:
    try:
        customer = await services.context.customer(customer_id)
    except NotFound as exc:
        raise hidden_customer(customer_id) from exc
    now = services.clock.now()
    reach = customer_reach(services.config, who.agent_id, who.role, now=now)
    if reach is not None and not await services.access.reaches(customer.id, reach, now=now):
        raise hidden_customer(customer_id)
    return customer


async def customer_files(request: web.Request) -> tuple[Services, Interaction]:
    """An interaction whose customer's files the caller may open: one they may see, or any of a
    customer they may read (the timeline lists files of the customer's earlier interactions)."""
    who = principal(request)
    services = request.app[SERVICES]
    interaction = await services.context.interaction(request.match_info["interaction_id"])
    if not may_see_interaction(services.config, who.agent_id, who.role, interaction):
        try:
            await visible_customer(services, who, interaction.customer_id)
        except NotFound as exc:
            raise Forbidden("not-your-interaction", "this interaction is not yours",
                            interaction_id=interaction.id) from exc
    return services, interaction


async def visible_interaction(request: web.Request) -> tuple[Services, Principal, Interaction]:
    who = principal(request)
    services = request.app[SERVICES]
    interaction = await services.context.interaction(request.match_info["interaction_id"])
    if not may_see_interaction(services.config, who.agent_id, who.role, interaction):
        raise Forbidden("not-your-interaction", "this interaction is not yours",
                        interaction_id=interaction.id)
    return services, who, interaction


PER_QUEUE = ("waiting_by_queue", "oldest_wait", "queues_configured", "service_level")


def queues_for(services: Services, who: Principal, stats: dict[str, Any]) -> dict[str, Any]:
    """The queue board as a supervisor may see it: their teams' queues (and queues of no team)."""
    if who.role is not Role.SUPERVISOR:
        return stats
    mine = visible_queues(services.config, who.agent_id)
    out = dict(stats)
    for key in PER_QUEUE:
        if isinstance(stats.get(key), dict):
            out[key] = {q: v for q, v in stats[key].items() if q in mine}
    if isinstance(out.get("waiting_by_queue"), dict):
        out["waiting"] = sum(sum(channels.values()) for channels in out["waiting_by_queue"].values())
    return out
