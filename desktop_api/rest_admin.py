"""REST: live administration, for the admin role only (see docs/admin.md).

Each change is a new version of the live configuration: checked as ``cti config check`` checks a
file, audited with the admin's name, run at once on this node and within a second on the others.
``If-Match: <version>`` makes a change conditional on the version the page showed (409
config-changed otherwise), so two admins cannot silently undo each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from cti import admin_edit
from cti.admin import ConfigAdmin
from cti.config_model import Strict
from cti.domain import Role
from cti.errors import InvalidInput, Unavailable
from cti.live_config import VersionInfo
from desktop_api.common import json_body, ok, principal
from desktop_api.keys import SERVICES

routes = web.RouteTableDef()

MAX_VERSIONS = 500


def _admin(request: web.Request) -> tuple[ConfigAdmin, str]:
    who = principal(request)
    who.require(Role.ADMIN)
    admin = request.app[SERVICES].admin
    if admin is None:
        raise Unavailable("admin-unavailable", "live administration is not set up on this server")
    return admin, who.agent_id


def _expected(request: web.Request) -> int | None:
    raw = request.headers.get("If-Match", "").strip().strip('"')
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise InvalidInput("bad-if-match", "If-Match: the configuration version the change is based on")
    return int(raw)


def _int(request: web.Request, name: str, *, default: int | None = None) -> int:
    raw = request.match_info.get(name) or request.query.get(name)
    if raw is None and default is not None:
        return default
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise InvalidInput("bad-version", f"{name!r} must be a version number", field=name)
    return int(raw)


def version_json(info: VersionInfo) -> dict[str, Any]:
    return {"version": info.version, "at": info.at, "actor": info.actor, "action": info.action,
            "summary": list(info.summary)}


# (the running document, the request's body) -> the new document
BodyEdit = Callable[[Mapping[str, Any], dict[str, Any]], Mapping[str, Any]]


async def _apply(request: web.Request, edit: BodyEdit, *, reads_body: bool = True) -> web.Response:
    admin, actor = _admin(request)  # the role before the body is read
    data = await json_body(request) if reads_body else {}
    # The edit is applied to the newest version under the admin service's lock: two changes at
    # once never undo each other.
    return ok(version_json(await admin.edit(lambda doc: edit(doc, data), actor=actor,
                                            expected=_expected(request))))


@routes.get("/api/admin/config")
async def get_config(request: web.Request) -> web.Response:
    admin, _ = _admin(request)
    return ok({"version": admin.live.version, "document": admin_edit.redact(admin.document())})


@routes.get("/api/admin/versions")
async def list_versions(request: web.Request) -> web.Response:
    admin, _ = _admin(request)
    limit = min(_int(request, "limit", default=100), MAX_VERSIONS)
    return ok({"running": admin.live.version,
               "versions": [version_json(v) for v in await admin.versions(limit=max(1, limit))]})


@routes.get("/api/admin/versions/{version}/diff")
async def version_diff(request: web.Request) -> web.Response:
    admin, _ = _admin(request)
    version = _int(request, "version")
    against = _int(request, "against") if "against" in request.query else None
    return ok({"version": version, "against": version - 1 if against is None else against,
               "changes": await admin.version_diff(version, against)})


@routes.post("/api/admin/versions/{version}/rollback")
async def rollback(request: web.Request) -> web.Response:
    admin, actor = _admin(request)
    return ok(version_json(await admin.rollback(_int(request, "version"), actor=actor)))


@routes.get("/api/admin/skills")
async def skills(request: web.Request) -> web.Response:
    admin, _ = _admin(request)
    return ok(admin_edit.skills_in_use(admin.document()))


@routes.get("/api/admin/{section}")
async def get_section(request: web.Request) -> web.Response:
    admin, _ = _admin(request)
    return ok(admin_edit.items(admin.document(), request.match_info["section"]))


class SectionBody(Strict):
    """PUT /api/admin/{section}: the value is checked by the section's model; a stray key is refused."""

    value: Any


@routes.put("/api/admin/{section}")
async def put_section(request: web.Request) -> web.Response:
    section = request.match_info["section"]

    def edit(doc: Mapping[str, Any], data: dict[str, Any]) -> Mapping[str, Any]:
        body = admin_edit.checked(SectionBody, data, section)
        return admin_edit.put_section(doc, section, body["value"])

    return await _apply(request, edit)


@routes.get("/api/admin/{section}/{name}")
async def get_item(request: web.Request) -> web.Response:
    admin, _ = _admin(request)
    return ok(admin_edit.item(admin.document(), request.match_info["section"], request.match_info["name"]))


def _put_item(request: web.Request, *, merge: bool) -> Awaitable[web.Response]:
    section, name = request.match_info["section"], request.match_info["name"]
    return _apply(request, lambda doc, data: admin_edit.put_item(doc, section, name, data, merge=merge))


@routes.put("/api/admin/{section}/{name}")
async def put_item(request: web.Request) -> web.Response:
    return await _put_item(request, merge=False)


@routes.patch("/api/admin/{section}/{name}")
async def patch_item(request: web.Request) -> web.Response:
    return await _put_item(request, merge=True)


@routes.delete("/api/admin/{section}/{name}")
async def delete_item(request: web.Request) -> web.Response:
    section, name = request.match_info["section"], request.match_info["name"]
    return await _apply(request, lambda doc, _: admin_edit.delete_item(doc, section, name), reads_body=False)
