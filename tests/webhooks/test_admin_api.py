"""The admin's view of webhook deliveries through the real server: list, replay one, replay all;
nobody but an admin may."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cti.app import ServerSettings
from tests.adapters.center import running_center
from tests.security.scoping import TEAMS, chat, take
from tests.waiting import until
from tests.webhooks.conftest import SECRET
from tests.webhooks.receiver import FAIL, OK, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = "/api/admin/webhooks"


def webhooks(url: str) -> dict[str, Any]:
    return {"allow_private_addresses": True, "timeout_seconds": 5, "first_retry_seconds": 0.05,
            "max_retry_seconds": 0.1, "retry_jitter_seconds": 0, "give_up_after_seconds": 0.3,
            "subscribers": [{"name": "crm", "url": url, "secret": SECRET,
                             "events": ["interaction.accepted", "interaction.closed"]}]}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database(request: pytest.FixtureRequest) -> ServerSettings | None:
    if request.param == "sqlite":
        return None
    return ServerSettings(db_url=str(request.getfixturevalue("pg_schema")), node_id="pg")


async def test_an_admin_lists_failed_deliveries_and_replays_them(
        tmp_path: Path, receiver: Receiver, database: ServerSettings | None) -> None:
    url = receiver.at("/crm", then=FAIL)
    async with running_center(tmp_path, {}, settings=database, webhooks=webhooks(url), **TEAMS) as center:
        alice = await center.agent_socket("alice")
        _visitor = await chat(center, "Ann Lee", email="ann.lee@example.com")
        taken = await take(alice)
        status, body = await center.api("alice", "POST", f"/api/interactions/{taken['id']}/complete",
                                        {"disposition": "resolved"})
        assert status == 200, body

        async def failed() -> list[dict[str, Any]]:
            status, found = await center.api("admin", "GET", f"{BASE}/deliveries?status=failed")
            assert status == 200, found
            return found if len(found) == 2 else []

        deliveries = await until(failed, what="both deliveries given up")
        assert {d["event_type"] for d in deliveries} == {"interaction.accepted", "interaction.closed"}
        closed = next(d for d in deliveries if d["event_type"] == "interaction.closed")
        assert closed["interaction_id"] == taken["id"] and closed["last_error"] == "status 500"
        assert closed["body"]["data"]["disposition"] == "resolved"
        status, overview = await center.api("admin", "GET", BASE)
        assert status == 200
        assert overview == [{"name": "crm", "configured": True, "url": url,
                             "events": ["interaction.accepted", "interaction.closed"],
                             "deliveries": {"pending": 0, "delivered": 0, "failed": 2}}]

        # Nobody else: not the agent, not a supervisor.
        for who in ("alice", "sam"):
            for method, path in (("GET", BASE), ("GET", f"{BASE}/deliveries"), ("POST", f"{BASE}/replay"),
                                 ("POST", f"{BASE}/deliveries/{closed['id']}/replay")):
                status, refused = await center.api(who, method, path)
                assert (status, refused["error_id"]) == (403, "wrong-role"), (who, path)
        assert receiver.accepted("/crm") == []

        receiver.then["/crm"] = OK
        status, replayed = await center.api("admin", "POST", f"{BASE}/deliveries/{closed['id']}/replay")
        assert (status, replayed["status"]) == (200, "pending"), replayed
        await until(lambda: receiver.accepted("/crm"), what="the replayed delivery")
        [got] = receiver.accepted("/crm")
        assert json.loads(got.body)["id"] == closed["id"]
        status, again = await center.api("admin", "POST", f"{BASE}/deliveries/{closed['id']}/replay")
        assert (status, again["error_id"]) in {(409, "delivery-not-failed")}

        status, result = await center.api("admin", "POST", f"{BASE}/replay", {"subscriber": "crm"})
        assert (status, result) == (200, {"replayed": 1})
        await until(lambda: len(receiver.accepted("/crm")) == 2, what="the other one")

        status, unknown = await center.api("admin", "POST", f"{BASE}/deliveries/whd-nope/replay")
        assert (status, unknown["error_id"]) == (404, "delivery-not-found")
        status, unknown = await center.api("admin", "POST", f"{BASE}/replay", {"subscriber": "nope"})
        assert (status, unknown["error_id"]) == (404, "subscriber-not-found")
        status, bad = await center.api("admin", "GET", f"{BASE}/deliveries?status=lost")
        assert (status, bad["error_id"]) == (400, "bad-status")
        status, audit = await center.api("admin", "GET", "/api/audit")
        assert status == 200, audit
        assert {"webhook-replay", "webhook-replay-all"} <= {a["action"] for a in audit}
