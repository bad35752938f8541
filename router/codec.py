"""The routing state's records in Redis (JSON) and the scripts' arguments (MessagePack).

Records are JSON objects the Lua scripts decode and re-encode with cjson, which prints numbers
with 14 significant digits and would round epoch timestamps. So every float travels as a
string (``repr`` round-trips exactly) and the scripts only ever copy those strings; the only
numbers the scripts touch are small integers (skill levels, capacities, loads). cjson cannot
tell an empty object from an empty list, so either is read as empty.

A script's arguments go as one MessagePack array (``args``), which the script unpacks with
``cmsgpack``: one bulk string per call instead of five to ten, and a record passed along
(an item, a reason) needs no escaping. Redis's cmsgpack reads no MessagePack ``bin``, so
arguments are text (``str``) or integers, never ``bytes``.

Reading a record that is not what these shapes say (garbled, forged, from another program)
raises ``RoutingDataError``, never a ``KeyError`` from somewhere inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot, LastServed, Offer, RoutingReason, WaitingItem
from router.errors import RoutingDataError
from router.records import load_view

Raw = str | bytes
Arg = str | int

_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()


class _Item(msgspec.Struct):
    id: str
    channel: str
    queue: str
    customer: str
    enqueued_at: str
    service_target: str
    priority: str
    skills: dict[str, int] | list[Any]
    target_agent: str | None
    excluded: list[str] | dict[str, Any]
    working: str | None = None
    also: dict[str, dict[str, int] | list[Any]] | list[Any] = {}  # (an empty Lua table comes back as [])


class _Agent(msgspec.Struct):
    state: str
    reason: str | None
    skills: dict[str, int] | list[Any]
    capacity: dict[str, int] | list[Any]
    load: dict[str, int] | list[Any]
    idle_since: str
    wraps: int


class _Wraps(msgspec.Struct):
    wraps: int


class _Reason(msgspec.Struct):
    rule: str
    urgency: float
    skill_match: dict[str, int] | list[Any]
    preferred: bool
    waited: float


class _Offer(msgspec.Struct):
    agent: str
    channel: str
    item: str
    offered_at: str
    expires_at: str
    reason: str


class _Last(msgspec.Struct):
    agent: str
    at: str


_item = msgspec.json.Decoder(_Item)
_agent = msgspec.json.Decoder(_Agent)
_wraps = msgspec.json.Decoder(_Wraps)
_reason = msgspec.json.Decoder(_Reason)
_offer = msgspec.json.Decoder(_Offer)
_last = msgspec.json.Decoder(_Last)
_args = msgspec.msgpack.Decoder(list[Any])


def num(value: float) -> str:
    """A float as the exact string the scripts store and compare."""
    return repr(float(value))


def text(value: Raw) -> str:
    return value.decode() if isinstance(value, bytes) else value


def args(*values: Arg) -> bytes:
    """A script's arguments as the one payload it unpacks (``ARGV`` in the scripts)."""
    return _msgpack.encode(values)


def _unreadable(what: str, why: str) -> RoutingDataError:
    return RoutingDataError("routing-record-unreadable", f"unreadable {what} record in Redis",
                            record=what, why=why)


def _read(decoder: msgspec.json.Decoder[Any], raw: Raw, what: str) -> Any:
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise _unreadable(what, str(exc)) from exc


def _mapping(data: Mapping[str, int] | list[Any]) -> dict[str, int]:
    return dict(data) if isinstance(data, Mapping) else {}


def _channels(data: Mapping[str, int] | list[Any], what: str) -> dict[Channel, int]:
    return {_channel(k, what): v for k, v in _mapping(data).items()}


def _channel(value: str, what: str) -> Channel:
    try:
        return Channel(value)
    except ValueError as exc:
        raise _unreadable(what, f"unknown channel {value!r}") from exc


def channel(raw: Raw) -> Channel:
    """A channel name as a script replies it."""
    return _channel(text(raw), "offer")


def _float(value: str, what: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise _unreadable(what, f"not a number: {value!r}") from exc


def item_json(item: WaitingItem) -> str:
    return _json.encode({
        "id": item.interaction_id, "channel": item.channel.value, "queue": item.queue,
        "customer": item.customer_id, "enqueued_at": num(item.enqueued_at),
        "service_target": num(item.service_target), "priority": num(item.priority),
        "skills": {k: int(v) for k, v in item.skills.items()}, "target_agent": item.target_agent,
        "excluded": sorted(item.excluded_agents), "working": item.working_agent,
        "also": {q: {k: int(v) for k, v in skills.items()} for q, skills in item.also.items()},
    }).decode()


def item_from(raw: Raw) -> WaitingItem:
    d: _Item = _read(_item, raw, "item")
    return WaitingItem(
        interaction_id=d.id, channel=_channel(d.channel, "item"), queue=d.queue, customer_id=d.customer,
        enqueued_at=_float(d.enqueued_at, "item"), service_target=_float(d.service_target, "item"),
        priority=_float(d.priority, "item"), skills=_mapping(d.skills), target_agent=d.target_agent,
        excluded_agents=frozenset(d.excluded if isinstance(d.excluded, list) else ()),
        working_agent=d.working,
        also={q: _mapping(skills) for q, skills in d.also.items()} if isinstance(d.also, dict) else {})


def skills_json(skills: Mapping[str, int]) -> str:
    return _json.encode({k: int(v) for k, v in skills.items()}).decode()


def capacity_json(capacity: Mapping[Channel, int]) -> str:
    return _json.encode({Channel(k).value: int(v) for k, v in capacity.items()}).decode()


def agent_from(agent_id: str, raw: Raw) -> AgentSnapshot:
    d: _Agent = _read(_agent, raw, "agent")
    try:
        state = AgentState(d.state)
    except ValueError as exc:
        raise _unreadable("agent", f"unknown state {d.state!r}") from exc
    capacity = _channels(d.capacity, "agent")
    return AgentSnapshot(
        agent_id=agent_id, state=state, skills=_mapping(d.skills), capacity=capacity,
        load=load_view(capacity, _channels(d.load, "agent")), idle_since=_float(d.idle_since, "agent"),
        reason=d.reason)


def wrapping(raw: Raw) -> int:
    d: _Wraps = _read(_wraps, raw, "agent")
    return d.wraps


def reason_json(reason: RoutingReason) -> str:
    return _json.encode({
        "rule": reason.rule, "urgency": reason.urgency, "skill_match": dict(reason.skill_match),
        "preferred": reason.preferred, "waited": reason.waited,
    }).decode()


def reason_from(raw: Raw) -> RoutingReason:
    d: _Reason = _read(_reason, raw, "reason")
    return RoutingReason(rule=d.rule, urgency=d.urgency, skill_match=_mapping(d.skill_match),
                         preferred=d.preferred, waited=d.waited)


def offer_from(interaction_id: str, raw: Raw) -> Offer:
    d: _Offer = _read(_offer, raw, "offer")
    return Offer(
        interaction_id=interaction_id, agent_id=d.agent, channel=_channel(d.channel, "offer"),
        offered_at=_float(d.offered_at, "offer"), expires_at=_float(d.expires_at, "offer"),
        reason=reason_from(d.reason))


def offered_item(raw: Raw) -> WaitingItem:
    """The waiting item kept inside an offer record."""
    d: _Offer = _read(_offer, raw, "offer")
    return item_from(d.item)


def last_from(raw: Raw) -> LastServed:
    d: _Last = _read(_last, raw, "last-served")
    return LastServed(agent_id=d.agent, at=_float(d.at, "last-served"))
