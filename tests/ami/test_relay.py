"""Call control asked on a node without the Asterisk link is run by the node that has it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis_asyncio

from cti.ami.bridge import AmiBridge
from cti.ami.relay import CommandRelay
from cti.errors import CtiError
from tests.ami.center import running_center
from tests.ami.fake_ami import header
from tests.ami.test_bridge import connected_call

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis_asyncio.Redis]:
    r = redis_asyncio.Redis.from_url(redis_url)
    yield r
    await r.aclose()


async def test_a_node_without_the_link_has_the_holder_run_its_commands(
        tmp_path: Path, client: redis_asyncio.Redis, unique_prefix: str) -> None:
    async with running_center(tmp_path) as center:
        call_id, [rest] = await connected_call(center, "hold_resume")
        await center.play(tuple(f for f in rest.frames if "Hangup" not in f.split("\r\n")[0]))
        await center.wait_state(call_id, "active")

        holder_relay = CommandRelay(client, prefix=unique_prefix, node_id="node-a")
        other_relay = CommandRelay(client, prefix=unique_prefix, node_id="node-b", timeout=1.0)
        await holder_relay.start()
        await other_relay.start()
        # Node B: the same services, no link of its own.
        assert center.config.ami is not None
        other = AmiBridge(ami=center.config.ami, config=center.config, interactions=center.interactions,
                          agents=center.agents, context=center.context, routing=center.routing,
                          hub=center.hub, clock=center.bridge._clock)
        other.attach_relay(other_relay)
        try:
            holder_relay.serve(center.bridge.serve_command)
            await other.hold(call_id, "alice", on=True)
            redirect = await center.ami.wait_action("Redirect")
            assert header(redirect, "ExtraChannel") == "PJSIP/agent1-0000000f"

            # The holder's typed error comes back as the same error.
            with pytest.raises(CtiError) as refused:
                await other.hold(call_id, "bob", on=True)
            assert (refused.value.status, refused.value.error_id) == (403, "not-your-interaction")

            # Nobody holds the link: a clear 503, not a hang.
            holder_relay.serve(None)
            with pytest.raises(CtiError) as nobody:
                await other.hangup(call_id, "alice")
            assert (nobody.value.status, nobody.value.error_id) == (503, "voice-unavailable")
            assert center.ami.actions_named("Hangup") == []
        finally:
            await other_relay.aclose()
            await holder_relay.aclose()
