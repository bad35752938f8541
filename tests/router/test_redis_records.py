"""The Redis store's formats: script arguments as one MessagePack payload, records as JSON.

What goes in comes back unchanged through the scripts; what cannot be read (a garbled or
forged record, a payload that is not the scripts' format) fails the call with
``RoutingDataError`` and a stable id, never a KeyError or a Lua trace.
"""

from __future__ import annotations

import pytest
import redis.asyncio as redis_asyncio
from redis.exceptions import ResponseError

from cti.domain import AgentState, Channel
from cti.routing import Assignment, RoutingReason
from router import codec, redis_scripts
from router.errors import RoutingDataError
from router.redis_batch import ScriptBatcher
from router.redis_store import RedisRoutingStore
from tests.router.builders import NOW, item

pytestmark = pytest.mark.integration

REASON = RoutingReason(rule="best-skill", urgency=0.75, skill_match={"billing": 7}, preferred=True,
                       waited=45.0)
ECHO = redis_scripts.PRELUDE + "return ARGV"


@pytest.fixture
def store(client: redis_asyncio.Redis, unique_prefix: str) -> RedisRoutingStore:
    return RedisRoutingStore(redis=client, prefix=unique_prefix)


async def test_arguments_reach_the_script_as_they_were_given(client: redis_asyncio.Redis,
                                                             unique_prefix: str) -> None:
    batcher = ScriptBatcher(redis=client, keys=[f"{unique_prefix}:routing:"])
    given: list[str | int] = ["plain", "", "ünïcødé ☎ \"quoted\" \\", "nul\x00inside", "long" * 20000,
                              '{"a":[1]}', 0, 7, 1_800_000_000]
    reply = await batcher.run(ECHO, codec.args(*given))
    assert reply == [v.encode() if isinstance(v, str) else v for v in given]


async def test_records_come_back_unchanged_through_the_scripts(store: RedisRoutingStore) -> None:
    await store.register_agent("agënt ☎", skills={"billing": 7, "ünï": 1}, capacity={Channel.CHAT: 2},
                               now=NOW - 10.123456789)
    await store.set_agent_state("agënt ☎", AgentState.AVAILABLE, reason=None, now=NOW - 10.123456789)
    w = item("ïd \"1\"", customer="cüst\\omer", queue="sûpport", excluded=["x ☎"], now=NOW - 0.1)
    await store.enqueue(w)
    offer = await store.try_offer(Assignment(w.interaction_id, "agënt ☎", REASON), now=NOW, timeout=20.5)
    assert offer is not None
    assert offer == await store.offer_for(w.interaction_id)  # built from the reply = read back
    assert offer.reason == REASON and offer.channel is Channel.CHAT
    assert offer.offered_at == NOW and offer.expires_at == NOW + 20.5
    requeued = await store.reject(w.interaction_id, "agënt ☎", now=NOW)  # decoded and re-encoded in Lua
    assert requeued == item("ïd \"1\"", customer="cüst\\omer", queue="sûpport",
                            excluded=["x ☎", "agënt ☎"], now=NOW - 0.1)
    snapshot = await store.snapshot()
    assert snapshot.waiting == [requeued]
    assert [(a.agent_id, a.skills, a.idle_since) for a in snapshot.agents] == [
        ("agënt ☎", {"billing": 7, "ünï": 1}, NOW - 10.123456789)]


async def test_a_payload_not_in_the_scripts_format_is_refused_by_name(client: redis_asyncio.Redis,
                                                                      unique_prefix: str) -> None:
    batcher = ScriptBatcher(redis=client, keys=[f"{unique_prefix}:routing:"])
    for forged in (b"\xc1\xc1garbage", b"\xa5hello", b"", "i1"):
        with pytest.raises(ResponseError, match=r"^routing-arguments-unreadable"):
            await batcher.run(redis_scripts.TRY_OFFER, forged)
    assert await client.exists(f"{unique_prefix}:routing:log_seq") == 0  # nothing ran


@pytest.mark.parametrize("garbage", [b"not json", b"\xff\xfe", b"[1,2", b"42"])
async def test_a_garbled_record_fails_the_call_with_a_typed_error(
        store: RedisRoutingStore, client: redis_asyncio.Redis, unique_prefix: str, garbage: bytes) -> None:
    await store.register_agent("a1", skills={}, capacity={Channel.CHAT: 2}, now=NOW)
    await store.set_agent_state("a1", AgentState.AVAILABLE, reason=None, now=NOW)
    await store.enqueue(item("i1"))
    await client.hset(f"{unique_prefix}:routing:waiting", "i1", garbage)
    with pytest.raises(RoutingDataError) as in_lua:  # read by the offer script
        await store.try_offer(Assignment("i1", "a1", REASON), now=NOW, timeout=20)
    assert in_lua.value.error_id == "routing-record-unreadable"
    with pytest.raises(RoutingDataError) as in_python:  # read by the store
        await store.snapshot()
    assert in_python.value.error_id == "routing-record-unreadable"
    await client.hset(f"{unique_prefix}:routing:agents", "a1", garbage)
    with pytest.raises(RoutingDataError):
        await store.agent("a1")


@pytest.mark.parametrize("forged", [
    b'{"id": 5}',
    b'{"id":"i1","channel":"fax","queue":"q","customer":"c","enqueued_at":"1.0","service_target":"60.0",'
    b'"priority":"1.0","skills":{},"target_agent":null,"excluded":[]}',
    b'{"id":"i1","channel":"chat","queue":"q","customer":"c","enqueued_at":"soon","service_target":"60.0",'
    b'"priority":"1.0","skills":{},"target_agent":null,"excluded":[]}',
])
async def test_a_forged_item_is_refused_when_read(store: RedisRoutingStore, client: redis_asyncio.Redis,
                                                  unique_prefix: str, forged: bytes) -> None:
    await store.enqueue(item("i1"))
    await client.hset(f"{unique_prefix}:routing:waiting", "i1", forged)
    with pytest.raises(RoutingDataError) as raised:
        await store.remove("i1")
    assert raised.value.error_id == "routing-record-unreadable"
    assert raised.value.details["record"] == "item"
