"""Which live campaigns an interaction's words name: a pure function on plain data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cti.campaigns import Campaign, interaction_texts, matching, noticed, slug_of, tag_entry
from cti.domain import Channel, Direction, Interaction, InteractionState
from cti.eventlog import EntryKind

T0 = 1_800_000_000.0
DAY = 86_400.0


def campaign(cid: str = "c1", *, keywords: tuple[str, ...] = ("black friday",),
             channels: tuple[str, ...] = (), start: float = T0, end: float = T0 + 7 * DAY) -> Campaign:
    return Campaign(id=cid, slug=slug_of(f"Sale {cid}"), name=f"Sale {cid}", starts_at=start, ends_at=end,
                    notice_at=start - DAY, channels=channels, summary="s", public_faq="faq",
                    internal_notes="internal", keywords=keywords, created_by="sup", created_at=T0 - 2 * DAY)


@pytest.mark.parametrize(("text", "hit"), [
    ("Is the BLACK FRIDAY discount on?", True),
    ("black-friday deals?", True),
    ("Black\nFriday", True),
    ("blackfriday", False),  # not the same words
    ("black thursday friday", False),  # words in sequence only
    ("", False),
])
def test_keywords_match_whole_words_in_sequence_whatever_the_case(text: str, hit: bool) -> None:
    assert bool(matching([campaign()], [text], channel="chat", now=T0 + 1)) is hit


def test_a_short_keyword_does_not_match_inside_a_longer_word() -> None:
    sale = campaign(keywords=("sale",))
    assert matching([sale], ["wholesale prices"], channel="email", now=T0) == []
    assert matching([sale], ["the sale."], channel="email", now=T0) == [sale]


def test_accents_do_not_matter() -> None:
    c = campaign(keywords=("cafe creme",))
    assert matching([c], ["un Café Crème svp"], channel="sms", now=T0) == [c]


def test_only_live_campaigns_on_their_channels_match() -> None:
    c = campaign(channels=("voice", "chat"))
    said = ["black friday"]
    assert matching([c], said, channel="email", now=T0 + 1) == []  # not its channel
    assert matching([c], said, channel="voice", now=T0 - 1) == []  # noticed, not started
    assert matching([c], said, channel="voice", now=T0 + 7 * DAY) == []  # ended
    assert matching([c], said, channel="voice", now=T0) == [c]


def test_several_matches_come_oldest_start_first() -> None:
    late, early = campaign("b", start=T0 + 10), campaign("a", start=T0)
    found = matching([late, early], ["black friday"], channel="chat", now=T0 + 20)
    assert [c.id for c in found] == ["a", "b"]


def test_notices_show_from_the_notice_time_until_the_end() -> None:
    c = campaign()
    assert not noticed(c, T0 - DAY - 1)
    assert noticed(c, T0 - DAY)
    assert noticed(c, T0 + 7 * DAY - 1)
    assert not noticed(c, T0 + 7 * DAY)


def test_subject_ivr_reason_and_messages_are_what_is_searched() -> None:
    call = Interaction(id="i1", channel=Channel.VOICE, direction=Direction.INBOUND, customer_id="c",
                       queue="support", state=InteractionState.OFFERED,
                       context={"ivr.reason": "Black Friday"})
    assert matching([campaign()], interaction_texts(call, []), channel="voice", now=T0) != []
    mail = replace(call, channel=Channel.EMAIL, context={}, subject="About black friday")
    assert matching([campaign()], interaction_texts(mail, []), channel="email", now=T0) != []
    chat = replace(call, channel=Channel.CHAT, context={})
    said = interaction_texts(chat, ["hi", "black friday?"])
    assert matching([campaign()], said, channel="chat", now=T0) != []
    assert matching([campaign()], interaction_texts(chat, ["hi"]), channel="chat", now=T0) == []


def test_the_tag_entry_is_written_once_per_tag() -> None:
    call = Interaction(id="i1", channel=Channel.VOICE, direction=Direction.INBOUND, customer_id="c",
                       queue="support", state=InteractionState.OFFERED, agent_id="alice")
    entry = tag_entry(call, campaign(), now=T0)
    assert entry.kind is EntryKind.TAGGED and entry.kind.value == "tagged"
    assert dict(entry.details) == {"tag": "campaign:sale-c1"}
    assert tag_entry(call, campaign(), now=T0 + 5).key == entry.key  # the same key: a no-op rewrite


def test_slugs_are_short_ascii() -> None:
    assert slug_of("Black Friday 2026!") == "black-friday-2026"
    assert slug_of("Été  chaud") == "ete-chaud"
    assert len(slug_of("x" * 200)) <= 40
