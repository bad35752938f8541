"""Survey links: signed, bound to one interaction, expiring; ratings 1..5 only (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from cti.domain import Channel, Direction, Interaction, InteractionState
from cti.errors import Forbidden, InvalidInput
from cti.eventlog import EntryKind, LogEntry
from cti.surveys import answer_entry, check_comment, check_rating, open_link, sign_link, survey_key

T0 = 1_800_000_000.0
KEY = survey_key("a token secret of enough bytes")


def test_a_link_opens_to_its_interaction_until_it_expires() -> None:
    token = sign_link(KEY, "int-1", expires_at=T0 + 100)
    assert open_link(KEY, token, now=T0) == "int-1"
    with pytest.raises(Forbidden) as expired:
        open_link(KEY, token, now=T0 + 100)
    assert expired.value.error_id == "survey-link-expired"


@pytest.mark.parametrize("tamper", [
    lambda t: t.replace("int-1", "int-2"),  # moved to another interaction
    lambda t: t.replace(f"{int(T0 + 100)}", f"{int(T0 + 10**6)}"),  # expiry pushed back
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
    lambda t: t.rsplit(".", 1)[0],  # signature cut off
    lambda t: "garbage",
])
def test_a_tampered_or_forged_link_is_refused(tamper: Any) -> None:
    token = sign_link(KEY, "int-1", expires_at=T0 + 100)
    with pytest.raises(Forbidden) as refused:
        open_link(KEY, tamper(token), now=T0)
    assert refused.value.error_id == "survey-link-invalid"


def test_a_link_signed_with_another_key_is_refused() -> None:
    token = sign_link(survey_key("another secret, also long enough"), "int-1", expires_at=T0 + 100)
    with pytest.raises(Forbidden):
        open_link(KEY, token, now=T0)


@pytest.mark.parametrize("rating", [0, 6, -1, "0", "6", "four", "", None, 4.5, True, [4]])
def test_ratings_outside_one_to_five_or_not_whole_numbers_are_refused(rating: Any) -> None:
    with pytest.raises(InvalidInput) as bad:
        check_rating(rating)
    assert bad.value.error_id == "bad-rating"


@pytest.mark.parametrize(("rating", "expected"), [(1, 1), (5, 5), ("3", 3), (" 4 ", 4)])
def test_good_ratings(rating: Any, expected: int) -> None:
    assert check_rating(rating) == expected


def test_comments_are_optional_bounded_text() -> None:
    assert check_comment("") is None
    assert check_comment(None) is None
    assert check_comment(" fine\nthanks ") == "fine\nthanks"
    for bad in ("x" * 1001, 5, "bell\x07"):
        with pytest.raises(InvalidInput):
            check_comment(bad)


def test_the_answer_names_the_agent_of_the_last_segment() -> None:
    interaction = Interaction(id="i", channel=Channel.CHAT, direction=Direction.INBOUND, customer_id="c",
                              queue="q", state=InteractionState.CLOSED, agent_id="bob")
    log = [LogEntry("i", EntryKind.ACCEPTED, T0, "chat", "q", "alice"),
           LogEntry("i", EntryKind.TRANSFERRED, T0 + 1, "chat", "q", "alice"),
           LogEntry("i", EntryKind.ACCEPTED, T0 + 2, "chat", "q2", "bob")]
    entry = answer_entry(interaction, log, rating=4, comment=None, now=T0 + 9, via="widget")
    assert entry.kind is EntryKind.SURVEY_ANSWERED
    assert entry.details["rating"] == 4 and entry.details["comment"] is None
    assert entry.details["agent"] == "bob" and entry.agent_id == "bob"
    assert entry.key == "survey"
