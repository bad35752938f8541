"""Campaign notices: what marketing is about to announce, told to agents before customers call.

Pure parts (no I/O, no clock): when a campaign is shown to agents (``noticed``), when it is live
(``live``), which live campaigns an interaction's words match (``matching``), and the event-log
entry that tags an interaction with a campaign (``tag_entry``). The service below them reads
and writes through two small ports: the campaign records and the knowledge articles.

Matching is on whole words, case- and accent-insensitive (``casefold`` plus NFKD without marks):
the keyword "black friday" matches "Black-Friday deals?" but "sale" does not match "wholesale".
A keyword of several words matches them in sequence. Only live campaigns match (start ≤ now <
end), and only on the campaign's channels (none listed: every channel).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cti.domain import Interaction, Message
from cti.eventlog import EntryKind, LogEntry

NOTICE_LEAD = 86_400.0  # seconds before the start that agents see a campaign, unless told
TAG_PREFIX = "campaign:"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    slug: str
    name: str
    starts_at: float
    ends_at: float
    notice_at: float
    channels: tuple[str, ...]
    summary: str
    public_faq: str
    internal_notes: str
    keywords: tuple[str, ...]
    created_by: str
    created_at: float
    article_id: str | None = None

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}{self.slug}"


def slug_of(name: str) -> str:
    """A short, stable, ASCII name for tags and URLs: "Black Friday 2026!" -> "black-friday-2026"."""
    words = _WORD.findall(_fold(name))
    ascii_words = [w.encode("ascii", "ignore").decode() for w in words]
    return "-".join(w for w in ascii_words if w)[:40].strip("-")


def noticed(campaign: Campaign, now: float) -> bool:
    """Shown to agents: from its notice time until it ends."""
    return campaign.notice_at <= now < campaign.ends_at


def live(campaign: Campaign, now: float) -> bool:
    return campaign.starts_at <= now < campaign.ends_at


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words_of(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(_fold(text)))


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    if n == 0:
        return False
    return any(tuple(haystack[i:i + n]) == tuple(needle) for i in range(len(haystack) - n + 1))


def matching(campaigns: Iterable[Campaign], texts: Iterable[str], *, channel: str,
             now: float) -> list[Campaign]:
    """The live campaigns on ``channel`` one of whose keywords is in one of ``texts``, in start
    order (the oldest first: the one customers have heard of longest)."""
    said = [words_of(t) for t in texts if t]
    found = []
    for c in campaigns:
        if not live(c, now) or (c.channels and channel not in c.channels):
            continue
        if any(_contains(words, words_of(k)) for k in c.keywords for words in said):
            found.append(c)
    return sorted(found, key=lambda c: (c.starts_at, c.id))


def interaction_texts(interaction: Interaction, messages: Iterable[str]) -> list[str]:
    """What a customer said that can name a campaign: the subject, the IVR reason, the messages."""
    texts = [interaction.subject or "", interaction.context.get("ivr.reason", "")]
    return [*texts, *messages]


def tag_entry(interaction: Interaction, campaign: Campaign, *, now: float) -> LogEntry:
    """The ``tagged`` entry; its key is the tag, so tagging twice writes once."""
    return LogEntry(interaction_id=interaction.id, kind=EntryKind.TAGGED, at=now,
                    channel=interaction.channel.value, queue=interaction.queue,
                    agent_id=interaction.agent_id, details={"tag": campaign.tag},
                    key=f"tag.{campaign.tag}"[:64])


def pop_view(campaign: Campaign) -> dict[str, object]:
    """A campaign as the screen pop and the notices area show it to staff (internal notes too)."""
    return {"id": campaign.id, "slug": campaign.slug, "name": campaign.name, "tag": campaign.tag,
            "starts_at": campaign.starts_at, "ends_at": campaign.ends_at, "notice_at": campaign.notice_at,
            "channels": list(campaign.channels), "summary": campaign.summary,
            "public_faq": campaign.public_faq, "internal_notes": campaign.internal_notes,
            "keywords": list(campaign.keywords), "article_id": campaign.article_id}


class PublishesArticles(Protocol):
    """Where a campaign's public FAQ becomes a knowledge article (the knowledge base)."""

    async def publish(self, *, title: str, public: str, internal: str, tags: Sequence[str],
                      actor: str) -> str:
        """Store the article; its id."""
        ...


class InMemoryArticles:
    """``PublishesArticles`` kept in a dict: tests, and a server without a knowledge base."""

    def __init__(self) -> None:
        self.articles: dict[str, dict[str, object]] = {}

    async def publish(self, *, title: str, public: str, internal: str, tags: Sequence[str],
                      actor: str) -> str:
        article_id = f"art-{len(self.articles) + 1}"
        self.articles[article_id] = {"title": title, "public": public, "internal": internal,
                                     "tags": list(tags), "actor": actor}
        return article_id


class CampaignRecords(Protocol):
    async def add(self, campaign: Campaign, *, actor: str) -> Campaign: ...

    async def all(self) -> Sequence[Campaign]: ...

    async def get(self, campaign_id: str) -> Campaign: ...

    async def set_article(self, campaign_id: str, article_id: str) -> None: ...

    async def acknowledge(self, campaign_id: str, agent_id: str, *, at: float) -> float: ...

    async def acknowledged(self, campaign_id: str) -> Mapping[str, float]: ...

    async def acknowledged_by(self, agent_id: str) -> Mapping[str, float]: ...


class PopCampaigns(Protocol):
    """What the screen pop asks: the campaigns an interaction matches (tagging it as it goes)."""

    async def pop(self, interaction: Interaction, messages: Sequence[Message]) -> list[dict[str, Any]]: ...

    async def rematch(self, interaction: Interaction, body: str) -> list[dict[str, Any]]: ...
