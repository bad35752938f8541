"""A customer's history grouped by conversation (pure)."""

from __future__ import annotations

from cti.conversations import group, outcome
from cti.domain import Channel, Direction, Interaction, InteractionState
from cti.ports import TimelineEntry


def _interaction(iid: str, state: InteractionState, **kw: object) -> Interaction:
    return Interaction(id=iid, channel=Channel.CHAT, direction=Direction.INBOUND, customer_id="c1",
                       queue="support", state=state, **kw)  # type: ignore[arg-type]


def _entry(iid: str, at: float, kind: str = "message") -> TimelineEntry:
    return TimelineEntry(kind=kind, id=f"{iid}-{at}", at=at, interaction_id=iid, channel=Channel.CHAT,
                         customer_id="c1", summary=f"said at {at}", sender="customer")


def test_entries_group_by_conversation_in_the_order_each_first_appears() -> None:
    found = {"i2": _interaction("i2", InteractionState.ACTIVE),
             "i1": _interaction("i1", InteractionState.CLOSED, disposition="resolved")}
    groups = group([_entry("i2", 30), _entry("i1", 20), _entry("i2", 25), _entry("i1", 10)], found)
    assert [g["interaction_id"] for g in groups] == ["i2", "i1"]
    assert [e["at"] for e in groups[0]["entries"]] == [30, 25]
    assert (groups[1]["outcome"], groups[1]["disposition"]) == ("closed", "resolved")
    assert groups[0]["outcome"] is None  # still open


def test_an_interaction_not_found_still_shows_its_entries() -> None:
    [only] = group([_entry("gone", 5)], {})
    assert only["state"] is None and only["entries"][0]["summary"] == "said at 5"


def test_outcomes() -> None:
    assert outcome(_interaction("a", InteractionState.ABANDONED)) == "abandoned"
    assert outcome(_interaction("b", InteractionState.CLOSED, customer_left=True)) == "customer-left"
    assert outcome(_interaction("c", InteractionState.WRAP_UP)) is None
