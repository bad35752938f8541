"""Overflow rules and the transfer choice changed live by an admin count at once, and a rule
that would send work round in a loop is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.support import admin_center
from tests.stranded.helpers import chat
from tests.stranded.test_overflow_flow import QUEUES, TARGETS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NO_OVERFLOW = [{**q, "overflow": []} for q in QUEUES]


async def test_an_overflow_rule_added_live_reaches_a_chat_already_waiting(tmp_path: Path) -> None:
    async with admin_center(tmp_path, queues=NO_OVERFLOW, chat={"queue": "french"},
                            presence={"disconnect_grace": 20}) as c:
        alice = await c.agent_socket("alice")  # no french: nothing is offered
        visitor = await chat(c)
        with pytest.raises(AssertionError):
            await alice.expect("interaction.offered", timeout=2)
        status, body = await c.api("ada", "PUT", "/api/admin/queues/french", {
            "skills": {"french": 5}, "service_targets": TARGETS,
            "overflow": [{"after": 1, "to_queue": "support"}]})
        assert status == 200, body
        offer = await alice.expect("interaction.offered", timeout=8)  # it had waited over 1 s already
        assert offer["screen_pop"]["interaction"]["queue"] == "french"  # also offered to support
        loop = {"skills": {"english": 1}, "service_targets": TARGETS,
                "overflow": [{"after": 5, "to_queue": "french"}]}
        status, body = await c.api("ada", "PUT", "/api/admin/queues/support", loop)
        assert status == 400 and "loop" in body["message"], body  # support -> french -> support
        await alice.close()
        await visitor.close()


async def test_queueing_transfers_switched_on_live(tmp_path: Path) -> None:
    async with admin_center(tmp_path, queues=QUEUES, presence={"disconnect_grace": 20}) as c:
        alice = await c.agent_socket("alice")
        visitor = await chat(c)
        offer = await alice.expect("interaction.offered")
        interaction_id = offer["interaction_id"]
        await alice.command({"type": "accept", "interaction_id": interaction_id})
        path = f"/api/interactions/{interaction_id}/transfer"
        status, body = await c.api("alice", "POST", path, {"agent_id": "bob"})
        assert (status, body["error_id"]) == (409, "agent-unavailable")  # the default: refuse
        status, body = await c.api("ada", "PUT", "/api/admin/routing",
                                   {"value": {"offer_timeout": 20, "transfer_unavailable": "queue"}})
        assert status == 200, body
        status, body = await c.api("alice", "POST", path, {"agent_id": "bob"})
        assert (status, body["state"]) == (200, "queued")
        await alice.close()
        await visitor.close()
