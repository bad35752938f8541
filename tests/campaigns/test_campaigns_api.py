"""Campaign notices through the REST API and the screen pop, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from cti.domain import Channel
from cti.eventlog import EntryKind
from cti.events import MessageAdded
from tests.campaigns.center import T0, Center

DAY = 86_400.0
BODY: dict[str, Any] = {
    "name": "Black Friday 2026", "starts_at": T0 + 2 * DAY, "ends_at": T0 + 9 * DAY,
    "channels": ["chat", "voice", "email"], "summary": "30% off every plan",
    "public_faq": "Q: Does it apply to renewals? A: Yes.", "internal_notes": "Approve refunds up to 50 EUR",
    "keywords": ["black friday", "discount code"],
}


async def test_a_supervisor_enters_a_campaign_audited_and_its_faq_becomes_an_article(center: Center) -> None:
    status, made = await center.call("POST", "sam", "/api/campaigns", BODY)
    assert status == 201, made
    assert made["slug"] == "black-friday-2026" and made["tag"] == "campaign:black-friday-2026"
    assert made["notice_at"] == T0 + DAY  # 24 h before the start unless told
    article = center.articles.articles[made["article_id"]]
    assert article["public"] == BODY["public_faq"] and article["tags"] == ["campaign:black-friday-2026"]
    audit = await center.context.audit_log(target=made["id"])
    assert [(a.actor, a.action) for a in audit] == [("sam", "campaign.create")]
    status, again = await center.call("POST", "admin", "/api/campaigns", BODY)
    assert (status, again["error_id"]) == (409, "campaign-exists")


async def test_agents_cannot_enter_campaigns(center: Center) -> None:
    status, body = await center.call("POST", "alice", "/api/campaigns", BODY)
    assert (status, body["error_id"]) == (403, "wrong-role")
    assert (await center.call("GET", "alice", "/api/campaigns"))[0] == 403
    assert (await center.call("POST", None, "/api/campaigns", BODY))[0] == 401


@pytest.mark.parametrize(("change", "problem"), [
    ({"ends_at": T0}, "ends_at"),
    ({"notice_at": T0 + 3 * DAY}, "notice_at"),
    ({"keywords": []}, "keywords"),
    ({"channels": ["fax"]}, "channels"),
    ({"name": "two\nlines"}, "name"),
    ({"surprise": 1}, "surprise"),
    ({"summary": ""}, "summary"),
])
async def test_bad_campaigns_are_refused_naming_the_field(center: Center, change: dict[str, Any],
                                                          problem: str) -> None:
    status, body = await center.call("POST", "sam", "/api/campaigns", {**BODY, **change})
    assert (status, body["error_id"]) == (400, "bad-body")
    assert any(problem in p for p in body["details"]["problems"]), body


async def test_agents_see_notices_from_the_notice_time_and_acknowledge_them(center: Center) -> None:
    _, made = await center.call("POST", "sam", "/api/campaigns", BODY)
    center.at(DAY - 1)
    assert (await center.call("GET", "alice", "/api/campaigns/notices"))[1]["notices"] == []
    status, refused = await center.call("POST", "alice", f"/api/campaigns/{made['id']}/acknowledge")
    assert (status, refused["error_id"]) == (409, "campaign-not-noticed")
    center.at(DAY)
    notices = (await center.call("GET", "alice", "/api/campaigns/notices"))[1]["notices"]
    assert [(n["name"], n["acknowledged_at"]) for n in notices] == [("Black Friday 2026", None)]
    assert notices[0]["internal_notes"] == BODY["internal_notes"]  # staff see the internal part

    status, ack = await center.call("POST", "alice", f"/api/campaigns/{made['id']}/acknowledge")
    assert (status, ack["acknowledged_at"]) == (200, T0 + DAY)
    center.at(DAY + 50)
    await center.call("POST", "alice", f"/api/campaigns/{made['id']}/acknowledge")  # the first time stays
    notices = (await center.call("GET", "alice", "/api/campaigns/notices"))[1]["notices"]
    assert notices[0]["acknowledged_at"] == T0 + DAY

    # The supervisor sees who of their teams has not read it; another team's stays out of sight.
    status, readers = await center.call("GET", "sam", f"/api/campaigns/{made['id']}/readers")
    assert status == 200
    assert readers["acknowledged"] == {"alice": T0 + DAY}
    assert readers["not_acknowledged"] == ["bob"]
    _, theirs = await center.call("GET", "sue", f"/api/campaigns/{made['id']}/readers")
    assert (theirs["acknowledged"], theirs["not_acknowledged"]) == ({}, ["carol"])
    _, everyone = await center.call("GET", "admin", f"/api/campaigns/{made['id']}/readers")
    assert "carol" in everyone["not_acknowledged"] and "alice" in everyone["acknowledged"]
    assert (await center.call("GET", "alice", f"/api/campaigns/{made['id']}/readers"))[0] == 403
    assert (await center.call("GET", "sam", "/api/campaigns/cmp-none/readers"))[0] == 404
    center.at(9 * DAY)  # ended: no longer shown
    assert (await center.call("GET", "alice", "/api/campaigns/notices"))[1]["notices"] == []


async def test_a_matching_interaction_pops_the_campaign_and_is_tagged_once(center: Center) -> None:
    await center.call("POST", "sam", "/api/campaigns", BODY)
    center.at(2 * DAY + 10)  # live
    chat = await center.arrive("ann", body="Hi, is the Black-Friday offer for renewals too?")
    other = await center.arrive("ben", body="my invoice is wrong")
    agent = await center.served(chat)
    pop = await center.interactions.screen_pop(await center.context.interaction(chat))
    assert [c["name"] for c in pop["campaigns"]] == ["Black Friday 2026"]
    assert pop["campaigns"][0]["internal_notes"] == BODY["internal_notes"]
    await center.interactions.screen_pop(await center.context.interaction(chat))  # popped again
    tags = [e for e in await center.context.event_log.of(chat) if e.kind is EntryKind.TAGGED]
    assert [dict(e.details) for e in tags] == [{"tag": "campaign:black-friday-2026"}]
    assert tags[0].agent_id == agent
    await center.served(other)
    assert (await center.interactions.screen_pop(await center.context.interaction(other)))["campaigns"] == []
    assert not [e for e in await center.context.event_log.of(other) if e.kind is EntryKind.TAGGED]


async def test_subject_and_ivr_reason_match_and_channels_are_respected(center: Center) -> None:
    await center.call("POST", "sam", "/api/campaigns", BODY)
    center.at(2 * DAY + 10)
    mail = await center.arrive("ann", Channel.EMAIL, subject="Discount code not working")
    call = await center.arrive("ben", Channel.VOICE, context={"ivr.reason": "black friday"})
    sms = await center.arrive("cid", Channel.SMS, body="black friday?")  # not a campaign channel
    for interaction_id, expected in ((mail, 1), (call, 1), (sms, 0)):
        pop = await center.interactions.screen_pop(await center.context.interaction(interaction_id))
        assert len(pop["campaigns"]) == expected, interaction_id


async def test_a_campaign_named_after_the_offer_tags_once_and_reaches_the_agents_desk(center: Center) -> None:
    await center.call("POST", "sam", "/api/campaigns", BODY)
    center.at(2 * DAY + 10)  # live
    chat = await center.arrive("ann", body="my invoice is wrong")
    agent = await center.served(chat)
    pop = await center.interactions.screen_pop(await center.context.interaction(chat))
    assert pop["campaigns"] == []
    events = center.hub.subscribe(maxsize=100).queue
    for said in ("Also, does the black friday discount apply?", "So, Black Friday for renewals?"):
        await center.interactions.customer_message(chat, said)
    added = [e for e in (events.get_nowait() for _ in range(events.qsize())) if isinstance(e, MessageAdded)]
    assert [e.agent_id for e in added] == [agent, agent]
    assert [[c["name"] for c in e.campaigns] for e in added] == [["Black Friday 2026"]] * 2
    assert added[0].campaigns[0]["internal_notes"] == BODY["internal_notes"]
    tags = [e for e in await center.context.event_log.of(chat) if e.kind is EntryKind.TAGGED]
    assert [dict(e.details) for e in tags] == [{"tag": "campaign:black-friday-2026"}]  # once
    await center.interactions.customer_message(chat, "thanks, nothing else")
    last = [e for e in (events.get_nowait() for _ in range(events.qsize())) if isinstance(e, MessageAdded)]
    assert [e.campaigns for e in last] == [[]]
