"""Typed application state."""

from __future__ import annotations

from aiohttp import web

from cti.login import LoginService
from cti.services import Services

SERVICES = web.AppKey("services", Services)
LOGIN = web.AppKey("login", LoginService)
