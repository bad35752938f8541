"""The entries of call steps that change no interaction row, as the recorder makes them."""

from __future__ import annotations

import pytest

from cti.eventlog import EntryKind, QueuedWhy, queued_why
from cti.eventlog_recorder import entry_for
from cti.events import CallUpdated

T0 = 1_800_000_000.0


def test_holds_and_consults_are_kept_with_a_key_made_from_the_event() -> None:
    held = CallUpdated(at=T0 + 1.25, interaction_id="int-1", agent_id="alice", what="held",
                       details={"by": "x"})
    entry = entry_for(held, channel="voice", queue="support")
    assert entry is not None
    assert (entry.kind, entry.at, entry.agent_id, entry.queue, dict(entry.details)) \
        == (EntryKind.HELD, T0 + 1.25, "alice", "support", {})
    # The same event handled again gives the same key (written once), another instant another.
    assert entry_for(held, channel="voice", queue="support") == entry
    again = entry_for(CallUpdated(at=T0 + 2, interaction_id="int-1", agent_id="alice", what="held"),
                      channel="voice", queue="support")
    assert again is not None and again.key != entry.key
    consult = entry_for(CallUpdated(at=T0, interaction_id="int-1", agent_id="alice", what="consult-started",
                                    details={"to_agent": "bob"}), channel="voice", queue="support")
    assert consult is not None and consult.kind is EntryKind.CONSULTED
    assert dict(consult.details) == {"to_agent": "bob"}


@pytest.mark.parametrize("what", ["ringing-agent", "recording-started", "fallback", "consult-cancelled"])
def test_other_call_steps_are_not_kept(what: str) -> None:
    assert entry_for(CallUpdated(at=T0, interaction_id="i", agent_id="a", what=what), channel="voice",
                     queue="q") is None


@pytest.mark.parametrize(("why", "expected"), [
    ("timeout", QueuedWhy.MISSED_OFFER), ("no-answer", QueuedWhy.MISSED_OFFER),
    ("rejected", QueuedWhy.REQUEUE), (None, QueuedWhy.REQUEUE),
])
def test_a_requeue_says_whether_the_offer_was_missed(why: str | None, expected: QueuedWhy) -> None:
    assert queued_why(why) is expected
