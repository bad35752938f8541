"""The HTTP/WebSocket edge: builds the aiohttp application around the running services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from cti.services import Services
from desktop_api import (
    kb_pages,
    rest_admin,
    rest_agents,
    rest_campaigns,
    rest_customers,
    rest_desk,
    rest_figures,
    rest_identity,
    rest_interactions,
    rest_kb,
    rest_reports,
    rest_supervision,
    rest_tokens,
    rest_voice,
    rest_webhooks,
    survey_page,
    wallboard,
    ws,
)
from desktop_api.auth import auth_middleware
from desktop_api.common import MAX_BODY, error_middleware
from desktop_api.headers import install_security_headers
from desktop_api.input import input_middleware
from desktop_api.keys import SERVICES
from desktop_api.observe import install_observability, request_context_middleware
from desktop_api.openapi import openapi_document
from desktop_api.sockets import track_sockets

STATIC = Path(__file__).with_name("static")


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    return web.json_response({"status": "ok", "node": services.node_id})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def _page(name: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / name)
    return handler


MODULES = STATIC / "js"
MODULE_ROUTE = r"/assets/js/{path:[A-Za-z0-9_/.-]+\.js}"


async def module_file(request: web.Request) -> web.FileResponse:
    """One ES module of the pages (static/js/<page or shared>/<name>.js)."""
    path = (MODULES / request.match_info["path"]).resolve()
    # No way out of the folder (".." or a link), no folder, nothing but a file that is there.
    if not path.is_relative_to(MODULES.resolve()) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "text/javascript; charset=utf-8",
                                           "Cache-Control": "no-cache"})


def make_app(services: Services) -> web.Application:
    # Order matters: the request id first, so every line (and the access log) carries it; then
    # errors, so a refusal by the input gate becomes a JSON 4xx.
    app = web.Application(middlewares=[request_context_middleware, error_middleware, input_middleware,
                                       auth_middleware],
                          client_max_size=MAX_BODY)
    app[SERVICES] = services
    install_security_headers(app, chat_frame_ancestors=services.config.traffic.chat_frame_ancestors)
    track_sockets(app)
    ws.follow_desk_options(app)
    app.router.add_get("/healthz", healthz)  # liveness; /readyz checks the dependencies
    install_observability(app)
    app.router.add_get("/api/openapi.json", openapi)
    for table in (rest_agents.routes, rest_interactions.routes, rest_customers.routes, rest_voice.routes,
                  rest_tokens.routes, ws.routes, rest_identity.routes, rest_admin.routes,
                  rest_webhooks.routes, rest_figures.routes, rest_reports.routes,
                  rest_supervision.routes, wallboard.routes, rest_desk.routes, rest_campaigns.routes,
                  survey_page.routes, rest_kb.routes, kb_pages.routes):
        app.router.add_routes(table)
    app.router.add_get("/", _page("index.html"))
    app.router.add_get("/agent", _page("agent.html"))
    app.router.add_get("/supervisor", _page("supervisor.html"))
    app.router.add_get("/admin", _page("admin.html"))
    app.router.add_get("/reports", _page("reports.html"))
    # The pages' style, and their code as ES modules (never inline, so the Content-Security-Policy
    # can forbid inline script): only files under static/js, only .js, always as JavaScript.
    app.router.add_get("/assets/desk.css", _page("desk.css"))
    app.router.add_get(MODULE_ROUTE, module_file)
    # Vendored style (its licence and version: static/js/vendor/README.md).
    app.router.add_get("/assets/vendor/uplot.min.css", _page("js/vendor/uplot.min.css"))
    # The knowledge editor (supervisors, admins; code in static/js/knowledge); the public pages
    # are desktop_api.kb_pages.
    app.router.add_get("/knowledge", _page("kb_editor.html"))
    return app
