"""The operator's HTTP surface: request ids, the access log, ``/metrics`` and ``/readyz``.

Every request gets a request id: the caller's ``X-Request-Id`` when it is a sane token (a proxy
or a client that already has one, so one id follows the request through every hop), else a new
one. It is bound to the request's log lines (``structlog.contextvars``), echoed in the
response's ``X-Request-Id`` header, and written in the access log line when that is on.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web
from structlog.contextvars import bind_contextvars, clear_contextvars

from cti.observe.metrics import METRICS, LiveFigures
from cti.observe.ready import Readiness
from desktop_api.client_address import client_address, in_networks, parse_networks
from desktop_api.keys import SERVICES

__all__ = ["LIVE_FIGURES", "READINESS", "REQUEST_ID", "install_observability", "request_context_middleware"]

log = logging.getLogger(__name__)
access_log = logging.getLogger("cti.access")

REQUEST_ID = web.RequestKey("request_id", str)
READINESS = web.AppKey("readiness", Readiness)
ReadLive = Callable[[], Awaitable[LiveFigures]]
LIVE_FIGURES: web.AppKey[ReadLive] = web.AppKey("live_figures")
REQUEST_ID_HEADER = "X-Request-Id"
# What a log line and a header can carry as they are: letters, digits and a few separators, as
# UUIDs, trace ids and proxies' ids are written. Anything else is replaced, never echoed.
_SANE_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def request_id_of(header: str | None) -> str:
    if header is not None and _SANE_ID.fullmatch(header):
        return header
    return secrets.token_hex(16)


@web.middleware
async def request_context_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outermost: binds the request id, the node and (for the interaction routes) the
    interaction; the auth middleware adds the agent. aiohttp serves the requests of one
    connection in one task, so the context is cleared first: nothing of the previous request
    on a kept-alive connection carries over."""
    services = request.app[SERVICES]
    request_id = request_id_of(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID] = request_id
    clear_contextvars()
    bind_contextvars(request_id=request_id, node=services.node_id)
    interaction = request.match_info.get("interaction_id")
    if interaction is not None:
        bind_contextvars(interaction=interaction)
    if not services.config.logging.access_log:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            clear_contextvars()
            bind_contextvars(node=services.node_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        # The path only: a query string may carry a WebSocket token or ticket.
        access_log.info("%s %s %d %.1f ms", request.method, request.path, status, elapsed_ms,
                        extra={"method": request.method, "path": request.path, "status": status,
                               "duration_ms": round(elapsed_ms, 3),
                               "client": client_address(request, services.config.traffic.trusted_proxies)})
        clear_contextvars()
        bind_contextvars(node=services.node_id)


async def _echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


def _scrape_refusal(request: web.Request) -> web.Response | None:
    """None when the scraper may read: the metrics token, or an allow-listed address."""
    services = request.app[SERVICES]
    settings = services.config.metrics
    token = settings.token.get_secret_value() if settings.token is not None else None
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        offered = header[7:] if header.startswith("Bearer ") else ""
        if token is not None and hmac.compare_digest(offered.encode(), token.encode()):
            return None
        return _refused(401, "bad-metrics-token", "wrong metrics token")
    address = client_address(request, services.config.traffic.trusted_proxies)
    if in_networks(address, parse_networks(settings.allow)):
        return None
    if token is not None:
        return _refused(401, "metrics-token-required", "send the metrics token as a Bearer token")
    return _refused(403, "metrics-not-allowed", "this address may not read the metrics")


def _refused(status: int, error_id: str, message: str) -> web.Response:
    headers = {hdrs.WWW_AUTHENTICATE: 'Bearer realm="metrics"'} if status == 401 else None
    return web.json_response({"error_id": error_id, "message": message, "details": {}},
                             status=status, headers=headers)


async def metrics_handler(request: web.Request) -> web.Response:
    refusal = _scrape_refusal(request)
    if refusal is not None:
        log.warning("metrics scrape refused (%d) from %s", refusal.status,
                    client_address(request, request.app[SERVICES].config.traffic.trusted_proxies))
        return refusal
    live = await request.app[LIVE_FIGURES]()
    body = request.app[METRICS].render(live)
    return web.Response(body=body, headers={hdrs.CONTENT_TYPE: PROMETHEUS_TEXT})


async def readyz(request: web.Request) -> web.Response:
    report = await request.app[READINESS].report()
    body = {"status": "ready" if report.ready else "not-ready", "node": request.app[SERVICES].node_id,
            "checks": dict(report.checks), "down": report.down}
    return web.json_response(body, status=200 if report.ready else 503)


def install_observability(app: web.Application) -> None:
    """The routes and the header; the composition root sets METRICS, READINESS and LIVE_FIGURES."""
    app.on_response_prepare.append(_echo_request_id)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/readyz", readyz)
