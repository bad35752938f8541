"""Overflow by wait, the transfer that waits for its agent then falls back, and priority, on the
real server in-process: what the agent is offered and what the interaction's log says."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cti.domain import Channel, IdentityKind, IdentityLevel, InboundIdentity
from cti.identities import normalise
from tests.adapters.center import Center
from tests.stranded.helpers import center, chat, eventually
from tests.stranded.test_transfer_target import accepted_chat

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TARGETS = {"email": 14400, "chat": 60, "voice": 20}
# Chats arrive in "french", which nobody speaks; after 1 s they overflow to "support".
QUEUES = [{"name": "support", "skills": {"english": 1}, "service_targets": TARGETS,
           "transfer_fallback_seconds": 1},
          {"name": "french", "skills": {"french": 5}, "service_targets": TARGETS,
           "overflow": [{"after": 1, "to_queue": "support"}]},
          {"name": "widening", "skills": {"english": 9}, "service_targets": TARGETS,
           "overflow": [{"after": 1, "widen": {"english": 5}}]}]


async def queued_whys(c: Center, interaction_id: str) -> list[dict[str, Any]]:
    assert c.services.event_log is not None
    return [{"queue": e.queue, **e.details} for e in await c.services.event_log.of(interaction_id)
            if e.kind.value == "queued"]


async def test_a_chat_nobody_can_take_is_also_offered_to_another_queue_and_the_log_says_why(
        tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, queues=QUEUES, chat={"queue": "french"}) as c:
        alice = await c.agent_socket("alice")  # english 8, no french
        visitor = await chat(c)
        offer = await alice.expect("interaction.offered", timeout=8)
        interaction_id = str(offer["interaction_id"])
        # Also offered to support's agents, it stays french's work, with its wait.
        assert offer["screen_pop"]["interaction"]["queue"] == "french"
        whys = await queued_whys(c, interaction_id)
        assert whys[0] == {"queue": "french", "why": "arrival"}
        assert whys[1] == {"queue": "french", "why": "overflow", "from_queue": "french", "rule": "to-queue",
                           "after": 1, "also_queue": "support"}
        await alice.close()
        await visitor.close()


async def test_skills_widen_after_the_wait_so_a_less_skilled_agent_gets_it(tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, queues=QUEUES, chat={"queue": "widening"}) as c:
        bob = await c.agent_socket("bob")  # english 6 < 9, enough after widening to 5
        visitor = await chat(c)
        offer = await bob.expect("interaction.offered", timeout=8)
        assert offer["screen_pop"]["interaction"]["skills"] == {"english": 5}
        whys = await queued_whys(c, str(offer["interaction_id"]))
        assert whys[-1] == {"queue": "widening", "why": "overflow", "from_queue": "widening", "rule": "widen",
                            "after": 1}
        await bob.close()
        await visitor.close()


async def test_a_transfer_queued_for_an_offline_agent_falls_back_to_the_queue(tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, queues=QUEUES) as c:
        alice = await c.agent_socket("alice")
        visitor, interaction_id = await accepted_chat(c, alice)
        status, body = await c.api("alice", "POST", f"/api/interactions/{interaction_id}/transfer",
                                   {"agent_id": "bob", "if_unavailable": "queue"})
        assert status == 200, body
        assert (body["state"], body["agent_id"]) == ("queued", None)
        # Bob never comes; after the queue's 1 s the whole queue may take it: Alice is offered it.
        offer = await alice.expect("interaction.offered", timeout=8)
        assert offer["interaction_id"] == interaction_id
        whys = await queued_whys(c, interaction_id)
        assert whys[-1] == {"queue": "support", "why": "transfer-fallback", "from_queue": "support",
                            "rule": "to-agent-timeout", "after": 1}
        await alice.close()
        await visitor.close()


async def test_the_configuration_may_make_queueing_the_default_and_a_bad_choice_is_refused(
        tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, queues=QUEUES,
                      routing={"offer_timeout": 20, "transfer_unavailable": "queue"}) as c:
        alice = await c.agent_socket("alice")
        visitor, interaction_id = await accepted_chat(c, alice)
        status, body = await c.api("alice", "POST", f"/api/interactions/{interaction_id}/transfer",
                                   {"agent_id": "bob", "if_unavailable": "maybe"})
        assert (status, body["error_id"]) == (400, "bad-if-unavailable")
        status, body = await c.api("alice", "POST", f"/api/interactions/{interaction_id}/transfer",
                                   {"agent_id": "bob", "if_unavailable": "refuse"})
        assert (status, body["error_id"]) == (409, "agent-unavailable")
        ack = await alice.command({"type": "transfer", "interaction_id": interaction_id, "agent_id": "bob"})
        assert ack["type"] == "ack", ack
        assert ack["result"]["state"] == "queued"
        await alice.close()
        await visitor.close()


async def test_a_higher_priority_interaction_is_offered_first(tmp_path: Path) -> None:
    routing = {"offer_timeout": 20, "priority": {"context": {"ivr.reason": {"fraud": 5}}}}
    async with center(tmp_path, offer_timeout=20, queues=QUEUES, routing=routing) as c:
        first = await chat(c, "I was first")
        await eventually(lambda: _waiting(c, 1), what="the first chat waiting")
        # Arrives later on the same channel, with the IVR's answer the configuration ranks at 5.
        fraud = await c.services.interactions.start_inbound(
            channel=Channel.CHAT, queue="support", display_name="Caller",
            identities=[InboundIdentity(normalise(IdentityKind.EMAIL, "x@example.com"),
                                        IdentityLevel.ASSERTED, "test")],
            context={"ivr.reason": "fraud"}, first_message="My card was stolen")
        assert fraud.priority == 5
        alice = await c.agent_socket("alice")
        offer = await alice.expect("interaction.offered", timeout=8)
        assert offer["interaction_id"] == fraud.id
        await alice.close()
        await first.close()


async def test_a_supervisor_raises_a_waiting_chats_priority_and_it_goes_first(tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, queues=QUEUES) as c:
        older = await chat(c, "first")
        await eventually(lambda: _waiting(c, 1), what="the first chat waiting")
        newer = await chat(c, "second", name="Zoe")
        await eventually(lambda: _waiting(c, 2), what="both chats waiting")
        waiting = (await c.services.routing.snapshot()).waiting
        newest = max(waiting, key=lambda w: w.enqueued_at).interaction_id
        status, body = await c.api("alice", "POST", f"/api/interactions/{newest}/priority", {"priority": 5})
        assert (status, body["error_id"]) == (403, "wrong-role")
        status, body = await c.api("sam", "POST", f"/api/interactions/{newest}/priority", {"priority": 11})
        assert (status, body["error_id"]) == (400, "bad-priority")
        status, body = await c.api("sam", "POST", f"/api/interactions/{newest}/priority", {"priority": 5})
        assert (status, body["priority"], body["state"]) == (200, 5, "queued")
        status, audit = await c.api("sam", "GET", f"/api/audit?target={newest}")
        assert status == 200 and any(a["action"] == "interaction.priority" for a in audit)
        alice = await c.agent_socket("alice")
        offer = await alice.expect("interaction.offered", timeout=8)
        assert offer["interaction_id"] == newest
        assert (await queued_whys(c, newest))[-1]["why"] == "priority"
        for sock in (alice, older, newer):
            await sock.close()


async def _waiting(c: Center, count: int) -> bool:
    return len((await c.services.routing.snapshot()).waiting) == count


async def test_a_move_decided_on_an_older_picture_changes_nothing(tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, queues=QUEUES) as c:
        visitor = await chat(c)
        await eventually(lambda: _waiting(c, 1), what="the chat waiting")
        (item,) = (await c.services.routing.snapshot()).waiting
        # Decided while it was still aimed at Bob, who has declined it since: no fallback to log.
        moved = await c.services.interactions.rewait(item.interaction_id, why="transfer-fallback",
                                                     expected=replace(item, target_agent="bob"))
        assert moved is None
        assert (await c.services.routing.snapshot()).waiting == [item]
        assert [w["why"] for w in await queued_whys(c, item.interaction_id)] == ["arrival"]
        await visitor.close()


async def test_work_that_overflowed_before_a_restart_still_may_go_to_the_other_queue_and_is_logged_once(
        tmp_path: Path) -> None:
    email = {"channel": Channel.EMAIL, "queue": "french", "display_name": "Marie",
             "identities": [InboundIdentity(normalise(IdentityKind.EMAIL, "marie@example.com"),
                                            IdentityLevel.ASSERTED, "test")],
             "first_message": "Bonjour"}
    async with center(tmp_path, offer_timeout=20, queues=QUEUES) as c:
        waiting = await c.services.interactions.start_inbound(**email)
        await eventually(lambda: _overflowed(c, waiting.id), what="the overflow")

    async with center(tmp_path, offer_timeout=20, queues=QUEUES) as c:  # the restart
        (item,) = (await c.services.routing.snapshot()).waiting
        assert item.also == {"support": {"english": 1}}  # support's agents may still take it
        await asyncio.sleep(2.5)  # sweeps enough to have re-applied the rule, were it forgotten
        whys = [w["why"] for w in await queued_whys(c, waiting.id)]
        assert whys.count("overflow") == 1, whys
        alice = await c.agent_socket("alice")  # english only: hers through the overflow
        offer = await alice.expect("interaction.offered", timeout=8)
        assert offer["interaction_id"] == waiting.id
        await alice.close()


async def _overflowed(c: Center, interaction_id: str) -> bool:
    return any(w["why"] == "overflow" for w in await queued_whys(c, interaction_id))
