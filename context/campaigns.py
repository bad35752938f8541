"""Campaign notices and their acknowledgements in the database (``cti.campaigns.CampaignRecords``).

A campaign is written with its audit entry in one transaction. Acknowledgements are one row per
(campaign, agent): acknowledging twice keeps the first time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from context.audit import write_audit
from context.db import Conn, Database
from context.models import campaign_acks, campaigns
from cti.campaigns import Campaign
from cti.clock import Clock, IdSource
from cti.errors import Conflict, NotFound

_C = campaigns.c
_A = campaign_acks.c
MAX_CAMPAIGNS = 1000  # campaigns read at once: the newest by end


def _campaign(row: Any) -> Campaign:
    return Campaign(id=row.id, slug=row.slug, name=row.name, starts_at=row.starts_at, ends_at=row.ends_at,
                    notice_at=row.notice_at, channels=tuple(row.channels or ()), summary=row.summary,
                    public_faq=row.public_faq, internal_notes=row.internal_notes,
                    keywords=tuple(row.keywords or ()), created_by=row.created_by, created_at=row.created_at,
                    article_id=row.article_id)


class SqlCampaigns:
    def __init__(self, *, db: Database, clock: Clock, ids: IdSource) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids

    async def add(self, campaign: Campaign, *, actor: str) -> Campaign:
        async def work(conn: Conn) -> None:
            try:
                await conn.execute(insert(campaigns).values(
                    id=campaign.id, slug=campaign.slug, name=campaign.name, starts_at=campaign.starts_at,
                    ends_at=campaign.ends_at, notice_at=campaign.notice_at, channels=list(campaign.channels),
                    summary=campaign.summary, public_faq=campaign.public_faq,
                    internal_notes=campaign.internal_notes, keywords=list(campaign.keywords),
                    created_by=campaign.created_by, created_at=campaign.created_at,
                    article_id=campaign.article_id))
            except IntegrityError as exc:
                raise Conflict("campaign-exists", "a campaign of that name exists",
                               slug=campaign.slug) from exc
            await write_audit(conn, clock=self._clock, ids=self._ids, actor=actor, action="campaign.create",
                              target=campaign.id, details={"name": campaign.name, "slug": campaign.slug})

        await self._db.write(work)
        return campaign

    async def all(self) -> Sequence[Campaign]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(campaigns).order_by(_C.ends_at.desc(), _C.id)
                                       .limit(MAX_CAMPAIGNS))).all()
        return [_campaign(r) for r in rows]

    async def get(self, campaign_id: str) -> Campaign:
        async with self._db.read() as conn:
            row = (await conn.execute(select(campaigns).where(_C.id == campaign_id))).first()
        if row is None:
            raise NotFound("campaign-not-found", "no such campaign", campaign_id=campaign_id[:100])
        return _campaign(row)

    async def set_article(self, campaign_id: str, article_id: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(update(campaigns).where(_C.id == campaign_id).values(article_id=article_id))

        await self._db.write(work)

    async def acknowledge(self, campaign_id: str, agent_id: str, *, at: float) -> float:
        """When the agent acknowledged it (the first time, if this is a repeat)."""
        async def work(conn: Conn) -> float:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            try:
                await conn.execute(dialect.insert(campaign_acks).values(
                    campaign_id=campaign_id, agent_id=agent_id, at=at).on_conflict_do_nothing())
            except IntegrityError as exc:  # the foreign key
                raise NotFound("campaign-not-found", "no such campaign",
                               campaign_id=campaign_id[:100]) from exc
            first = (await conn.execute(select(_A.at).where(_A.campaign_id == campaign_id,
                                                            _A.agent_id == agent_id))).scalar_one()
            return float(first)

        return await self._db.write(work)

    async def acknowledged(self, campaign_id: str) -> Mapping[str, float]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(_A.agent_id, _A.at).where(_A.campaign_id == campaign_id))).all()
        return {r.agent_id: r.at for r in rows}

    async def acknowledged_by(self, agent_id: str) -> Mapping[str, float]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(_A.campaign_id, _A.at).where(_A.agent_id == agent_id))).all()
        return {r.campaign_id: r.at for r in rows}
