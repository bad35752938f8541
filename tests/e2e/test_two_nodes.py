"""Two server processes sharing PostgreSQL and Redis behave as one contact center."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
import redis

from tests.e2e.conftest import login, only_available, visitor
from tests.server_process import RunningServer, run_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.integration]


@pytest.fixture
def nodes(tmp_path_factory: pytest.TempPathFactory, pg_schema: str, redis_url: str,
          unique_prefix: str) -> Iterator[tuple[RunningServer, RunningServer]]:
    with run_server(tmp_path_factory.mktemp("a"), db_url=pg_schema, redis_url=redis_url,
                    redis_prefix=unique_prefix) as a, \
         run_server(tmp_path_factory.mktemp("b"), db_url=pg_schema, redis_url=redis_url,
                    redis_prefix=unique_prefix) as b:
        yield a, b
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{unique_prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


async def test_visitor_on_one_node_agent_on_the_other(
        nodes: tuple[RunningServer, RunningServer], http: aiohttp.ClientSession) -> None:
    a, b = nodes
    await only_available(http, b, "alice")
    alice = await login(http, b, "alice")
    alice_ws = await alice.socket()

    chat, _ = await visitor(http, a, name="Otto", email="otto@example.net")
    await chat.send({"type": "message", "body": "Hello from node A"})
    offer = await alice_ws.expect("interaction.offered")
    assert offer["screen_pop"]["messages"][0]["body"] == "Hello from node A"
    interaction_id = offer["interaction_id"]

    # An agent on node A cannot steal it: the offer lives in the shared Redis store.
    bob = await login(http, a, "bob")
    status, body = await bob.call("POST", f"/api/interactions/{interaction_id}/accept")
    assert (status, body["error_id"]) == (409, "offer-not-yours")

    assert (await alice_ws.command({"type": "accept", "interaction_id": interaction_id}))["type"] == "ack"
    assert (await chat.expect("status"))["state"] == "queued"
    assert (await chat.expect("status"))["state"] == "agent_joined"
    await alice_ws.command({"type": "reply", "interaction_id": interaction_id, "body": "Hi from node B"})
    assert (await chat.expect(lambda m: m.get("sender") == "agent"))["body"] == "Hi from node B"
    await chat.send({"type": "message", "body": "Got it"})
    await alice_ws.expect(lambda m: m.get("type") == "message.added" and m["message"]["body"] == "Got it")
    done = await alice_ws.command({"type": "complete", "interaction_id": interaction_id,
                                   "disposition": "resolved"})
    assert done["result"]["state"] == "closed"
    assert (await chat.expect("status"))["state"] == "closed"
    await chat.close()
    await alice_ws.close()
