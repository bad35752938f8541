"""Survey answers through the signed page, the widget's JSON post and the e-mail/SMS invitation,
on SQLite and PostgreSQL; hostile cases: a reused link, a tampered signature, an expired link,
a rating of 0, 6 or text, a survey before the interaction is completed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from adapters.channel import SendResult
from adapters.outbound import OutboundDispatcher
from cti.domain import Channel, Customer, Interaction, Message, MessageSender
from cti.eventlog import EntryKind
from cti.surveys import sign_link, survey_key
from tests.campaigns.center import T0, Center
from tests.waiting import until


async def completed(center: Center, channel: Channel = Channel.CHAT) -> tuple[str, str]:
    interaction_id = await center.arrive("ann", channel, body="hello")
    agent = await center.served(interaction_id)
    await center.interactions.complete(interaction_id, agent, disposition="resolved", note=None)
    return interaction_id, agent


async def post_form(center: Center, token: str, data: dict[str, str]) -> tuple[int, str]:
    response = await center.client.post(f"/survey/{token}", data=data)
    return response.status, await response.text()


async def survey_entries(center: Center, interaction_id: str) -> list[Any]:
    log = await center.context.event_log.of(interaction_id)
    return [e for e in log if e.kind is EntryKind.SURVEY_ANSWERED]


async def test_the_page_works_without_script_and_the_answer_is_logged_once(center: Center) -> None:
    interaction_id, agent = await completed(center)
    token = center.surveys.token(interaction_id)
    page = await center.client.get(f"/survey/{token}")
    html = await page.text()
    assert page.status == 200 and "<form method=\"post\"" in html and "<script" not in html
    assert html.count("type=\"radio\" name=\"rating\"") == 5

    status, thanks = await post_form(center, token, {"rating": "4", "comment": "quick & kind"})
    assert status == 200 and "Thank you" in thanks
    [entry] = await survey_entries(center, interaction_id)
    assert dict(entry.details) == {"rating": 4, "comment": "quick & kind", "agent": agent, "via": "link"}
    # Shown in the customer's timeline and the screen pop's history.
    pop = await center.interactions.screen_pop(await center.context.interaction(interaction_id))
    assert any(e["summary"].startswith("Survey answered: 4/5") for e in pop["timeline"])

    # The same link again: refused, nothing more written.
    status, again = await post_form(center, token, {"rating": "1"})
    assert status == 409 and "answered already" in again
    assert (await center.client.get(f"/survey/{token}")).status == 409
    # Another valid link to the same interaction cannot rate it twice either.
    center.at(5)
    status, _ = await post_form(center, center.surveys.token(interaction_id), {"rating": "1"})
    assert status == 409
    assert len(await survey_entries(center, interaction_id)) == 1


@pytest.mark.parametrize("rating", ["0", "6", "four", "", "4.5", "-1"])
async def test_ratings_outside_one_to_five_are_refused_and_the_link_still_works(center: Center,
                                                                               rating: str) -> None:
    interaction_id, _ = await completed(center)
    token = center.surveys.token(interaction_id)
    status, page = await post_form(center, token, {"rating": rating})
    assert status == 400 and "1 to 5" in page and "<form" in page  # asked again
    assert await survey_entries(center, interaction_id) == []
    assert (await post_form(center, token, {"rating": "5"}))[0] == 200


async def test_tampered_forged_and_expired_links_are_refused(center: Center) -> None:
    interaction_id, _ = await completed(center)
    other_id, _ = await completed(center)
    token = center.surveys.token(interaction_id)
    body, signature = token.rsplit(".", 1)
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    forged = sign_link(survey_key("someone else's secret, long enough"), interaction_id, expires_at=T0 + 999)
    for bad in (f"{body}.{flipped}", token.replace(interaction_id, other_id), forged, "nonsense"):
        status, page = await post_form(center, bad, {"rating": "5"})
        assert status == 403 and "not valid" in page, bad
        assert (await center.client.get(f"/survey/{bad}")).status == 403
    center.at(8 * 86_400)  # links work for 7 days
    status, page = await post_form(center, token, {"rating": "5"})
    assert status == 403 and "expired" in page
    assert await survey_entries(center, interaction_id) == [] and await survey_entries(center, other_id) == []


async def test_no_survey_before_the_interaction_is_completed(center: Center) -> None:
    interaction_id = await center.arrive("ann", body="hello")
    await center.served(interaction_id)
    status, body = await center.call("POST", None, f"/survey/{center.surveys.token(interaction_id)}",
                                     {"rating": 5})
    assert (status, body["error_id"]) == (409, "survey-not-open")


async def test_the_widget_posts_json_and_gets_json(center: Center) -> None:
    interaction_id, _ = await completed(center)
    token = center.surveys.token(interaction_id)
    assert await center.call("POST", None, f"/survey/{token}", {"rating": 0}) == (400, {
        "error_id": "bad-rating", "message": "the rating is a whole number from 1 to 5",
        "details": {"field": "rating"}})
    assert (await center.call("POST", None, f"/survey/{token}", {"rating": "great"}))[0] == 400
    assert await center.call("POST", None, f"/survey/{token}", {"rating": 5, "comment": None}) \
        == (200, {"rating": 5, "comment": None})
    assert (await center.call("POST", None, f"/survey/{token}", {"rating": 5}))[1]["error_id"] \
        == "survey-already-answered"
    [entry] = await survey_entries(center, interaction_id)
    assert entry.details["via"] == "widget"


@dataclass
class FakeEmail:
    channel: Channel = Channel.EMAIL
    sent: list[str] = field(default_factory=list)

    def mount(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        self.sent.append(message.body)
        return SendResult(message_ref=f"<{message.id}@example.com>", status="sent")


async def test_closing_an_email_sends_a_signed_link_through_the_outbound_dispatcher(center: Center) -> None:
    email = FakeEmail()
    dispatcher = OutboundDispatcher(adapters={Channel.EMAIL: email}, context=center.context, hub=center.hub,
                                    clock=center.clock)
    await dispatcher.start()
    center.surveys.start()
    try:
        interaction_id, agent = await completed(center, Channel.EMAIL)
        await until(lambda: bool(email.sent), timeout=5, what="the survey link sent")
        [text] = email.sent
        link = re.search(r"https://cc\.example\.com/survey/(\S+)", text)
        assert link is not None, text
        assert (await center.client.get(f"/survey/{link.group(1)}")).status == 200
        assert (await post_form(center, link.group(1), {"rating": "2"}))[0] == 200
        [entry] = await survey_entries(center, interaction_id)
        assert entry.details["agent"] == agent
        # A chat is asked in its widget, not by a link.
        chat_id, _ = await completed(center, Channel.CHAT)
        stored = await center.context.messages(chat_id)
        assert not [m for m in stored if m.sender is MessageSender.AGENT and "/survey/" in m.body]
    finally:
        await center.surveys.aclose()
        await dispatcher.aclose()
