"""Finished deliveries are kept ``webhooks.keep_finished_days`` for the admin, then the server's
housekeeping drops them; a pending one is never dropped, however old."""

from __future__ import annotations

import time
from pathlib import Path

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.app import ServerSettings
from cti.clock import SequentialIds, SystemClock
from cti.webhooks.deliveries import NewDelivery
from tests.adapters.center import running_center
from tests.waiting import until

DAY = 86400.0


def new(n: int) -> NewDelivery:
    return NewDelivery(id=f"whd-{n}", subscriber="gone", event_type="interaction.closed",
                       interaction_id=None, body=b"{}")


async def test_a_starting_server_drops_finished_deliveries_past_their_keeping(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await upgrade_async(url)
    context = SqlContextStore(url=url, clock=SystemClock(), ids=SequentialIds())
    await context.start()
    store = context.webhook_store()
    now = time.time()
    old, recent = now - 11 * DAY, now - 9 * DAY
    await store.record([new(1), new(2), new(3)], now=old)
    await store.record([new(4)], now=recent)
    for n, at in ((1, old), (2, old), (4, recent)):
        assert await store.claim(f"whd-{n}", node="x", now=at, until=at + 40) is not None
    await store.delivered("whd-1", node="x", now=old, status=204)
    await store.give_up("whd-2", node="x", now=old, status=500, error="status 500")
    await store.give_up("whd-4", node="x", now=recent, status=500, error="status 500")
    await context.aclose()

    async with running_center(tmp_path, {}, ServerSettings(db_url=url, node_id="test"),
                              webhooks={"keep_finished_days": 10}) as center:
        webhooks = center.services.webhooks
        assert webhooks is not None

        async def kept() -> list[str]:
            found = await webhooks.deliveries(status=None, subscriber=None, limit=10)
            ids = sorted(d.id for d in found)
            return ids if ids == ["whd-3", "whd-4"] else []

        await until(kept, what="the old finished deliveries dropped")
