"""The event observer on two nodes sharing Redis: each counts and logs only what it caused, and
every node hears the AMI link's state."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import redis.asyncio as redis_asyncio
from structlog.contextvars import clear_contextvars

from cti.events import (
    InteractionAbandoned,
    InteractionAccepted,
    InteractionClosed,
    InteractionOffered,
    InteractionQueued,
    InteractionTransferred,
    VoiceLinkChanged,
)
from cti.hub import EventHub
from cti.observe.events import EventObserver
from cti.observe.logs import configure_logging
from cti.observe.metrics import LiveFigures, Metrics
from tests.operations.scrape import parse, value
from tests.waiting import until

pytestmark = pytest.mark.integration


@pytest.fixture
def log_out() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    clear_contextvars()
    configure_logging(level="info", fmt="json", stream=out)
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    clear_contextvars()


async def test_each_node_counts_and_logs_what_it_caused(
        redis_url: str, unique_prefix: str, log_out: io.StringIO) -> None:
    client = redis_asyncio.Redis.from_url(redis_url)
    hubs = [EventHub(node_id=n, redis=client, channel=f"{unique_prefix}:events") for n in ("a", "b")]
    metrics = [Metrics(), Metrics()]
    observers = [EventObserver(hub=h, metrics=m) for h, m in zip(hubs, metrics, strict=True)]
    for hub, observer in zip(hubs, observers, strict=True):
        await hub.start()
        await observer.start()
    a = hubs[0]
    chat = {"id": "i-1", "channel": "chat"}
    try:
        await a.publish(InteractionOffered(at=1, interaction_id="i-1", agent_id="alice", expires_at=20,
                                           reason={}, screen_pop={"interaction": chat}))
        await a.publish(InteractionAccepted(at=2, interaction_id="i-1", agent_id="alice", interaction=chat))
        await a.publish(InteractionTransferred(at=3, interaction_id="i-1", agent_id="alice",
                                               to_queue="billing", to_agent=None, note="secret note"))
        await a.publish(InteractionQueued(at=4, interaction=chat, requeued_because="timeout"))
        await a.publish(InteractionClosed(at=5, interaction_id="i-1", agent_id="bob", disposition="done"))
        await a.publish(InteractionAbandoned(at=6, interaction_id="i-2", agent_id=None, waited=42.0))
        for connected in (True, False, True):
            await a.publish(VoiceLinkChanged(at=7, connected=connected, why="test"))
        await until(lambda: observers[1].ami_link_heard is True, what="node b to hear the link")

        seen = [parse(m.render(LiveFigures()).decode()) for m in metrics]
        chat_label = {"channel": "chat"}
        for name, labels in (("cti_offers_total", chat_label), ("cti_accepts_total", chat_label),
                             ("cti_offer_timeouts_total", chat_label), ("cti_abandons_total", {}),
                             ("cti_ami_reconnects_total", {}), ("cti_ami_disconnects_total", {})):
            assert value(seen[0], name, **labels) == 1, name
            assert value(seen[1], name, **labels) == 0, name  # heard from node a: not counted again
    finally:
        for hub, observer in zip(hubs, observers, strict=True):
            await observer.aclose()
            await hub.aclose()
        await client.aclose()

    lines = [json.loads(line) for line in log_out.getvalue().splitlines()]
    about = {r["message"].split()[0]: r for r in lines if r["logger"] == "cti.observe.events"}
    assert set(about) == {"accepted", "transferred", "completed", "abandoned"}  # each once: node a's
    assert sum(r["logger"] == "cti.observe.events" for r in lines) == 4
    assert (about["accepted"]["interaction"], about["accepted"]["agent"]) == ("i-1", "alice")
    assert (about["completed"]["interaction"], about["completed"]["agent"]) == ("i-1", "bob")
    assert about["transferred"]["message"].endswith("to_queue=billing to_agent=None")
    assert about["abandoned"]["interaction"] == "i-2" and "agent" not in about["abandoned"]
    assert "secret note" not in log_out.getvalue()  # notes are never logged
