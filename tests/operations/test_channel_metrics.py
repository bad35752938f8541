"""Channel figures: webhook refusals by reason, and replies the channel did not deliver.

The X adapter in webhook mode against the fake X API: deliveries refused for each reason the
adapter has, then a reply X refuses (the customer closed their DMs).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.adapters.center import Center, running_center
from tests.adapters.x.conftest import BEA, fake_x, oauth1_section
from tests.adapters.x.fake_x import FakeX
from tests.adapters.x.payloads import ACCOUNT, delivery, dm_v11, user_v11
from tests.adapters.x.test_webhook import post
from tests.operations.scrape import Samples, scrape, value

pytestmark = pytest.mark.integration
__all__ = ["fake_x"]  # the fixture, imported to be used here

bea = user_v11(*BEA)
acme = user_v11(ACCOUNT, "AcmeHelp", "Acme Help")


async def figures(center: Center) -> Samples:
    return await scrape(center.http, center.url)


async def test_webhook_refusals_and_undelivered_replies_are_counted(tmp_path: Path, fake_x: FakeX) -> None:
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        before = await figures(center)
        assert value(before, "cti_webhook_refusals_total", channel="x", reason="bad-signature") == 0

        body = delivery(dms=[dm_v11("8001", BEA[0], ACCOUNT, "Help")], users=[bea, acme])
        assert (await post(center, body, signature="sha256=AAAA"))[0] == 403
        assert (await post(center, body, secret="not-the-consumer-secret"))[0] == 403
        assert (await post(center, b"{not json"))[0] == 400
        stale = delivery(dms=[dm_v11("8002", BEA[0], ACCOUNT, "Old", at=time.time() - 30 * 86400)],
                         users=[bea, acme])
        assert (await post(center, stale))[0] == 403
        async with center.http.get(f"{center.url}/webhooks/x", params={"crc_token": "bad token!"}) as r:
            assert r.status == 400

        refused = await figures(center)
        assert value(refused, "cti_webhook_refusals_total", channel="x", reason="bad-signature") == 2
        assert value(refused, "cti_webhook_refusals_total", channel="x", reason="malformed-json") == 1
        assert value(refused, "cti_webhook_refusals_total", channel="x", reason="stale") == 1
        assert value(refused, "cti_webhook_refusals_total", channel="x", reason="bad-crc-token") == 1

        alice = await center.agent_socket("alice")
        assert (await post(center, body))[0] == 200  # a good delivery is not counted
        offer = await alice.expect("interaction.offered")
        await alice.command({"type": "accept", "interaction_id": offer["interaction_id"]})
        fake_x.forbid_dms_to.add(BEA[0])
        await alice.command({"type": "reply", "interaction_id": offer["interaction_id"], "body": "Hi"})
        assert (await alice.expect("message.status"))["status"] == "refused"
        after = await figures(center)
        assert value(after, "cti_outbound_failures_total", channel="x", status="refused",
                     reason="x-forbidden") == 1
        assert sum(v for (name, _), v in after.items() if name == "cti_webhook_refusals_total") == 5
        await alice.close()
