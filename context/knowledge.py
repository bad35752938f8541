"""The knowledge base in the database: articles, their versions and tags, the latest edited, and
their search (whose statements, on SQLite FTS5 or PostgreSQL ``tsvector``, are
``context.kb_search``'s).

An edit names the version it was made from (``base_version``): an edit from a stale copy is
refused (``article-changed``) rather than written over someone else's newer text. Every write
stores the new version, the article's current row, its tags and its search document in one
transaction, so a search never finds words of a text that is no longer the article's.

Errors: NotFound ``article-not-found``, ``version-not-found``; Conflict ``article-changed``;
InvalidInput ``bad-article``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, insert, select, update

from context.db import Conn, Database
from context.kb_search import COMMON_POOL, fts_query, is_public, ranked, search_plan, write_search
from context.models import kb_article_tags, kb_article_versions, kb_articles
from cti.clock import Clock, IdSource
from cti.errors import Conflict, InvalidInput, NotFound
from cti.knowledge import (
    MAX_BODY,
    MAX_TITLE,
    Article,
    ArticleText,
    ArticleVersion,
    Audience,
    Hit,
    Outcome,
    normalise_tags,
    search_tokens,
)

__all__ = ["SqlKnowledge"]

MAX_RESULTS = 50
_A = kb_articles.c
_V = kb_article_versions.c
_T = kb_article_tags.c


def _checked(raw: ArticleText) -> ArticleText:
    problems: list[str] = []
    title = raw.title.strip()
    if not title or len(title) > MAX_TITLE:
        problems.append(f"title: 1-{MAX_TITLE} characters")
    for name, body in (("public_body", raw.public_body), ("internal_body", raw.internal_body)):
        if len(body) > MAX_BODY:
            problems.append(f"{name}: at most {MAX_BODY} characters")
    try:
        tags = normalise_tags(raw.tags)
    except ValueError as exc:
        problems.append(f"tags: {exc}")
        tags = ()
    if problems:
        raise InvalidInput("bad-article", "the article is not valid", problems=problems)
    return ArticleText(title=title, public_body=raw.public_body, internal_body=raw.internal_body, tags=tags)


def _text_of(row: Any) -> ArticleText:
    return ArticleText(title=row.title, public_body=row.public_body, internal_body=row.internal_body,
                       tags=tuple(row.tags or ()))


def _article(row: Any) -> Article:
    return Article(id=row.id, text=_text_of(row), version=row.version, created_at=row.created_at,
                   updated_at=row.updated_at, updated_by=row.updated_by, helped=row.helped, solved=row.solved)


def _version(row: Any) -> ArticleVersion:
    return ArticleVersion(article_id=row.article_id, version=row.version, text=_text_of(row), at=row.at,
                          by=row.by, restored_from=row.restored_from)


def _not_found(article_id: str) -> NotFound:
    return NotFound("article-not-found", "no such article", article_id=article_id[:100])


class SqlKnowledge:
    def __init__(self, *, db: Database, clock: Clock, ids: IdSource) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids

    # writing

    async def create(self, text: ArticleText, *, by: str) -> Article:
        checked = _checked(text)
        article_id = self._ids.new_id("kb")
        now = self._clock.now()

        async def work(conn: Conn) -> Article:
            await self._insert_new(conn, article_id, checked, at=now, by=by)
            return await self._require(conn, article_id)

        return await self._db.write(work)

    async def import_articles(self, texts: Sequence[ArticleText], *, by: str) -> list[str]:
        """Many new articles in one transaction (a bulk import, the benchmark's seed); their ids."""
        checked = [_checked(t) for t in texts]
        ids = [self._ids.new_id("kb") for _ in checked]
        now = self._clock.now()

        async def work(conn: Conn) -> list[str]:
            for article_id, one in zip(ids, checked, strict=True):
                await self._insert_new(conn, article_id, one, at=now, by=by, search=False)
            await write_search(conn, list(zip(ids, checked, strict=True)), replace=False)
            return ids

        return await self._db.write(work)

    async def update(self, article_id: str, text: ArticleText, *, by: str, base_version: int) -> Article:
        checked = _checked(text)
        return await self._db.write(lambda conn: self._new_version(
            conn, article_id, checked, by=by, base_version=base_version, restored_from=None))

    async def restore(self, article_id: str, version: int, *, by: str, base_version: int) -> Article:
        async def work(conn: Conn) -> Article:
            old = await self._require_version(conn, article_id, version)
            return await self._new_version(conn, article_id, old.text, by=by, base_version=base_version,
                                           restored_from=version)

        return await self._db.write(work)

    async def feedback(self, article_id: str, outcome: Outcome) -> Article:
        """A visitor's word on a public article; an internal-only one is "not found" to them."""
        column = _A.solved if outcome is Outcome.SOLVED else _A.helped

        async def work(conn: Conn) -> Article:
            done = await conn.execute(update(kb_articles).where(_A.id == article_id, is_public())
                                      .values({column: column + 1}))
            if done.rowcount != 1:
                raise _not_found(article_id)
            return await self._require(conn, article_id)

        return await self._db.write(work)

    async def _insert_new(self, conn: Conn, article_id: str, checked: ArticleText, *, at: float,
                          by: str, search: bool = True) -> None:
        await conn.execute(insert(kb_articles).values(
            id=article_id, title=checked.title, public_body=checked.public_body,
            internal_body=checked.internal_body, tags=list(checked.tags), version=1, created_at=at,
            updated_at=at, updated_by=by, helped=0, solved=0))
        await self._store_version(conn, article_id, 1, checked, at=at, by=by, restored_from=None,
                                  replace=False, search=search)

    async def _new_version(self, conn: Conn, article_id: str, checked: ArticleText, *, by: str,
                           base_version: int, restored_from: int | None) -> Article:
        current = (await conn.execute(select(_A.version).where(_A.id == article_id))).scalar_one_or_none()
        if current is None:
            raise _not_found(article_id)
        if current != base_version:
            raise Conflict("article-changed", "the article changed since you opened it; reload it",
                           article_id=article_id, version=current, base_version=base_version)
        version = current + 1
        now = self._clock.now()
        # The version check again in the statement: a concurrent edit makes this update no row.
        where = (_A.id == article_id) & (_A.version == current)
        done = await conn.execute(update(kb_articles).where(where).values(
            title=checked.title, public_body=checked.public_body, internal_body=checked.internal_body,
            tags=list(checked.tags), version=version, updated_at=now, updated_by=by))
        if done.rowcount != 1:
            raise Conflict("article-changed", "the article changed since you opened it; reload it",
                           article_id=article_id)
        await self._store_version(conn, article_id, version, checked, at=now, by=by,
                                  restored_from=restored_from, replace=True)
        return await self._require(conn, article_id)

    async def _store_version(self, conn: Conn, article_id: str, version: int, checked: ArticleText, *,
                             at: float, by: str, restored_from: int | None, replace: bool,
                             search: bool = True) -> None:
        await conn.execute(insert(kb_article_versions).values(
            article_id=article_id, version=version, title=checked.title, public_body=checked.public_body,
            internal_body=checked.internal_body, tags=list(checked.tags), at=at, by=by,
            restored_from=restored_from))
        if replace:
            await conn.execute(delete(kb_article_tags).where(_T.article_id == article_id))
        if checked.tags:
            await conn.execute(insert(kb_article_tags), [{"article_id": article_id, "tag": t}
                                                         for t in checked.tags])
        if search:  # else written by the caller, with others (a bulk import)
            await write_search(conn, [(article_id, checked)], replace=replace)

    # reading

    async def article(self, article_id: str) -> Article:
        async with self._db.read() as conn:
            return await self._require(conn, article_id)

    async def versions(self, article_id: str) -> list[ArticleVersion]:
        """Newest first."""
        async with self._db.read() as conn:
            await self._require(conn, article_id)
            rows = (await conn.execute(select(kb_article_versions).where(_V.article_id == article_id)
                                       .order_by(_V.version.desc()))).all()
        return [_version(r) for r in rows]

    async def version(self, article_id: str, version: int) -> ArticleVersion:
        async with self._db.read() as conn:
            return await self._require_version(conn, article_id, version)

    async def latest(self, *, audience: Audience, tag: str | None = None, limit: int = 50) -> list[Article]:
        """Articles newest-edited first (the /kb index, an editor's list)."""
        query = _scoped(select(kb_articles), audience, tag).order_by(_A.updated_at.desc(), _A.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query.limit(max(1, min(limit, 500))))).all()
        return [_article(r) for r in rows]

    async def search(self, text: str, *, audience: Audience, tag: str | None = None, limit: int = 20,
                     any_word: bool = False) -> list[Hit]:
        """Articles matching ``text``, best first. ``any_word``: ranked by the words in common
        (suggestions from a whole message); otherwise every word must match (a search box).
        The public audience searches and gets the public part only.

        The search table alone finds, filters and ranks (``ranked``); only the ``limit`` best
        are then read from the articles, so the cost follows the matches, not the articles.
        Ranking is what costs: a word in most articles would have every one of them scored. So
        each word's document frequency is counted first (capped, in ``context.kb_search``): a suggestion
        keeps its rarest words and drops the common ones, and a query left with only common
        words ranks a bounded set of ``COMMON_POOL`` candidates (``ranked``)."""
        # Small words (how, do, my) are never required: a typed question still finds its article.
        # Only when nothing else is left are they searched for.
        tokens = search_tokens(text, drop_stop_words=True) or search_tokens(text)
        if not tokens:
            return []
        params: dict[str, Any] = {"kb_limit": max(1, min(limit, MAX_RESULTS))}
        if tag is not None:
            params["kb_tag"] = tag.strip().lower()
        async with self._db.read() as conn:
            postgres = conn.dialect.name == "postgresql"
            plan = await search_plan(conn, tokens, audience, postgres, any_word)
            if plan is None:
                return []
            tokens, weights, bounded = plan
            if postgres and weights:  # ts_rank knows no rarity: each word found adds its weight (idf)
                params.update({f"kb_t{n}": t for n, t in enumerate(tokens)})
                params.update({f"kb_w{n}": w for n, w in enumerate(weights)})
            if bounded:
                params["kb_pool"] = COMMON_POOL
            params["kb_q"] = (" | " if any_word else " & ").join(tokens) if postgres else fts_query(
                tokens, audience, any_word)
            query = ranked(postgres, audience, tag is not None, len(weights), bounded)
            rows = (await conn.execute(query, params)).all()
        return [Hit(article=_article(r), rank=float(r.rank)) for r in rows]

    async def _require(self, conn: Conn, article_id: str) -> Article:
        row = (await conn.execute(select(kb_articles).where(_A.id == article_id))).first()
        if row is None:
            raise _not_found(article_id)
        return _article(row)

    async def _require_version(self, conn: Conn, article_id: str, version: int) -> ArticleVersion:
        row = (await conn.execute(select(kb_article_versions).where(
            _V.article_id == article_id, _V.version == version))).first()
        if row is None:
            raise NotFound("version-not-found", "no such version of the article",
                           article_id=article_id[:100], version=version)
        return _version(row)


def _scoped(query: Select[Any], audience: Audience, tag: str | None) -> Select[Any]:
    if audience is Audience.PUBLIC:
        query = query.where(is_public())
    if tag is not None:
        query = query.where(_A.id.in_(select(_T.article_id).where(_T.tag == tag.strip().lower())))
    return query
