"""Two nodes on one PostgreSQL and Redis: one polls X at a time, and the other takes over from
the cursor the first one stored when it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.x.adapter import XAdapter
from cti.app import ServerSettings
from cti.domain import Channel
from tests.adapters.center import Center, running_center
from tests.adapters.x.conftest import BEA, bearer_section, first_message
from tests.adapters.x.fake_x import FakeX
from tests.waiting import until

pytestmark = pytest.mark.integration


def x_of(center: Center) -> XAdapter:
    adapter = center.adapters[Channel.X]
    assert isinstance(adapter, XAdapter)
    return adapter


async def test_one_node_polls_and_the_other_goes_on_from_its_cursor(
        tmp_path: Path, fake_x: FakeX, cluster_node: Callable[[str], ServerSettings]) -> None:
    section = bearer_section(fake_x, mode="polling", poll_seconds=0.1, poll_page_size=5)

    fake_x.add_dm(BEA[0], "message 0")
    first_run = running_center(tmp_path, {"x": section}, cluster_node("node-a"))
    first = await first_run.__aenter__()
    first_open = True
    try:
        async with running_center(tmp_path, {"x": section}, cluster_node("node-b")) as second:
            alice = await second.agent_socket("alice")
            offer = await alice.expect("interaction.offered")  # polled by one node, offered by either
            assert await first_message(alice, offer) == "message 0"
            interaction_id = offer["interaction_id"]

            # Only the node that started first polls; the other's poller is not even running.
            reads = len(fake_x.calls("/2/dm_events"))
            await asyncio.sleep(1.0)
            assert x_of(first).polling_here and not x_of(second).polling_here
            assert len(fake_x.calls("/2/dm_events")) - reads <= 12  # one poller at 0.1 s, not two

            # The polling node stops; more than a page arrives before the other takes over.
            await first_run.__aexit__(None, None, None)
            first_open = False
            for n in range(1, 8):
                fake_x.add_dm(BEA[0], f"message {n}")
            async def all_stored() -> bool:
                return len(await second.services.context.messages(interaction_id)) >= 8

            await until(all_stored, what="the 8 DMs stored")
            messages = await second.services.context.messages(interaction_id)
            assert x_of(second).polling_here
            assert [m.body for m in messages] == [f"message {n}" for n in range(8)]
            await alice.close()
    finally:
        if first_open:
            await first_run.__aexit__(None, None, None)
    assert fake_x.problems == []
