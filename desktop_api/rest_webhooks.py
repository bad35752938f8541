"""REST for admins: outbound webhook subscribers and their deliveries, and replaying failed ones.

    GET  /api/admin/webhooks                              subscribers, with deliveries by status
    GET  /api/admin/webhooks/deliveries?status=&subscriber=&limit=
    POST /api/admin/webhooks/deliveries/{delivery_id}/replay
    POST /api/admin/webhooks/replay                       {"subscriber": name} or {} for all

Admins only: a delivery's body describes any interaction of the center. A replay is audited.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from cti.domain import Role
from cti.errors import InvalidInput, Unavailable
from cti.webhooks.deliveries import Delivery, DeliveryStatus
from cti.webhooks.dispatcher import WebhookDispatcher
from desktop_api.auth import Principal
from desktop_api.common import field_str, json_body, ok, principal
from desktop_api.keys import SERVICES

routes = web.RouteTableDef()

DEFAULT_LIMIT = 100


def _admin(request: web.Request) -> tuple[Principal, WebhookDispatcher]:
    who = principal(request)
    who.require(Role.ADMIN)
    webhooks = request.app[SERVICES].webhooks
    if webhooks is None:
        raise Unavailable("webhooks-unavailable", "outbound webhooks are not running on this server")
    return who, webhooks


def delivery_view(d: Delivery) -> dict[str, Any]:
    return {"id": d.id, "subscriber": d.subscriber, "event_type": d.event_type,
            "interaction_id": d.interaction_id, "status": d.status.value, "attempts": d.attempts,
            "created_at": d.created_at, "next_attempt_at": d.next_attempt_at if d.status is
            DeliveryStatus.PENDING else None, "last_attempt_at": d.last_attempt_at,
            "last_status": d.last_status, "last_error": d.last_error, "finished_at": d.finished_at,
            "body": json.loads(d.body)}


@routes.get("/api/admin/webhooks")
async def list_subscribers(request: web.Request) -> web.Response:
    _, webhooks = _admin(request)
    return ok(await webhooks.overview())


@routes.get("/api/admin/webhooks/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    _, webhooks = _admin(request)
    query = request.query
    status: DeliveryStatus | None = None
    if "status" in query:
        try:
            status = DeliveryStatus(query["status"])
        except ValueError:
            raise InvalidInput("bad-status", "'status' is pending, delivered or failed",
                               allowed=[s.value for s in DeliveryStatus]) from None
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise InvalidInput("bad-limit", "'limit' must be a whole number") from None
    subscriber = query.get("subscriber")
    if subscriber is not None and len(subscriber) > 64:
        raise InvalidInput("field-too-long", "'subscriber' exceeds 64 characters", field="subscriber")
    found = await webhooks.deliveries(status=status, subscriber=subscriber, limit=limit)
    return ok([delivery_view(d) for d in found])


@routes.post("/api/admin/webhooks/deliveries/{delivery_id}/replay")
async def replay_one(request: web.Request) -> web.Response:
    who, webhooks = _admin(request)
    delivery_id = request.match_info["delivery_id"]
    if len(delivery_id) > 64:
        raise InvalidInput("field-too-long", "the delivery id exceeds 64 characters")
    return ok(delivery_view(await webhooks.replay(delivery_id, actor=who.agent_id)))


@routes.post("/api/admin/webhooks/replay")
async def replay_all(request: web.Request) -> web.Response:
    who, webhooks = _admin(request)
    data = await json_body(request)
    subscriber = field_str(data, "subscriber", required=False, max_len=64, kind="id")
    return ok({"replayed": await webhooks.replay_all(subscriber=subscriber, actor=who.agent_id)})
