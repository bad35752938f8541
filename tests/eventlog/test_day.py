"""A small day of traffic through the real services on SQLite and PostgreSQL: the figures served
by ``GET /api/figures`` are those the pure functions give on the same log, the transfer case
gives its two waits, and the read API is scoped (agents refused, supervisors their teams' queues).

The interaction service, agent service and routing engine are the real ones on a manual clock,
routed pass by pass, so every time in the log is exact; the HTTP app is the real one.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.agents import AgentService
from cti.app import build_core
from cti.clock import ManualClock, SequentialIds
from cti.config import AppConfig, parse_config
from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity, jsonable
from cti.eventlog_recorder import CallLogRecorder
from cti.events import CallUpdated
from cti.figures import Bucket, GroupBy, figures
from cti.hub import EventHub
from cti.live_config import LiveConfig
from cti.reporting import queue_targets
from cti.segments import all_segments
from cti.service import InteractionService
from cti.services import Services
from cti.wallboard import ServiceLevelBoard
from desktop_api.app import make_app
from desktop_api.auth import issue_token
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore

SECRET = "event-log-tests-secret-at-least-32-bytes"
T0 = 1_800_000_000.0  # an hour's start (UTC)
CONFIG: dict[str, Any] = {
    "routing": {"offer_timeout": 20},
    "teams": [{"name": "support", "supervisors": ["sam"]}, {"name": "billing", "supervisors": ["sue"]}],
    "queues": [
        {"name": "support", "skills": {"english": 1}, "teams": ["support"],
         "service_targets": {"chat": 60, "voice": 20}},
        {"name": "billing", "skills": {"billing": 1}, "teams": ["billing"], "service_targets": {"chat": 30}},
    ],
    "chat": {"queue": "support"},
    "agents": [
        {"id": "alice", "team": "support", "skills": {"english": 9}, "capacity": {"chat": 3, "voice": 1}},
        {"id": "bob", "team": "support", "skills": {"english": 3}, "capacity": {"chat": 3, "voice": 1}},
        {"id": "carol", "team": "billing", "skills": {"billing": 7}, "capacity": {"chat": 3}},
        {"id": "sam", "role": "supervisor", "team": "support"},
        {"id": "sue", "role": "supervisor", "team": "billing"},
        {"id": "admin", "role": "admin"},
    ],
}


@dataclass
class Day:
    config: AppConfig
    clock: ManualClock
    context: SqlContextStore
    routing: MemoryRoutingStore
    hub: EventHub
    interactions: InteractionService
    agents: AgentService
    engine: RoutingEngine
    recorder: CallLogRecorder
    client: TestClient[Any, Any]

    def at(self, offset: float) -> None:
        """Move the clock to ``T0 + offset``."""
        self.clock.advance(T0 + offset - self.clock.now())

    async def arrive(self, offset: float, who: str, channel: Channel = Channel.CHAT, *,
                     queue: str | None = None, **context: str) -> str:
        """A new contact from ``who`` (one customer per name); ``context``: what the IVR collected."""
        self.at(offset)
        interaction = await self.interactions.start_inbound(
            channel=channel, display_name=None, queue=queue, context=context or None,
            identities=[InboundIdentity(Identity(IdentityKind.EMAIL, f"{who}@example.com"),
                                        IdentityLevel.ASSERTED, "test")])
        return interaction.id

    async def route(self, offset: float) -> None:
        self.at(offset)
        await self.engine.run_once()

    async def offered_to(self, interaction_id: str) -> str:
        offer = await self.routing.offer_for(interaction_id)
        assert offer is not None, f"{interaction_id} is not offered"
        return offer.agent_id

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        role = self.config.agents[who].role
        # Signed at the real time: the token's checker reads the real clock, the service the manual one.
        token = issue_token(secret=SECRET, agent_id=who, role=role, now=time.time(), ttl=3600)
        response = await self.client.get(path, headers={"Authorization": f"Bearer {token}"})
        return response.status, await response.json()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
async def day(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Day]:
    url = (f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("pg_schema")))
    await upgrade_async(url)
    config = parse_config(CONFIG)
    clock, ids = ManualClock(T0 - 60), SequentialIds()
    context = SqlContextStore(url=url, clock=clock, ids=ids, node_id="node-1")
    await context.start()
    routing, hub = MemoryRoutingStore(), EventHub(node_id="node-1")
    core = build_core(config=config, context=context, routing=routing, hub=hub, clock=clock, ids=ids)
    await core.agents.register_all()

    async def nothing(*_: Any) -> Any:
        raise AssertionError("not used here")

    services = Services(
        live=LiveConfig(config), node_id="node-1", clock=clock, ids=ids, hub=hub, context=context,
        routing=routing, interactions=core.interactions, agents=core.agents, explain=nothing,
        queue_stats=nothing,
        token_secret=SECRET, access=context.access, tokens=context.tokens, event_log=context.event_log,
        reports=context.reports)
    recorder = CallLogRecorder(hub=hub, context=context, log_records=context.event_log)
    recorder.start()
    client: TestClient[Any, Any] = TestClient(TestServer(make_app(services)))
    await client.start_server()
    try:
        for agent in ("alice", "bob", "carol"):
            await core.agents.set_state(agent, "available", reason=None, actor_id=agent)
        yield Day(config=config, clock=clock, context=context, routing=routing, hub=hub,
                  interactions=core.interactions, agents=core.agents, engine=core.engine, recorder=recorder,
                  client=client)
    finally:
        await client.close()
        await recorder.aclose()
        await context.aclose()


async def traffic(day: Day) -> dict[str, str]:
    """The day: a transfer, a missed offer, a short and a long abandon, a held call next hour."""
    s = day.interactions
    transferred = await day.arrive(0, "ann")
    await day.route(1)
    first = await day.offered_to(transferred)
    day.at(2.5)
    await s.accept(transferred, first)
    day.at(30)
    await s.transfer(transferred, first, to_queue="billing", to_agent=None, note=None)
    await day.route(31)
    assert await day.offered_to(transferred) == "carol"
    day.at(34.5)
    await s.accept(transferred, "carol")
    day.at(90)
    await s.complete(transferred, "carol", disposition="resolved", note=None)

    missed = await day.arrive(100, "ben")
    await day.route(101)
    await day.route(122)  # the offer made at 101 timed out at 121: back in the queue, offered again
    second = await day.offered_to(missed)
    day.at(125)
    await s.accept(missed, second)
    day.at(200)
    await s.complete(missed, second, disposition="resolved", note=None)

    short = await day.arrive(300, "cid")
    day.at(303)
    await s.customer_left(short)
    long = await day.arrive(400, "dee")
    day.at(480)
    await s.customer_left(long)

    held = await day.arrive(3700, "eve", Channel.VOICE)
    await day.route(3705)
    agent = await day.offered_to(held)
    day.at(3710)
    await s.accept(held, agent)
    for offset, what in ((3720, "held"), (3750, "resumed")):
        day.at(offset)
        await day.hub.publish(CallUpdated(at=day.clock.now(), interaction_id=held, agent_id=agent, what=what))
    await day.recorder.drain()
    day.at(3800)
    await s.call_ended(held, why="agent-ended")
    day.at(3815)
    await s.complete(held, agent, disposition="resolved", note=None)
    day.at(7200)
    return {"transferred": transferred, "missed": missed, "short": short, "long": long, "held": held}


async def test_the_served_figures_are_the_pure_functions_on_the_same_log(day: Day) -> None:
    ids = await traffic(day)
    logs = await day.context.event_log.touching(T0, T0 + 86_400)
    assert set(logs) == set(ids.values())
    segments = all_segments(logs, now=day.clock.now())
    for by, group in ((Bucket.HOUR, GroupBy.QUEUE), (Bucket.DAY, None), (Bucket.WEEK, GroupBy.AGENT),
                      (Bucket.HOUR, GroupBy.CHANNEL)):
        expected = figures(segments, start=T0, end=T0 + 86_400, by=by, group=group,
                           targets=queue_targets(day.config), short_abandon=5.0)
        query = f"from={T0}&to={T0 + 86_400}&by={by.value}" + (f"&group={group.value}" if group else "")
        status, body = await day.get("admin", f"/api/figures?{query}")
        assert status == 200, body
        assert body["rows"] == jsonable(expected)

    # What the figures say, worked out by hand (docs/reports.md).
    status, body = await day.get("admin", f"/api/figures?from={T0}&to={T0 + 3600}&group=queue")
    rows = {r["group"]: r for r in body["rows"]}
    support, billing = rows["support"], rows["billing"]
    assert (support["offered"], support["answered"], support["abandoned"], support["short_abandoned"]) \
        == (3, 2, 1, 1)
    assert support["average_speed_of_answer"] == pytest.approx((2.5 + 25) / 2)
    assert support["service_level"] == pytest.approx(2 / 3)  # both answered in 60 s; 80 s abandon counts
    assert support["transfers"] == 1
    assert (billing["offered"], billing["answered"], billing["average_speed_of_answer"]) == (1, 1, 4.5)
    assert billing["average_handle_time"] == pytest.approx(90 - 34.5)
    status, body = await day.get("admin", f"/api/figures?from={T0 + 3600}&to={T0 + 7200}&channel=voice")
    (voice,) = body["rows"]
    assert (voice["holds"], voice["hold"], voice["talk"], voice["wrap_up"]) == (1, 30.0, 60.0, 15.0)


async def test_the_board_and_the_report_agree_on_the_same_hour(day: Day) -> None:
    await traffic(day)
    board = ServiceLevelBoard(log=day.context.event_log, hub=day.hub, targets=queue_targets(day.config))
    # The board's window [now - window, now] with now just before the hour's end is the hour.
    end = math.nextafter(T0 + 3600, 0)
    live = await board.levels(end - T0, end)
    status, body = await day.get("admin",
                                 f"/api/figures?from={T0}&to={T0 + 3600}&group=queue&channel=chat")
    assert status == 200
    report = {r["group"]: r for r in body["rows"]}
    assert set(live) == set(report) == {"support", "billing"}
    for queue, levels in live.items():
        row, chat = report[queue], levels["chat"]
        assert chat["level"] == row["service_level"]
        assert chat["average_answer"] == row["average_speed_of_answer"]
        assert [chat[k] for k in ("answered", "answered_in_target", "abandoned", "abandoned_in_target")] \
            == [row[k] for k in ("answered", "answered_in_target", "abandoned", "abandoned_in_target")]
    assert live["billing"]["chat"]["average_answer"] == 4.5  # the transferred chat's own wait


async def test_the_transfer_case_gives_two_waits_and_a_missed_offer_one(day: Day) -> None:
    ids = await traffic(day)
    status, body = await day.get("admin", f"/api/interactions/{ids['transferred']}/events")
    assert status == 200, body
    kinds = [(e["kind"], e["at"] - T0, e["queue"]) for e in body["events"]]
    assert kinds[:3] == [("queued", 0, "support"), ("offered", 1, "support"), ("accepted", 2.5, "support")]
    assert ("transferred", 30, "support") in kinds and ("queued", 30, "billing") in kinds
    assert [(s["queue"], s["wait"]) for s in body["segments"]] == [("support", 2.5), ("billing", 4.5)]
    assert {e["node"] for e in body["events"]} == {"node-1"}
    status, body = await day.get("admin", f"/api/interactions/{ids['missed']}/events")
    (segment,) = body["segments"]
    assert (segment["wait"], segment["offers"], segment["missed_offers"]) == (25, 2, 1)
    requeued = [e for e in body["events"] if e["kind"] == "queued"][1]
    assert requeued["details"]["why"] == "requeue-after-missed-offer"


async def test_agents_are_refused_and_supervisors_see_their_teams_queues(day: Day) -> None:
    ids = await traffic(day)
    day_range = f"from={T0}&to={T0 + 86_400}"
    assert (await day.get("alice", f"/api/figures?{day_range}"))[0] == 403
    assert (await day.get("alice", f"/api/interactions/{ids['missed']}/events"))[0] == 403

    status, body = await day.get("sam", f"/api/figures?{day_range}&group=queue")
    assert status == 200 and {r["group"] for r in body["rows"]} == {"support"}
    status, body = await day.get("sue", f"/api/figures?{day_range}&group=queue")
    assert status == 200 and {r["group"] for r in body["rows"]} == {"billing"}
    status, body = await day.get("sam", f"/api/figures?{day_range}&queue=billing")
    assert (status, body["error_id"]) == (403, "not-your-queue")
    status, body = await day.get("sam", f"/api/figures?{day_range}&agent=carol")
    assert (status, body["error_id"]) == (403, "not-your-team")
    # The transferred chat ended in billing with carol: not sam's to read; the missed one is.
    assert (await day.get("sam", f"/api/interactions/{ids['transferred']}/events"))[0] == 403
    assert (await day.get("sam", f"/api/interactions/{ids['missed']}/events"))[0] == 200
    assert (await day.get("sue", f"/api/interactions/{ids['transferred']}/events"))[0] == 200


@pytest.mark.parametrize("query", [
    "to=1800003600",  # no from
    "from=1800003600&to=1800000000",  # backwards
    "from=1800000000&to=1810000000",  # over 93 days
    "from=1800000000&to=1800003600&by=minute",
    "from=1800000000&to=1800003600&channel=fax",
    "from=1800000000&to=1800003600&short_abandon=-1",
    "from=1800000000&to=1800003600&color=red",  # unknown keys are refused, not ignored
    "from=yesterday&to=1800003600",
])
async def test_bad_queries_are_refused_with_their_reason(day: Day, query: str) -> None:
    status, body = await day.get("admin", f"/api/figures?{query}")
    assert (status, body["error_id"]) == (400, "bad-query")
    assert body["details"]["problems"]


async def test_iso_times_are_taken_as_utc(day: Day) -> None:
    await traffic(day)
    iso = await day.get("admin", "/api/figures?from=2027-01-15T08:00:00&to=2027-01-15T09:00:00Z")
    epoch = await day.get("admin", f"/api/figures?from={T0}&to={T0 + 3600}")
    assert iso == epoch and iso[1]["rows"]
