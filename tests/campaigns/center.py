"""A small center for the campaign and survey tests: the real services on a manual clock, the
real HTTP app, SQLite or PostgreSQL (``center`` fixture param), routed pass by pass."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.app import build_core
from cti.campaign_service import CampaignService
from cti.campaigns import InMemoryArticles
from cti.clock import ManualClock, SequentialIds
from cti.config import AppConfig, parse_config
from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity
from cti.hub import EventHub
from cti.live_config import LiveConfig
from cti.service import InteractionService
from cti.services import Services
from cti.settings.surveys import SurveySettings
from cti.survey_service import SurveyService
from cti.surveys import survey_key
from desktop_api.app import make_app
from desktop_api.auth import issue_token
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore

SECRET = "campaign-tests-secret-of-at-least-32-bytes"
T0 = 1_800_000_000.0
CONFIG: dict[str, Any] = {
    "teams": [{"name": "support", "supervisors": ["sam"]}, {"name": "billing", "supervisors": ["sue"]}],
    "queues": [{"name": "support", "skills": {"english": 1}, "teams": ["support"]},
               {"name": "billing", "skills": {"billing": 1}, "teams": ["billing"]}],
    "chat": {"queue": "support"},
    "agents": [
        {"id": "alice", "team": "support", "skills": {"english": 9}, "capacity": {"chat": 3, "voice": 1,
                                                                                   "email": 3, "sms": 3}},
        {"id": "bob", "team": "support", "skills": {"english": 3}, "capacity": {"chat": 3}},
        {"id": "carol", "team": "billing", "skills": {"billing": 7}, "capacity": {"chat": 3}},
        {"id": "sam", "role": "supervisor", "team": "support"},
        {"id": "sue", "role": "supervisor", "team": "billing"},
        {"id": "admin", "role": "admin"},
    ],
}


@dataclass
class Center:
    config: AppConfig
    clock: ManualClock
    context: SqlContextStore
    routing: MemoryRoutingStore
    hub: EventHub
    interactions: InteractionService
    engine: RoutingEngine
    campaigns: CampaignService
    articles: InMemoryArticles
    surveys: SurveyService
    client: TestClient[Any, Any]

    def at(self, offset: float) -> None:
        self.clock.advance(T0 + offset - self.clock.now())

    async def arrive(self, who: str, channel: Channel = Channel.CHAT, *, subject: str | None = None,
                     body: str | None = None, context: dict[str, str] | None = None) -> str:
        interaction = await self.interactions.start_inbound(
            channel=channel, display_name=None, subject=subject, first_message=body, context=context,
            identities=[InboundIdentity(Identity(IdentityKind.EMAIL, f"{who}@example.com"),
                                        IdentityLevel.ASSERTED, "test")])
        return interaction.id

    async def served(self, interaction_id: str) -> str:
        """Routed, accepted: the agent's id."""
        await self.engine.run_once()
        offer = await self.routing.offer_for(interaction_id)
        assert offer is not None, f"{interaction_id} is not offered"
        await self.interactions.accept(interaction_id, offer.agent_id)
        return offer.agent_id

    def headers(self, who: str) -> dict[str, str]:
        role = self.config.agents[who].role
        token = issue_token(secret=SECRET, agent_id=who, role=role, now=time.time(), ttl=3600)
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, who: str | None, path: str, body: Any = None) -> tuple[int, Any]:
        response = await self.client.request(method, path, json=body,
                                             headers=self.headers(who) if who else {})
        return response.status, await response.json()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
async def center(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Center]:
    url = (f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("pg_schema")))
    await upgrade_async(url)
    config = parse_config(CONFIG)
    clock, ids = ManualClock(T0), SequentialIds()
    context = SqlContextStore(url=url, clock=clock, ids=ids, node_id="node-1")
    await context.start()
    routing, hub = MemoryRoutingStore(), EventHub(node_id="node-1")
    articles = InMemoryArticles()
    campaigns = CampaignService(records=context.campaigns, articles=articles, log_records=context.event_log,
                                clock=clock, ids=ids)
    surveys = SurveyService(context=context, log_records=context.event_log, hub=hub, clock=clock, ids=ids,
                            key=survey_key(SECRET),
                            settings=SurveySettings(public_url="https://cc.example.com/"))  # type: ignore[arg-type]
    core = build_core(config=config, context=context, routing=routing, hub=hub, clock=clock, ids=ids,
                      campaigns=campaigns)
    await core.agents.register_all()

    async def nothing(*_: Any) -> Any:
        raise AssertionError("not used here")

    services = Services(
        live=LiveConfig(config), node_id="node-1", clock=clock, ids=ids, hub=hub, context=context,
        routing=routing, interactions=core.interactions, agents=core.agents, explain=nothing,
        queue_stats=nothing, token_secret=SECRET, access=context.access, tokens=context.tokens,
        event_log=context.event_log, campaigns=campaigns, surveys=surveys)
    client: TestClient[Any, Any] = TestClient(TestServer(make_app(services)))
    await client.start_server()
    try:
        for agent in ("alice", "bob", "carol"):
            await core.agents.set_state(agent, "available", reason=None, actor_id=agent)
        yield Center(config=config, clock=clock, context=context, routing=routing, hub=hub,
                     interactions=core.interactions, engine=core.engine, campaigns=campaigns,
                     articles=articles, surveys=surveys, client=client)
    finally:
        await client.close()
        await context.aclose()
