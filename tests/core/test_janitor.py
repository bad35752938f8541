"""The server sweeps old inbound claims as it starts (and hourly), on one node."""

from __future__ import annotations

from pathlib import Path

from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.app import ServerSettings
from cti.clock import ManualClock, SequentialIds
from tests.adapters.center import running_center


async def test_a_starting_server_drops_claims_older_than_a_day(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await upgrade_async(url)
    yesterday = SqlContextStore(url=url, clock=ManualClock(1_000_000.0), ids=SequentialIds())
    await yesterday.start()
    assert await yesterday.claim_inbound("sms:SM-from-long-ago")
    await yesterday.aclose()

    async with running_center(tmp_path, {}, ServerSettings(db_url=url, node_id="test")) as center:
        context = center.services.context
        assert await context.claim_inbound("sms:SM-from-long-ago")  # swept: free again
        assert not await context.claim_inbound("sms:SM-from-long-ago")  # a fresh claim holds
