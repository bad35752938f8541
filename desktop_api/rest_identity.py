"""REST: claimed identities on an interaction (one-time codes, links by hand) and merge
suggestions between customers.

Who may act: an admin; a supervisor on their own teams' interactions and customers; the agent
who holds the interaction (claims) or an interaction of one of the two customers (suggestions).
Anyone who may not is told the same as for an id that does not exist, so these routes find
nobody for them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.access import may_see_interaction
from cti.claims import ClaimService
from cti.domain import Customer, Interaction, InteractionState, Role, jsonable
from cti.errors import Forbidden, InvalidInput, NotFound, Unavailable
from cti.events import CustomerUpdated
from cti.ports import MergeSuggestion
from cti.screenpop import claim_json
from cti.services import Services
from desktop_api.auth import Principal
from desktop_api.common import field_str, json_body, ok, principal
from desktop_api.keys import SERVICES
from desktop_api.scope import visible_customer

routes = web.RouteTableDef()

MAX_REASON = 500
WORKING = frozenset({InteractionState.ACTIVE, InteractionState.WRAP_UP})
STAFF = (Role.SUPERVISOR, Role.ADMIN)


def claims_of(services: Services) -> ClaimService:
    if services.claims is None:
        raise Unavailable("claims-unavailable", "claims are not set up on this server")
    return services.claims


def reason_of(data: dict[str, Any]) -> str:
    reason = (field_str(data, "reason", max_len=MAX_REASON, kind="line") or "").strip()
    if not reason:
        raise InvalidInput("missing-field", "'reason' is required", field="reason")
    return reason


async def _working_on(request: web.Request) -> tuple[Services, Principal, Interaction]:
    """The interaction, if the caller works on it (or is staff)."""
    who = principal(request)
    services = request.app[SERVICES]
    interaction = await services.context.interaction(request.match_info["interaction_id"])
    if who.role in STAFF:
        # Staff act on the interactions they may see: a supervisor their own teams' only.
        mine = may_see_interaction(services.config, who.agent_id, who.role, interaction)
    else:
        mine = interaction.agent_id == who.agent_id and interaction.state in WORKING
    if not mine:
        raise Forbidden("not-your-interaction", "this interaction is not yours",
                        interaction_id=interaction.id)
    return services, who, interaction


def _customer_json(c: Customer) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(c)
    return out


@routes.get("/api/interactions/{interaction_id}/claims")
async def list_claims(request: web.Request) -> web.Response:
    services, _, interaction = await _working_on(request)
    return ok([claim_json(c) for c in await claims_of(services).claims(interaction.id)])


@routes.post("/api/interactions/{interaction_id}/claims/{claim_id}/send-code")
async def send_code(request: web.Request) -> web.Response:
    services, who, interaction = await _working_on(request)
    claim_id = request.match_info["claim_id"]
    await claims_of(services).send_code(interaction.id, claim_id, actor=who.agent_id)
    return ok({"sent": True, "claim_id": claim_id})


@routes.post("/api/interactions/{interaction_id}/claims/{claim_id}/verify")
async def verify(request: web.Request) -> web.Response:
    """The code the customer read out (on a call): the claim becomes verified."""
    services, who, interaction = await _working_on(request)
    data = await json_body(request)
    code = field_str(data, "code", max_len=20) or ""
    customer = await claims_of(services).verify_code(interaction.id, code, actor=who.agent_id,
                                                     claim_id=request.match_info["claim_id"])
    return ok({"customer": _customer_json(customer)})


@routes.post("/api/interactions/{interaction_id}/claims/{claim_id}/link")
async def link_claim(request: web.Request) -> web.Response:
    services, who, interaction = await _working_on(request)
    reason = reason_of(await json_body(request))
    customer = await claims_of(services).link_claim(interaction.id, request.match_info["claim_id"],
                                                    actor=who.agent_id, reason=reason)
    return ok({"customer": _customer_json(customer)})


async def may_decide(services: Services, who: Principal, customer_ids: tuple[str, ...]) -> bool:
    """An admin; a supervisor who may read every one of ``customer_ids`` (their teams'
    customers); an agent holding an interaction of one of them."""
    if who.role is Role.ADMIN:
        return True
    if who.role is Role.SUPERVISOR:
        try:
            for customer_id in customer_ids:
                await visible_customer(services, who, customer_id)
        except NotFound:
            return False
        return True
    held = await claims_of(services).held_customers(who.agent_id)
    for customer_id in customer_ids:
        try:
            if (await services.context.customer(customer_id)).id in held:
                return True
        except NotFound:
            continue
    return False


def _suggestion_json(s: MergeSuggestion) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(s)
    return out


@routes.get("/api/customers/{customer_id}/suggestions")
async def suggestions(request: web.Request) -> web.Response:
    who = principal(request)
    services = request.app[SERVICES]
    customer_id = request.match_info["customer_id"]
    if not await may_decide(services, who, (customer_id,)):
        raise NotFound("customer-not-found", "no such customer")
    return ok([_suggestion_json(s) for s in await services.context.suggestions(customer_id)])


async def _decide(request: web.Request, *, confirm: bool) -> web.Response:
    who = principal(request)
    services = request.app[SERVICES]
    suggestion_id = request.match_info["suggestion_id"]
    hidden = NotFound("suggestion-not-found", "no such suggestion")
    try:
        found = await services.context.suggestion(suggestion_id)
    except NotFound:
        raise hidden from None
    if not await may_decide(services, who, found.customer_ids):
        raise hidden
    reason = reason_of(await json_body(request))
    customer = await services.context.decide_suggestion(suggestion_id, confirm=confirm, actor=who.agent_id,
                                                        reason=reason)
    if customer is not None:
        await services.hub.publish(CustomerUpdated(at=services.clock.now(), customer_id=customer.id,
                                                   why="merged", details={"suggestion_id": suggestion_id}))
    return ok({"suggestion_id": suggestion_id, "status": "confirmed" if confirm else "dismissed",
               "customer": _customer_json(customer) if customer is not None else None})


@routes.post("/api/suggestions/{suggestion_id}/confirm")
async def confirm(request: web.Request) -> web.Response:
    return await _decide(request, confirm=True)


@routes.post("/api/suggestions/{suggestion_id}/dismiss")
async def dismiss(request: web.Request) -> web.Response:
    return await _decide(request, confirm=False)
