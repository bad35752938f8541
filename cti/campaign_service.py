"""The campaign service: campaigns entered, noticed and acknowledged, matched in screen pops.

- ``create``: a supervisor's or admin's campaign (the edge checks the role and the input), stored
  with its audit entry; its public FAQ becomes a knowledge article (``PublishesArticles``).
- ``notices``: what an agent sees in the desk's notices area, with their acknowledgement.
- ``readers``: who among the given agents has and has not acknowledged a campaign.
- ``pop``: the live campaigns an interaction's words match, for its screen pop; each match tags
  the interaction (a ``tagged`` log entry, written once whatever the number of pops).
- ``rematch``: the same for one new customer message on a live interaction; the matches ride on
  its ``message.added`` event to the agent's desk.

Campaigns are few and change rarely, but a screen pop is built on every offer: they are read at
most once every ``CACHE_SECONDS`` per node (and at once on the node that created one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cti.campaigns import (
    NOTICE_LEAD,
    Campaign,
    CampaignRecords,
    PublishesArticles,
    interaction_texts,
    matching,
    noticed,
    pop_view,
    slug_of,
    tag_entry,
)
from cti.clock import Clock, IdSource
from cti.domain import Interaction, Message, MessageSender
from cti.errors import Conflict, InvalidInput
from cti.eventlog import EventLogRecords

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class CampaignDraft:
    """What a supervisor enters, already checked for shape at the edge."""

    name: str
    starts_at: float
    ends_at: float
    channels: tuple[str, ...]
    summary: str
    public_faq: str
    internal_notes: str
    keywords: tuple[str, ...]
    notice_at: float | None = None  # default: NOTICE_LEAD before the start


class CampaignService:
    def __init__(self, *, records: CampaignRecords, articles: PublishesArticles, log_records: EventLogRecords,
                 clock: Clock, ids: IdSource) -> None:
        self._records = records
        self._articles = articles
        self._log = log_records
        self._clock = clock
        self._ids = ids
        self._cached: tuple[float, Sequence[Campaign]] | None = None

    async def create(self, draft: CampaignDraft, *, actor: str) -> Campaign:
        if draft.ends_at <= draft.starts_at:
            raise InvalidInput("bad-campaign-dates", "the end must be after the start")
        notice_at = draft.notice_at if draft.notice_at is not None else draft.starts_at - NOTICE_LEAD
        if notice_at > draft.starts_at:
            raise InvalidInput("bad-campaign-dates", "agents must be told no later than the start")
        slug = slug_of(draft.name)
        if not slug:
            raise InvalidInput("bad-campaign-name", "the name needs letters or digits")
        now = self._clock.now()
        campaign = Campaign(id=self._ids.new_id("cmp"), slug=slug, name=draft.name, starts_at=draft.starts_at,
                            ends_at=draft.ends_at, notice_at=notice_at, channels=draft.channels,
                            summary=draft.summary, public_faq=draft.public_faq,
                            internal_notes=draft.internal_notes, keywords=draft.keywords, created_by=actor,
                            created_at=now)
        await self._records.add(campaign, actor=actor)
        if campaign.public_faq.strip():
            # After the campaign is stored: a knowledge base that is down costs the article, which
            # the log names, not the campaign the agents must be told of.
            try:
                article_id = await self._articles.publish(
                    title=campaign.name, public=campaign.public_faq, internal=campaign.internal_notes,
                    tags=[campaign.tag], actor=actor)
            except Exception:
                log.exception("campaign %s: its FAQ could not be published as an article", campaign.id)
            else:
                await self._records.set_article(campaign.id, article_id)
                campaign = replace(campaign, article_id=article_id)
        self._cached = None
        log.info("campaign created id=%s slug=%s by=%s", campaign.id, campaign.slug, actor)
        return campaign

    async def campaigns(self) -> Sequence[Campaign]:
        now = self._clock.now()
        if self._cached is None or now - self._cached[0] >= CACHE_SECONDS:
            self._cached = (now, await self._records.all())
        return self._cached[1]

    async def notices(self, agent_id: str) -> list[dict[str, Any]]:
        """The campaigns shown to an agent now, oldest start first, with their acknowledgement."""
        now = self._clock.now()
        acks = await self._records.acknowledged_by(agent_id)
        shown = sorted((c for c in await self._records.all() if noticed(c, now)),
                       key=lambda c: (c.starts_at, c.id))
        return [{**pop_view(c), "acknowledged_at": acks.get(c.id)} for c in shown]

    async def acknowledge(self, campaign_id: str, agent_id: str) -> float:
        campaign = await self._records.get(campaign_id)
        now = self._clock.now()
        if now < campaign.notice_at:
            raise Conflict("campaign-not-noticed", "this campaign is not announced yet",
                           campaign_id=campaign_id)
        return await self._records.acknowledge(campaign_id, agent_id, at=now)

    async def readers(self, campaign_id: str, agents: Iterable[str]) -> dict[str, Any]:
        """Who of ``agents`` acknowledged the campaign (and when), and who has not."""
        campaign = await self._records.get(campaign_id)
        acks = await self._records.acknowledged(campaign_id)
        asked = sorted(set(agents))
        return {"campaign": pop_view(campaign),
                "acknowledged": {a: acks[a] for a in asked if a in acks},
                "not_acknowledged": [a for a in asked if a not in acks]}

    async def pop(self, interaction: Interaction, messages: Sequence[Message]) -> list[dict[str, Any]]:
        """The campaigns this interaction matches, each tagging it once."""
        now = self._clock.now()
        said = [m.body for m in messages if m.sender is MessageSender.CUSTOMER]
        found = matching(await self.campaigns(), interaction_texts(interaction, said),
                         channel=interaction.channel.value, now=now)
        if found:
            try:
                await self._log.record([tag_entry(interaction, c, now=now) for c in found])
            except Exception:  # the pop must reach the agent even if the tag is not written
                log.exception("campaign tags of interaction=%s not written", interaction.id)
        return [pop_view(c) for c in found]

    async def rematch(self, interaction: Interaction, body: str) -> list[dict[str, Any]]:
        """The live campaigns one new customer message names, each tagging the interaction (once:
        the entry's key is the tag): a customer who names a campaign after the offer is matched
        too, not only at the screen pop."""
        now = self._clock.now()
        found = matching(await self.campaigns(), [body], channel=interaction.channel.value, now=now)
        if found:
            try:
                await self._log.record([tag_entry(interaction, c, now=now) for c in found])
            except Exception:  # the message must reach the agent even if the tag is not written
                log.exception("campaign tags of interaction=%s not written", interaction.id)
        return [pop_view(c) for c in found]
