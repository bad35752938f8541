"""The OpenAPI document describes exactly the routes the server registers, pages and sockets too."""

from __future__ import annotations

import json

from cti.app import ServerSettings, build_app
from cti.config import DEMO_CONFIG, load_config
from desktop_api.openapi import openapi_document


def test_every_api_route_is_documented_and_nothing_else() -> None:
    app = build_app(load_config(DEMO_CONFIG), ServerSettings(db_url="sqlite+aiosqlite://"))
    registered = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    document = json.loads(json.dumps(openapi_document()))  # it must be plain JSON
    assert document["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops
                  if method in {"get", "post", "put", "delete", "patch"}}
    assert registered == documented
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                assert op.get("responses"), f"{method.upper()} {path} documents no responses"
