"""The real server process: a chat goes through, and /metrics and the JSON log show it.

An offer, an accept and a completion; a second offer left to time out and its visitor leaving
(an abandon). The scrape before, during and after must move by exactly those events, and the
log lines about them must carry the interaction, the agent, the node and the request id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import login, only_available, visitor
from tests.operations.scrape import Samples, scrape, value
from tests.server_process import RunningServer, run_server
from tests.waiting import until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def json_lines(srv: RunningServer) -> list[dict[str, Any]]:
    """Every log record; the CLI's own ``cti: …`` announcements are the only other lines."""
    records = []
    for line in srv.log().splitlines():
        if line.startswith("cti: ") or line.startswith("       "):  # the start banner (print)
            continue
        records.append(json.loads(line))  # a line that is not one JSON object fails here
    return records


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_a_chat_moves_the_figures_and_its_log_lines_name_it(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    before = await scrape(http, srv.url)
    alice = await login(http, srv, "alice")
    desk = await alice.socket()
    await only_available(http, srv, "alice")
    await desk.command({"type": "set_state", "state": "available"})

    chat, _ = await visitor(http, srv, name="Otto")
    await chat.send({"type": "message", "body": "Where is my parcel?"})
    offer = await desk.expect("interaction.offered")
    interaction_id = offer["interaction_id"]

    during = await scrape(http, srv.url)
    assert moved(before, during, "cti_offers_total", channel="chat") == 1
    assert moved(before, during, "cti_screen_pop_seconds_count") == 1
    assert value(during, "cti_interactions", channel="chat", state="offered") == 1
    assert value(during, "cti_sockets", kind="agent") == 1
    assert value(during, "cti_sockets", kind="visitor") == 1
    assert value(during, "cti_agents", state="available") >= 1
    assert moved(before, during, "cti_db_transaction_seconds_count", kind="write") > 0
    assert moved(before, during, "cti_routing_pass_seconds_count") > 0

    async with http.post(f"{srv.url}/api/interactions/{interaction_id}/accept",
                         headers={"Authorization": f"Bearer {alice.token}",
                                  "X-Request-Id": "probe-accept-1"}) as r:
        assert r.status == 200, await r.text()
        assert r.headers["X-Request-Id"] == "probe-accept-1"
    active = await scrape(http, srv.url)
    assert moved(before, active, "cti_accepts_total", channel="chat") == 1
    assert value(active, "cti_interactions", channel="chat", state="active") == 1

    done = await desk.command({"type": "complete", "interaction_id": interaction_id,
                               "disposition": "resolved"})
    assert done["result"]["state"] == "closed"
    await chat.close()

    # A second visitor: the offer is left to expire (offer_timeout 3 s), then the visitor leaves.
    await desk.command({"type": "set_state", "state": "available"})
    second, _ = await visitor(http, srv, name="Petra")
    await second.send({"type": "message", "body": "Hello?"})
    missed = (await desk.expect("interaction.offered"))["interaction_id"]

    async def timed_out() -> bool:
        return moved(before, await scrape(http, srv.url), "cti_offer_timeouts_total", channel="chat") == 1

    await until(timed_out, timeout=15, what="the offer to time out")
    await second.send({"type": "leave"})
    await second.close()

    async def abandoned() -> bool:
        return moved(before, await scrape(http, srv.url), "cti_abandons_total") == 1

    await until(abandoned, timeout=10, what="the abandon to be counted")
    await desk.close()
    after = await scrape(http, srv.url)
    assert value(after, "cti_interactions", channel="chat", state="active") == 0
    assert value(after, "cti_sockets", kind="visitor") == 0
    assert moved(before, after, "cti_offers_total", channel="chat") == 2
    assert moved(before, after, "cti_accepts_total", channel="chat") == 1

    records = json_lines(srv)
    accepted = [r for r in records if r["message"].startswith("accepted ")]
    assert accepted and accepted[-1]["interaction"] == interaction_id
    assert accepted[-1]["agent"] == "alice" and accepted[-1]["request_id"] == "probe-accept-1"
    assert accepted[-1]["node"] and accepted[-1]["level"] == "INFO"
    completed = [r for r in records if r["message"].startswith("completed ")]
    assert completed[-1]["interaction"] == interaction_id and completed[-1]["agent"] == "alice"
    assert completed[-1]["request_id"]  # the socket's own request: the upgrade
    visitors = [r for r in records if r["message"].startswith("visitor connected")]
    assert len(visitors) >= 2 and all(r["request_id"] for r in visitors)
    gone = [r for r in records if r["message"].startswith("abandoned ")]
    assert gone and gone[-1]["interaction"] == missed
    # The access log is off unless switched on.
    assert not any(r["logger"] == "cti.access" for r in records)


async def test_a_request_id_that_is_not_a_sane_token_is_replaced(
        srv: RunningServer, http: aiohttp.ClientSession) -> None:
    for sent in ("has space", "x" * 129, "semi;colon", ""):
        async with http.get(f"{srv.url}/healthz", headers={"X-Request-Id": sent}) as r:
            echoed = r.headers["X-Request-Id"]
            assert echoed != sent and len(echoed) == 32 and echoed.isalnum()
    async with http.get(f"{srv.url}/healthz") as r:
        assert len(r.headers["X-Request-Id"]) == 32  # generated when none is sent


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(tmp_path_factory.mktemp("access"), extra_args=("--access-log",)) as server:
        yield server


async def test_the_access_log_switch_writes_one_line_per_request_without_the_query(
        logged: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{logged.url}/healthz?token=do-not-log-me",
                        headers={"X-Request-Id": "probe-access-1"}) as r:
        assert r.status == 200
    async with http.get(f"{logged.url}/api/me", headers={"X-Request-Id": "probe-access-2"}) as r:
        assert r.status == 401

    def lines() -> list[dict[str, Any]]:
        return [r for r in json_lines(logged) if r["logger"] == "cti.access"
                and r.get("request_id", "").startswith("probe-access-")]

    found = await until(lambda: len(lines()) == 2 and lines(), what="two access lines")
    ok, refused = sorted(found, key=lambda r: r["request_id"])
    assert (ok["method"], ok["path"], ok["status"]) == ("GET", "/healthz", 200)
    assert (refused["path"], refused["status"]) == ("/api/me", 401)
    assert ok["client"] == "127.0.0.1" and ok["duration_ms"] >= 0
    assert "do-not-log-me" not in logged.log()
