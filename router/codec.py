"""JSON shapes of the routing state in Redis.

The Lua scripts decode and re-encode these records, and Lua's cjson prints numbers with 14
significant digits, which would round epoch timestamps. So every float travels as a string
(``repr`` round-trips exactly) and the scripts only ever copy those strings; the only numbers
the scripts touch are small integers (skill levels, capacities, loads).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cti.domain import AgentState, Channel
from cti.routing import AgentSnapshot, LastServed, Offer, RoutingReason, WaitingItem
from router.records import load_view

Raw = str | bytes


def num(value: float) -> str:
    """A float as the exact string the scripts store and compare."""
    return repr(float(value))


def text(value: Raw) -> str:
    return value.decode() if isinstance(value, bytes) else value


def item_json(item: WaitingItem) -> str:
    return json.dumps({
        "id": item.interaction_id, "channel": item.channel.value, "queue": item.queue,
        "customer": item.customer_id, "enqueued_at": num(item.enqueued_at),
        "service_target": num(item.service_target), "priority": num(item.priority),
        "skills": {k: int(v) for k, v in item.skills.items()}, "target_agent": item.target_agent,
        "excluded": sorted(item.excluded_agents), "working": item.working_agent,
    }, separators=(",", ":"))


def item_from(raw: Raw) -> WaitingItem:
    data = json.loads(raw)
    # cjson writes an empty list back as {}: either way it is "nobody excluded".
    excluded = data["excluded"] or []
    return WaitingItem(
        interaction_id=data["id"], channel=Channel(data["channel"]), queue=data["queue"],
        customer_id=data["customer"], enqueued_at=float(data["enqueued_at"]),
        service_target=float(data["service_target"]), priority=float(data["priority"]),
        skills=dict(data["skills"] or {}), target_agent=data["target_agent"],
        excluded_agents=frozenset(excluded), working_agent=data.get("working"))


def skills_json(skills: Mapping[str, int]) -> str:
    return json.dumps({k: int(v) for k, v in skills.items()}, separators=(",", ":"))


def capacity_json(capacity: Mapping[Channel, int]) -> str:
    return json.dumps({Channel(k).value: int(v) for k, v in capacity.items()}, separators=(",", ":"))


def _channels(data: Mapping[str, Any] | list[Any]) -> dict[Channel, int]:
    if not isinstance(data, Mapping):  # cjson cannot tell an empty object from an empty list
        return {}
    return {Channel(k): int(v) for k, v in data.items()}


def agent_from(agent_id: str, raw: Raw) -> AgentSnapshot:
    data = json.loads(raw)
    capacity = _channels(data["capacity"])
    return AgentSnapshot(
        agent_id=agent_id, state=AgentState(data["state"]), skills=dict(data["skills"] or {}),
        capacity=capacity, load=load_view(capacity, _channels(data["load"])),
        idle_since=float(data["idle_since"]), reason=data["reason"])


def wrapping(raw: Raw) -> int:
    return int(json.loads(raw)["wraps"])


def reason_json(reason: RoutingReason) -> str:
    return json.dumps({
        "rule": reason.rule, "urgency": reason.urgency, "skill_match": dict(reason.skill_match),
        "preferred": reason.preferred, "waited": reason.waited,
    }, separators=(",", ":"))


def offer_from(interaction_id: str, raw: Raw) -> Offer:
    data = json.loads(raw)
    reason = json.loads(data["reason"])
    return Offer(
        interaction_id=interaction_id, agent_id=data["agent"], channel=Channel(data["channel"]),
        offered_at=float(data["offered_at"]), expires_at=float(data["expires_at"]),
        reason=RoutingReason(rule=reason["rule"], urgency=float(reason["urgency"]),
                             skill_match=dict(reason["skill_match"] or {}),
                             preferred=bool(reason["preferred"]), waited=float(reason["waited"])))


def offered_item(raw: Raw) -> WaitingItem:
    """The waiting item kept inside an offer record."""
    return item_from(json.loads(raw)["item"])


def last_from(raw: Raw) -> LastServed:
    data = json.loads(raw)
    return LastServed(agent_id=data["agent"], at=float(data["at"]))
