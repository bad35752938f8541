"""A center for the desk tests: two teams, so every read can be checked for its scope."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cti.app import ServerSettings
from tests.adapters.center import AGENTS, Center, running_center

CAPACITY = {"email": 5, "chat": 3, "voice": 1}
OTHERS: list[dict[str, Any]] = [
    {"id": "olga", "name": "Olga Sales", "team": "sales", "password": "olga", "skills": {"english": 5},
     "capacity": CAPACITY},
    {"id": "ada", "name": "Ada Admin", "role": "admin", "password": "ada", "skills": {}, "capacity": {}},
]
REPLIES: list[dict[str, Any]] = [
    {"id": "hello", "title": "Hello", "body": "Hello {customer.name}, I am {agent.name}. {coupon.code}"},
    {"id": "refund", "title": "Refund", "body": "Your refund for {interaction.id} is on its way.",
     "teams": ["support"]},
    {"id": "deal", "title": "Deal", "body": "Our sales deal", "teams": ["sales"]},
]


@contextlib.asynccontextmanager
async def desk_center(tmp_path: Path, settings: ServerSettings | None = None,
                      **extra: Any) -> AsyncIterator[Center]:
    config: dict[str, Any] = {
        "teams": [{"name": "support", "supervisors": ["sam"]}, {"name": "sales"}],
        "agents": [*AGENTS, *OTHERS],
        "canned_replies": REPLIES,
        "dispositions": ["resolved", "callback"],
        "away_reasons": ["lunch", "coaching"],
        **extra,
    }
    async with running_center(tmp_path, {}, settings, **config) as center:
        yield center
