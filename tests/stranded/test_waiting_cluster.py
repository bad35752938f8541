"""Two nodes on PostgreSQL and Redis sweep the same queue: a wait overflows once, not once per
node, and a transfer's fallback and a callback work on the shared stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cti.app import ServerSettings
from tests.stranded.helpers import center, chat
from tests.stranded.test_overflow_flow import QUEUES, queued_whys

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_two_nodes_overflow_a_wait_once(tmp_path: Path,
                                              cluster_node: Callable[[str], ServerSettings]) -> None:
    async with center(tmp_path / "a", settings=cluster_node("a"), offer_timeout=20, queues=QUEUES,
                      chat={"queue": "french"}) as a, \
            center(tmp_path / "b", settings=cluster_node("b"), offer_timeout=20, queues=QUEUES,
                   chat={"queue": "french"}) as b:
        alice = await b.agent_socket("alice")
        visitor = await chat(a)
        offer = await alice.expect("interaction.offered", timeout=10)
        whys = [w["why"] for w in await queued_whys(a, str(offer["interaction_id"]))]
        assert whys == ["arrival", "overflow"]
        await alice.close()
        await visitor.close()


async def test_a_callback_keeps_its_wait_on_postgresql(tmp_path: Path,
                                                       cluster_node: Callable[[str], ServerSettings]) -> None:
    queues = [{"name": "support", "skills": {"english": 1}, "max_wait": 1}]
    async with center(tmp_path, settings=cluster_node("a"), offer_timeout=20, queues=queues,
                      chat={"queue": "support", "queue_status_seconds": 0.2}) as c:
        visitor = await chat(c)
        await visitor.expect(lambda m: m.get("type") == "queue_status" and m["callback_offered"], timeout=10)
        await visitor.send({"type": "callback", "email": "mia@example.com"})
        assert (await visitor.expect("callback_booked"))["email"] == "mia@example.com"
        waiting = (await c.services.routing.snapshot()).waiting
        (callback,) = [w for w in waiting if w.channel.value == "callback"]
        row = await c.services.context.interaction(callback.interaction_id)
        chat_id = row.context["callback.from"]
        original = await c.services.context.interaction(chat_id)
        assert (row.arrived_at, row.queued_at, callback.enqueued_at) == (
            original.arrived_at, original.queued_at, original.queued_at)
        await visitor.close()
