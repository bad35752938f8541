"""A queue's configured priority feeds the routing urgency (wait / target x priority): work in a
priority-5 queue goes before older work of a priority-1 queue with the same target."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cti.domain import Channel, Identity, IdentityKind, IdentityLevel, InboundIdentity
from tests.admin.support import admin_center

pytestmark = pytest.mark.integration


def caller(n: int) -> list[InboundIdentity]:
    return [InboundIdentity(Identity(IdentityKind.EMAIL, f"c{n}@example.net"), IdentityLevel.ASSERTED,
                            "test")]


async def test_the_queue_priority_set_by_an_admin_orders_the_work(tmp_path: Path) -> None:
    async with admin_center(tmp_path) as center:
        status, body = await center.api("ada", "PUT", "/api/admin/queues/vip", {
            "skills": {"english": 1}, "service_targets": {"email": 14400}, "priority": 5})
        assert status == 200, body
        interactions = center.services.interactions
        older = await interactions.start_inbound(channel=Channel.EMAIL, identities=caller(1),
                                                    display_name=None, queue="support", first_message="first")
        await asyncio.sleep(0.05)  # strictly younger, so only the priority can put it first
        vip = await interactions.start_inbound(channel=Channel.EMAIL, identities=caller(2),
                                                  display_name=None, queue="vip", first_message="second")
        alice = await center.agent_socket("alice")
        offer = await alice.expect("interaction.offered")
        assert offer["interaction_id"] == vip.id != older.id
        await alice.close()


async def test_a_disposition_outside_the_admins_list_is_refused(tmp_path: Path) -> None:
    async with admin_center(tmp_path, dispositions=["resolved"]) as center:
        interaction = await center.services.interactions.start_inbound(
            channel=Channel.EMAIL, identities=caller(3), display_name=None, queue="support",
            first_message="hi")
        alice = await center.agent_socket("alice")
        await alice.expect("interaction.offered")
        assert (await alice.command({"type": "accept", "interaction_id": interaction.id}))["type"] == "ack"
        refused = await alice.command({"type": "complete", "interaction_id": interaction.id,
                                       "disposition": "whatever"})
        assert refused["error_id"] == "unknown-disposition", refused
        done = await alice.command({"type": "complete", "interaction_id": interaction.id,
                                    "disposition": "resolved"})
        assert done["result"]["state"] == "closed", done
        await alice.close()
