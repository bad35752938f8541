"""Webhook fixtures: a real receiver on loopback, and the core (real database, hub, services) with
dispatchers built on it as a test asks, each stopped at the end."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.app import Core, build_core
from cti.clock import SystemClock, UuidIds
from cti.config import parse_config
from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity, Interaction
from cti.hub import EventHub
from cti.settings.webhooks import WebhookSettings
from cti.webhooks.deliveries import Delivery, DeliveryStatus
from cti.webhooks.dispatcher import WebhookDispatcher
from router.memory_store import MemoryRoutingStore
from tests.webhooks.receiver import Receiver, running_receiver

SECRET = "crm-webhook-secret-that-is-at-least-32-bytes"
OTHER_SECRET = "warehouse-secret-also-at-least-32-bytes-long"

CONFIG: dict[str, Any] = {
    "queues": [{"name": "support", "skills": {"english": 1}, "service_targets": {"chat": 60}}],
    "chat": {"queue": "support"},
    "demo": True,
    "agents": [{"id": "bob", "skills": {"english": 3}, "capacity": {"chat": 2}, "password": "bob"}],
}

# Retries in tenths of a second, a long give-up: the tests end on conditions, not on the clock.
FAST = {"allow_private_addresses": True, "timeout_seconds": 2, "first_retry_seconds": 0.05,
        "max_retry_seconds": 0.2, "retry_jitter_seconds": 0, "give_up_after_seconds": 120,
        "sweep_seconds": 5}


def subscriber(name: str, url: str, *events: str, secret: str = SECRET) -> dict[str, Any]:
    return {"name": name, "url": url, "secret": secret, "events": list(events) or ["interaction.closed"]}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as the_receiver:
        yield the_receiver


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    return str(request.getfixturevalue("pg_schema"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"


@dataclass
class Center:
    context: SqlContextStore
    hub: EventHub
    core: Core
    started: list[WebhookDispatcher] = field(default_factory=list)

    async def dispatcher(self, subscribers: list[dict[str, Any]], *, node: str = "node-a",
                         **settings: Any) -> WebhookDispatcher:
        config = WebhookSettings.model_validate({**FAST, **settings, "subscribers": subscribers})
        dispatcher = WebhookDispatcher(settings=config, store=self.context.webhook_store(),
                                       context=self.context, hub=self.hub, clock=SystemClock(),
                                       ids=UuidIds(), node_id=node)
        await dispatcher.start()
        self.started.append(dispatcher)
        return dispatcher

    async def stop(self, dispatcher: WebhookDispatcher) -> None:
        await dispatcher.aclose()
        self.started.remove(dispatcher)

    async def closed_chat(self, email: str, *, disposition: str = "resolved") -> Interaction:
        """A customer chats, Bob takes it and completes it: queued, offered, accepted, closed."""
        interactions = self.core.interactions
        interaction = await interactions.start_inbound(
            channel=Channel.CHAT, display_name=None,
            identities=[InboundIdentity(Identity(IdentityKind.EMAIL, email), IdentityLevel.ASSERTED, "test")])
        await interactions.customer_message(interaction.id, "hello")
        [offer] = await self.core.engine.run_once()
        assert offer.interaction_id == interaction.id
        await interactions.accept(interaction.id, "bob")
        return await interactions.complete(interaction.id, "bob", disposition=disposition, note=None)

    async def deliveries(self, status: DeliveryStatus | None = None) -> list[Delivery]:
        return list(await self.context.webhook_store().listing(status=status, subscriber=None, limit=500))


@contextlib.asynccontextmanager
async def running_center(url: str) -> AsyncIterator[Center]:
    """The core on ``url``; on leaving, the dispatchers a test started are stopped, then the store."""
    await upgrade_async(url)
    context = SqlContextStore(url=url, clock=SystemClock(), ids=UuidIds())
    await context.start()
    hub = EventHub(node_id="node-a")
    core = build_core(config=parse_config(CONFIG), context=context, routing=MemoryRoutingStore(), hub=hub,
                      clock=SystemClock(), ids=UuidIds())
    the_center = Center(context=context, hub=hub, core=core)
    try:
        await core.agents.register_all()
        await core.agents.set_state("bob", "available", reason=None, actor_id="bob")
        yield the_center
    finally:
        for dispatcher in list(the_center.started):
            await dispatcher.aclose()
        await context.aclose()


@pytest.fixture
async def center(sqlite_url: str) -> AsyncIterator[Center]:
    async with running_center(sqlite_url) as the_center:
        yield the_center


@pytest.fixture
async def center_on_each_db(db_url: str) -> AsyncIterator[Center]:
    async with running_center(db_url) as the_center:
        yield the_center
