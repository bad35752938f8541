"""The knowledge base's data and the pure parts of its search (no I/O).

One article serves everyone: a **public** part (title, public body, tags) that customers may read
(the chat widget, the ``/kb`` pages) and an **internal** part only staff read (agents, supervisors,
admins). Every edit stores a new version; an older version is restored by storing its text again
as the newest version, so the history only ever grows.

Search text is reduced to plain word tokens here, before any database sees it: the query
languages of SQLite FTS5 and PostgreSQL ``tsquery`` have operators of their own, and a visitor's
message must never be read as one. The store quotes each token for its dialect.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_TAGS = 20
MAX_TAG = 40
MAX_QUERY = 500  # characters of a search box; the public paths refuse longer (400 query-too-long)
# Characters of a message suggestions are made from (the chat widget sends them in the URL): 500
# characters of 4-byte UTF-8, percent-encoded, stay under the server's 8 KiB request line.
MAX_MESSAGE_QUERY = 500
MAX_TOKENS = 24  # words a query keeps: a long message is reduced to its first distinct words
MIN_TOKEN = 2
MAX_TOKEN = 40
SUGGESTIONS = 3  # articles a suggestion shows
# Words a suggestion ranks by: the most distinctive of the message (in the fewest articles). A
# message's common words match most articles and only cost ranking time; these few decide.
SUGGESTION_WORDS = 6
# Words of a message counted to find those (its first ones): counting costs each word a probe of
# SQLite's index or a row of PostgreSQL's word counts, and a 30-word message's first 12 words hold
# its topic.
SUGGESTION_CANDIDATES = 12

# Words that carry no topic: dropped from suggestions made from whole messages.
_STOP_TEXT = (
    "a an and are as at be been but by can could do does for from have has hello hi how i im in is "
    "it its me my no not of on or our please so that the their them then there this to too up us was "
    "we what when where which who why will with would you your yours thanks thank hey cannot")
STOP_WORDS = frozenset(_STOP_TEXT.split())

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class Audience(enum.StrEnum):
    """Who reads: customers get the public part only, staff both parts."""

    PUBLIC = "public"
    STAFF = "staff"


class Outcome(enum.StrEnum):
    """What a visitor said of a suggested article (``docs/knowledge.md``)."""

    HELPED = "helped"  # it helped; the visitor still wants to talk to someone
    SOLVED = "solved"  # it solved the problem: the chat ends as self-served, nobody is queued


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What an editor writes; one version of an article holds exactly this."""

    title: str
    public_body: str
    internal_body: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    text: ArticleText
    version: int
    created_at: float
    updated_at: float
    updated_by: str
    helped: int = 0
    solved: int = 0

    @property
    def is_public(self) -> bool:
        """An article with an empty public part is internal only: no customer path shows it."""
        return bool(self.text.public_body.strip())

    def public_view(self) -> dict[str, Any]:
        """The part a customer may see, and nothing else (no internal text, no editor)."""
        return {"id": self.id, "title": self.text.title, "body": self.text.public_body,
                "tags": list(self.text.tags), "updated_at": self.updated_at}

    def staff_view(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.text.title, "public_body": self.text.public_body,
                "internal_body": self.text.internal_body, "tags": list(self.text.tags),
                "version": self.version, "created_at": self.created_at, "updated_at": self.updated_at,
                "updated_by": self.updated_by, "helped": self.helped, "solved": self.solved}


@dataclass(frozen=True, slots=True)
class ArticleVersion:
    article_id: str
    version: int
    text: ArticleText
    at: float
    by: str
    restored_from: int | None = None

    def view(self) -> dict[str, Any]:
        return {"article_id": self.article_id, "version": self.version, "title": self.text.title,
                "public_body": self.text.public_body, "internal_body": self.text.internal_body,
                "tags": list(self.text.tags), "at": self.at, "by": self.by,
                "restored_from": self.restored_from}


@dataclass(frozen=True, slots=True)
class Hit:
    article: Article
    rank: float  # larger is better, comparable within one answer only


def normalise_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased, de-duplicated, in the order given; ``ValueError`` for a bad one."""
    out: list[str] = []
    for raw in tags:
        tag = raw.strip().lower()
        if not _TAG.match(tag):
            raise ValueError(f"tag {raw[:MAX_TAG]!r}: letters, digits, '-' and '_', 1-{MAX_TAG} characters")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return tuple(out)


def search_tokens(text: str, *, drop_stop_words: bool = False, limit: int = MAX_TOKENS) -> list[str]:
    """The distinct lower-case words of ``text`` worth searching for, first ones first.

    Only letters and digits survive, so the result is safe to quote into FTS5 or ``tsquery``.
    """
    out: list[str] = []
    for match in _WORD.finditer(text[: MAX_QUERY * 20]):
        word = match.group(0).lower()
        if not MIN_TOKEN <= len(word) <= MAX_TOKEN or word in out:
            continue
        if drop_stop_words and word in STOP_WORDS:
            continue
        out.append(word)
        if len(out) >= limit:
            break
    return out


def suggestion_text(parts: Sequence[str | None]) -> str:
    """One text from an interaction's subject, context values and messages, newest last."""
    return "\n".join(p for p in parts if p)


class KnowledgeBase(Protocol):
    """The knowledge store as the edges use it (``context.knowledge.SqlKnowledge``)."""

    async def create(self, text: ArticleText, *, by: str) -> Article: ...

    async def update(self, article_id: str, text: ArticleText, *, by: str, base_version: int) -> Article: ...

    async def restore(self, article_id: str, version: int, *, by: str, base_version: int) -> Article: ...

    async def article(self, article_id: str) -> Article: ...

    async def versions(self, article_id: str) -> list[ArticleVersion]: ...

    async def version(self, article_id: str, version: int) -> ArticleVersion: ...

    async def search(self, text: str, *, audience: Audience, tag: str | None = None, limit: int = 20,
                     any_word: bool = False) -> list[Hit]: ...

    async def latest(self, *, audience: Audience, tag: str | None = None,
                     limit: int = 50) -> list[Article]: ...

    async def feedback(self, article_id: str, outcome: Outcome) -> Article: ...


class CampaignArticles:
    """The campaigns' ``PublishesArticles`` port on the knowledge base: a campaign's public FAQ
    becomes an article customers find, its internal notes the part only agents read."""

    def __init__(self, knowledge: KnowledgeBase) -> None:
        self._knowledge = knowledge

    async def publish(self, *, title: str, public: str, internal: str, tags: Sequence[str],
                      actor: str) -> str:
        # Campaign tags read "campaign:<slug>"; article tags allow no ':' (they are path-safe words).
        text = ArticleText(title=title[:200], public_body=public, internal_body=internal,
                           tags=normalise_tags(tag.replace(":", "-")[:MAX_TAG] for tag in tags))
        return (await self._knowledge.create(text, by=actor)).id
