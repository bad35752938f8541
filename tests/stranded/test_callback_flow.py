"""A waiting chat visitor sees their place and an estimate that update, and past the queue's
maximum wait turns the chat into a callback that keeps the original wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.adapters.center import AGENTS, Center
from tests.stranded.helpers import center, chat, eventually
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TARGETS = {"email": 14400, "chat": 60, "voice": 20}
QUEUES = [{"name": "support", "skills": {"english": 1}, "service_targets": TARGETS, "max_wait": 1}]
CALLBACK_AGENTS = [{**a, "capacity": {**a["capacity"], "callback": 1}} if a["id"] == "alice" else a
                   for a in AGENTS]
FAST = {"queue": "support", "queue_status_seconds": 0.2}
ONE_CHAT_ALICE = [{**a, "capacity": {"chat": 1}} if a["id"] == "alice" else a for a in AGENTS]


def status(position: int | None = None, *, callback: bool | None = None) -> Any:
    return lambda m: (m.get("type") == "queue_status" and (position is None or m["position"] == position)
                      and (callback is None or m["callback_offered"] is callback))


async def chat_id(c: Center, count: int) -> list[str]:
    async def there() -> bool:
        return len((await c.services.routing.snapshot()).waiting) == count
    await eventually(there, what=f"{count} waiting")
    return [w.interaction_id for w in sorted((await c.services.routing.snapshot()).waiting,
                                             key=lambda w: w.enqueued_at)]


async def test_visitors_see_their_position_which_moves_up_and_an_estimate_once_answers_come(
        tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, queues=[{**QUEUES[0], "max_wait": 3600}], chat=FAST,
                      agents=ONE_CHAT_ALICE) as c:
        first = await chat(c, "first")
        first_status = await first.expect(status(1, callback=False))
        assert first_status["estimated_wait"] is None  # nobody answered lately: no promise
        second = await chat(c, "second", name="Zoe")
        await second.expect(status(2))
        # An agent answers the first: the second moves up, and the queue now has an answer rate.
        alice = await c.agent_socket("alice")
        offer = await alice.expect("interaction.offered")
        await alice.command({"type": "accept", "interaction_id": offer["interaction_id"]})
        ahead = await second.expect(lambda m: m.get("type") == "queue_status" and m["position"] == 1
                                    and isinstance(m["estimated_wait"], int | float), timeout=15)
        assert ahead["estimated_wait"] == 900  # 1 x 900 s / 1 answer in the window
        for sock in (first, second, alice):
            await sock.close()


async def test_past_the_maximum_wait_a_callback_is_offered_and_keeps_the_original_wait(
        tmp_path: Path) -> None:
    async with center(tmp_path, offer_timeout=20, queues=QUEUES, chat=FAST, agents=CALLBACK_AGENTS) as c:
        visitor = await chat(c, "Is anyone there?")
        await visitor.expect(status(1, callback=False))
        (chat_interaction,) = await chat_id(c, 1)
        await visitor.expect(status(1, callback=True), timeout=8)

        for frame, error_id in [({"type": "callback"}, "callback-contact-required"),
                                ({"type": "callback", "phone": "12"}, "invalid-phone"),
                                ({"type": "callback", "email": "not-an-address"}, "invalid-email")]:
            await visitor.send(frame)
            refused = await visitor.expect("error")
            assert refused["error_id"] == error_id, refused
        await visitor.send({"type": "callback", "phone": "(415) 555-0100", "email": "Mia@Example.com"})
        booked = await visitor.expect("callback_booked")
        assert booked == {"type": "callback_booked", "phone": "+14155550100", "email": "mia@example.com"}
        await visitor.expect(lambda m: m.get("type") == "status" and m.get("state") == "closed")

        chat_row = await c.services.context.interaction(chat_interaction)
        assert (chat_row.state.value, chat_row.disposition) == ("closed", "callback-requested")
        alice = await c.agent_socket("alice")
        offer = await alice.expect("interaction.offered")
        pop = offer["screen_pop"]
        callback_id = offer["interaction_id"]
        assert pop["interaction"]["channel"] == "callback"
        assert pop["interaction"]["context"]["callback.phone"] == "+14155550100"
        assert pop["interaction"]["context"]["callback.from"] == chat_interaction
        # The original wait: arrival and first queued time are the chat's.
        callback = await c.services.context.interaction(callback_id)
        assert (callback.arrived_at, callback.queued_at) == (chat_row.arrived_at, chat_row.queued_at)
        assert c.services.event_log is not None
        first = (await c.services.event_log.of(callback_id))[0]
        assert (first.kind.value, first.at, dict(first.details)) == (
            "queued", chat_row.queued_at, {"why": "callback", "from_interaction": chat_interaction})
        # What the visitor typed is a claim, never proof.
        presented = await c.services.context.presented(callback_id)
        assert {(p.identity.kind.value, p.level.value) for p in presented} == {("phone", "claimed"),
                                                                              ("email", "claimed")}
        await alice.close()
        await visitor.close()


async def test_a_callback_before_the_maximum_wait_is_refused_and_the_chat_waits_on(tmp_path: Path) -> None:
    queues = [{**QUEUES[0], "max_wait": 3600}]
    async with center(tmp_path, offer_timeout=20, queues=queues, chat=FAST) as c:
        visitor: JsonSocket = await chat(c)
        (interaction_id,) = await chat_id(c, 1)
        await visitor.send({"type": "callback", "phone": "+14155550100"})
        refused = await visitor.expect("error")
        assert refused["error_id"] == "callback-not-offered"
        assert await chat_id(c, 1) == [interaction_id]  # still waiting, in the router
        await visitor.close()


async def test_an_early_callback_request_leaves_the_offer_out_to_the_agent(tmp_path: Path) -> None:
    # Hostile or hasty: a visitor asks for a callback before the maximum wait while an agent's
    # desk is ringing. The request is refused and the offer stays good: the agent can accept.
    queues = [{**QUEUES[0], "max_wait": 3600}]
    async with center(tmp_path, offer_timeout=20, queues=queues, chat=FAST, agents=ONE_CHAT_ALICE) as c:
        alice = await c.agent_socket("alice")
        visitor = await chat(c, "hello?")
        offer = await alice.expect("interaction.offered")
        for _ in range(3):
            await visitor.send({"type": "callback", "phone": "(415) 555-0100"})
            refused = await visitor.expect("error")
            assert refused["error_id"] == "callback-not-offered", refused
        accepted = await alice.command({"type": "accept", "interaction_id": offer["interaction_id"]})
        assert accepted["type"] == "ack", accepted
        for sock in (visitor, alice):
            await sock.close()
