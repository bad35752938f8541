"""A center with an admin, for the admin tests (a real server on a free port)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cti.app import ServerSettings
from tests.adapters.center import AGENTS, Center, running_center

ADMIN = {"id": "ada", "name": "Ada Admin", "role": "admin", "password": "ada", "skills": {}, "capacity": {}}


@contextlib.asynccontextmanager
async def admin_center(tmp_path: Path, settings: ServerSettings | None = None,
                       **extra: Any) -> AsyncIterator[Center]:
    async with running_center(tmp_path, {}, settings, agents=[*AGENTS, ADMIN], **extra) as center:
        yield center
