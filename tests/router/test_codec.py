"""The Redis store's records, read and written without Redis: what is written reads back equal,
and the shapes Lua's cjson writes back (an empty object as ``[]``, an empty list as ``{}``) read
as empty."""

from __future__ import annotations

import pytest

from cti.domain import AgentState, Channel
from cti.routing import RoutingReason
from router import codec
from router.errors import RoutingDataError
from tests.router.builders import NOW, item


def test_an_item_reads_back_equal_to_what_was_written() -> None:
    w = item("ïd \"1\"", Channel.EMAIL, waited=12.345678901234, target=14400.0, priority=2.5,
             skills={"billing": 3, "ünï": 1}, customer="c\\1", queue="sûpport", target_agent="a☎",
             excluded=["b", "a"], now=NOW + 0.1)
    assert codec.item_from(codec.item_json(w)) == w
    assert codec.item_from(codec.item_json(w).encode()) == w


def test_the_empty_shapes_cjson_writes_back_read_as_empty() -> None:
    raw = ('{"id":"i1","channel":"chat","queue":"q","customer":"c","enqueued_at":"1.5",'
           '"service_target":"60.0","priority":"1.0","skills":[],"target_agent":null,"excluded":{}}')
    w = codec.item_from(raw)
    assert w.skills == {} and w.excluded_agents == frozenset() and w.working_agent is None
    agent = codec.agent_from("a1", '{"state":"available","reason":null,"skills":[],"capacity":{"chat":2},'
                                   '"load":[],"idle_since":"1800000000.25","wraps":0}')
    assert agent.state is AgentState.AVAILABLE and agent.skills == {}
    assert agent.load == {Channel.CHAT: 0} and agent.idle_since == 1_800_000_000.25


def test_a_reason_reads_back_equal() -> None:
    reason = RoutingReason(rule="best-skill", urgency=0.123456789, skill_match={"billing": 7},
                           preferred=True, waited=45.5)
    assert codec.reason_from(codec.reason_json(reason)) == reason


@pytest.mark.parametrize("raw", ["", "{", "[]", '{"agent":"a1"}', '{"agent":"a1","at":"yesterday"}',
                                 '{"agent":1,"at":"1.0"}'])
def test_an_unreadable_record_is_a_typed_error(raw: str) -> None:
    with pytest.raises(RoutingDataError) as raised:
        codec.last_from(raw)
    assert raised.value.error_id == "routing-record-unreadable"
    assert raised.value.details["record"] == "last-served"
