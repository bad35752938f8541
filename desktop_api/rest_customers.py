"""REST: customers, their identities and unified timeline; queues; the audit log."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cti.access import DAY, customer_reach, may_supervise, team_agents
from cti.domain import Customer, Identity, IdentityKind, Role, jsonable
from cti.errors import Forbidden, InvalidInput, NotFound
from cti.events import CustomerUpdated
from cti.identities import normalise
from desktop_api.common import json_body, ok, principal, typed_query
from desktop_api.keys import SERVICES
from desktop_api.rest_identity import may_decide, reason_of
from desktop_api.scope import hidden_customer, queues_for, visible_customer

routes = web.RouteTableDef()

MIN_WINDOW, MAX_WINDOW = 60.0, 7 * 86400.0  # the service level's window, seconds


def _identity(raw: Any, where: str, country: str) -> Identity:
    if not isinstance(raw, dict):
        raise InvalidInput("bad-identity", f"{where} must be an object with kind and value", field=where)
    try:
        kind = IdentityKind(str(raw.get("kind")))
    except ValueError as exc:
        raise InvalidInput("bad-identity", f"{where}.kind must be one of "
                           f"{', '.join(k.value for k in IdentityKind)}", field=where) from exc
    value = raw.get("value")
    if not isinstance(value, str):
        raise InvalidInput("bad-identity", f"{where}.value must be a string", field=where)
    return normalise(kind, value, region=country)


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    q: str = Field(min_length=2, max_length=200)
    limit: int = Field(default=25, ge=1, le=200)


class ShareBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    agent_id: str = Field(min_length=1, max_length=128)
    days: float = Field(gt=0, le=365)


def _customer(c: Customer) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(c)
    return out


@routes.get("/api/customers")
async def search(request: web.Request) -> web.Response:
    """Customers whose name or an identity contains ``q``, among those the caller may read."""
    who = principal(request)
    services = request.app[SERVICES]
    query = typed_query(SearchQuery, request)
    now = services.clock.now()
    limit = min(query.limit, services.config.access.max_search_results)
    ids = await services.access.search(query.q, customer_reach(services.config, who.agent_id, who.role,
                                                               now=now), now=now, limit=limit)
    return ok({"customers": [_customer(await services.context.customer(i)) for i in ids]})


@routes.post("/api/customers/{customer_id}/share")
async def share(request: web.Request) -> web.Response:
    """A supervisor lets an agent of their team read a customer for some days (audited)."""
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    try:
        body = ShareBody.model_validate(await json_body(request))
    except ValidationError as exc:
        raise InvalidInput("bad-share", "a share is {agent_id, days}",
                           problems=[e["msg"] for e in exc.errors()]) from exc
    if not may_supervise(services.config, who.agent_id, who.role, body.agent_id):
        raise Forbidden("not-your-team", "you do not supervise this agent", agent_id=body.agent_id[:100])
    customer = await visible_customer(services, who, request.match_info["customer_id"])
    days = min(body.days, services.config.access.max_share_days)
    now = services.clock.now()
    until = now + days * DAY
    await services.access.share(share_id=services.ids.new_id("shr"), customer_id=customer.id,
                                agent_id=body.agent_id, shared_by=who.agent_id, at=now, until=until)
    await services.context.audit(actor=who.agent_id, action="customer.share", target=customer.id,
                                 details={"agent_id": body.agent_id, "days": days, "until": until})
    return ok({"customer_id": customer.id, "agent_id": body.agent_id, "until": until})


@routes.get("/api/customers/{customer_id}")
async def get_customer(request: web.Request) -> web.Response:
    who = principal(request)
    services = request.app[SERVICES]
    customer = await visible_customer(services, who, request.match_info["customer_id"])
    body = _customer(customer)
    body["merges"] = [jsonable(m) for m in await services.context.merges(customer.id)]
    return ok(body)


@routes.get("/api/customers/{customer_id}/timeline")
async def timeline(request: web.Request) -> web.Response:
    who = principal(request)
    customer = await visible_customer(request.app[SERVICES], who, request.match_info["customer_id"])
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError as exc:
        raise InvalidInput("bad-limit", "'limit' must be an integer") from exc
    if not 1 <= limit <= 200:
        raise InvalidInput("bad-limit", "'limit' must be between 1 and 200")
    page = await request.app[SERVICES].context.timeline(customer.id, limit=limit,
                                                        before=request.query.get("before"))
    return ok({"entries": [jsonable(e) for e in page.entries], "next_cursor": page.next_cursor})


@routes.post("/api/customers/link")
async def link(request: web.Request) -> web.Response:
    """Link two customers by hand: an admin, a supervisor who may read both, or an agent
    holding an interaction of one of them.

    An agent who may not gets the same answer whether the identities exist or not: link is no
    way to find out who has an address or number."""
    who = principal(request)
    services = request.app[SERVICES]
    data = await json_body(request)
    country = services.config.phone_region
    a = _identity(data.get("a"), "a", country)
    b = _identity(data.get("b"), "b", country)
    reason = reason_of(data)
    if who.role is not Role.ADMIN:
        owners = [await services.context.find_customer(i) for i in (a, b)]
        if any(o is None for o in owners) or not await may_decide(
                services, who, tuple(o.id for o in owners if o is not None)):
            raise NotFound("identity-not-found", "no customer you may link has these identities")
    customer = await services.context.link_identities(a, b, actor=who.agent_id, reason=reason)
    await services.hub.publish(CustomerUpdated(at=services.clock.now(), customer_id=customer.id,
                                               why="identity-linked"))
    return ok(_customer(customer))


@routes.post("/api/customers/{customer_id}/unlink")
async def unlink(request: web.Request) -> web.Response:
    """Move an identity out of a customer: staff who may read the customer, or an agent holding
    an interaction of theirs; anyone else gets the answer an unknown customer gets."""
    who = principal(request)
    services = request.app[SERVICES]
    data = await json_body(request)
    identity = _identity(data.get("identity"), "identity", services.config.phone_region)
    customer = await visible_customer(services, who, request.match_info["customer_id"])
    if not await may_decide(services, who, (customer.id,)):
        raise hidden_customer(request.match_info["customer_id"])
    customer = await services.context.unlink_identity(customer.id, identity, actor=who.agent_id)
    await services.hub.publish(CustomerUpdated(at=services.clock.now(), customer_id=customer.id,
                                               why="identity-unlinked"))
    return ok(_customer(customer))


@routes.post("/api/merges/{merge_id}/undo")
async def unmerge(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    survivor, restored = await services.context.unmerge(request.match_info["merge_id"], actor=who.agent_id)
    for c in (survivor, restored):
        await services.hub.publish(CustomerUpdated(at=services.clock.now(), customer_id=c.id,
                                                   why="unmerged"))
    return ok({"survivor": _customer(survivor), "restored": _customer(restored)})


@routes.get("/api/queues")
async def queues(request: web.Request) -> web.Response:
    who = principal(request)
    raw = request.query.get("window")
    if raw is None:
        return ok(queues_for(request.app[SERVICES], who, await request.app[SERVICES].queue_stats()))
    try:
        window = float(raw)
    except ValueError:
        window = -1.0
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise InvalidInput("bad-window", f"window is seconds from {MIN_WINDOW:.0f} to {MAX_WINDOW:.0f}",
                           window=raw[:20])
    return ok(queues_for(request.app[SERVICES], who, await request.app[SERVICES].queue_stats(window)))


@routes.get("/api/audit")
async def audit(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Role.SUPERVISOR, Role.ADMIN)
    services = request.app[SERVICES]
    # A supervisor reads what their teams did and what was done to them; an admin everything.
    people = team_agents(services.config, who.agent_id) if who.role is Role.SUPERVISOR else None
    entries = await services.context.audit_log(limit=200, target=request.query.get("target"), people=people)
    return ok([jsonable(e) for e in entries])
