"""Two nodes' Asterisk sides on one Redis: one link to Asterisk, handed over when its node stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis_asyncio

from cti.ami.bridge import AmiBridge
from cti.ami.runtime import AsteriskVoice
from cti.lease import Leases
from tests.ami.center import Center, running_center
from tests.waiting import until

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis_asyncio.Redis]:
    r = redis_asyncio.Redis.from_url(redis_url)
    yield r
    await r.aclose()


def node(center: Center, client: redis_asyncio.Redis, prefix: str, name: str) -> AsteriskVoice:
    assert center.config.ami is not None
    bridge = AmiBridge(ami=center.config.ami, config=center.config, interactions=center.interactions,
                       agents=center.agents, context=center.context, routing=center.routing,
                       hub=center.hub, clock=center.bridge._clock)
    return AsteriskVoice(ami=center.config.ami, bridge=bridge,
                         leases=Leases(redis=client, prefix=prefix, node_id=name, ttl=0.6))


async def test_one_node_logs_in_and_the_other_takes_over(
        tmp_path: Path, client: redis_asyncio.Redis, unique_prefix: str) -> None:
    async with running_center(tmp_path) as center:
        await center.link.aclose()  # the center's own link stands aside: two "nodes" instead
        logins = center.ami.logins
        a, b = node(center, client, unique_prefix, "node-a"), node(center, client, unique_prefix, "node-b")
        await a.start()
        await b.start()
        await center.ami.wait_logins(logins + 1, timeout=5)
        await asyncio.sleep(0.8)  # more than a lease renewal: still one session
        assert center.ami.logins == logins + 1
        holder, other = (a, b) if a.bridge.connected else (b, a)
        assert holder.bridge.connected and not other.bridge.connected

        await holder.aclose()  # a clean stop: dial plan told, lease released
        await center.ami.wait_logins(logins + 2, timeout=5)
        await until(lambda: other.bridge.connected, timeout=3, what="the other node's link")
        await other.aclose()
        await client.delete(f"{unique_prefix}:ami:lease")
