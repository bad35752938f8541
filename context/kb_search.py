"""Full-text search of the knowledge base, on SQLite FTS5 or PostgreSQL ``tsvector`` (the search
table's two shapes: migration 0022): writing the search documents, counting how many articles
hold each word (what makes a word common), planning which words a query searches for, and the
ranked statements that find the best articles.

What makes a word common (``COMMON_SHARE``, ``COMMON_FLOOR``) and how many matches of common
words are ranked (``COMMON_POOL``) are set here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.sql.elements import ColumnElement, TextClause

from context.db import Conn
from context.models import kb_article_tags, kb_articles
from cti.knowledge import SUGGESTION_CANDIDATES, SUGGESTION_WORDS, ArticleText, Audience

# A word found in this share of the articles (and at least COMMON_FLOOR of them) is common: a
# suggestion drops it, and a query of common words only ranks the newest COMMON_POOL matches
# instead of scoring every one (measured: docs/scale.md, python -m bench kb).
COMMON_SHARE = 0.02
COMMON_FLOOR = 50
COMMON_POOL = 200
_A = kb_articles.c
_T = kb_article_tags.c
PG_CONFIG = "english"  # the same stems as SQLite's porter tokenizer

# SQLite: bm25 weights per column (article_id, title, tags, public_body, internal_body).
_FTS_RANK = "bm25(kb_search, 0.0, 10.0, 5.0, 2.0, 1.0)"
_FTS_PUBLIC_COLUMNS = "{title tags public_body}"
# PostgreSQL's search table, outside the models (its shape differs per backend: migration 0022).
_PG_SEARCH = table("kb_search", column("article_id", String), column("public", Boolean),
                   column("public_doc", TSVECTOR), column("staff_doc", TSVECTOR))
_FTS = table("kb_search", column("article_id", String), column("public", Integer))


def is_public() -> ColumnElement[bool]:
    # Not public: an empty (or blank) public part. Trimmed in SQL the same way on both backends.
    return func.length(func.trim(_A.public_body)) > 0


def fts_query(tokens: Sequence[str], audience: Audience, any_word: bool) -> str:
    # Tokens are letters and digits only (cti.knowledge.search_tokens); quoted, each is a plain term.
    terms = f" {'OR' if any_word else 'AND'} ".join(f'"{t}"' for t in tokens)
    return f"{_FTS_PUBLIC_COLUMNS} : ({terms})" if audience is Audience.PUBLIC else terms


async def search_plan(conn: Conn, tokens: Sequence[str], audience: Audience, postgres: bool,
                      any_word: bool) -> tuple[list[str], list[float], bool] | None:
    """What to search for: (tokens, their weights, bounded), or None when nothing can match.

    A suggestion keeps, of its first ``SUGGESTION_CANDIDATES`` words, the ``SUGGESTION_WORDS``
    rarest that some article has and that are not common (in ``COMMON_SHARE`` of the articles
    or more), weighed by their idf on PostgreSQL (ts_rank knows no rarity). A search box keeps
    every word: all must match, so one missing word is no match at all. ``bounded``: only common
    words are left, whose matches are too many to score, so a bounded candidate set is ranked
    (``ranked``)."""
    if any_word:
        tokens = tokens[:SUGGESTION_CANDIDATES]
    total, counts = await _frequencies(conn, tokens, audience, postgres)
    common = _common_count(total)
    if not any_word:
        if not all(counts):
            return None
        return list(tokens), [], all(c >= common for c in counts)
    found = sorted((c, n) for n, c in enumerate(counts) if c)
    if not found:
        return None
    rare = [(c, n) for c, n in found if c < common][:SUGGESTION_WORDS]
    if not rare:  # every word is common: the most frequent ones rank the newest matches
        return [tokens[n] for _, n in found[:SUGGESTION_WORDS]], [], True
    weights = [math.log(max(total, c) / c) for c, _ in rare] if postgres else []
    return [tokens[n] for _, n in rare], weights, False


def _common_count(total: int) -> int:
    """Matches from which a word is common: a share of the articles, never below ``COMMON_FLOOR``
    (a small knowledge base has no common words, only few articles)."""
    return max(COMMON_FLOOR, math.ceil(total * COMMON_SHARE))


async def _frequencies(conn: Conn, tokens: Sequence[str], audience: Audience,
                       postgres: bool) -> tuple[int, list[int]]:
    """The articles in all, and in how many each token is found, counted up to ``_common_count``
    only (past it a word is common, and how common no longer changes the plan), in one statement.

    PostgreSQL reads each word's count from ``kb_search_words`` (migration 0024: kept by
    triggers), one indexed lookup a word where probing the GIN index cost 0.35 ms a word; a token
    that is not one lexeme (none, or several) is probed as before, so every count is what a
    probe finds. Its total is the planner's estimate when there is one (a scan of the table
    otherwise): a threshold needs no exact count. SQLite counts each word's matches in its FTS5
    index (a posting list read, not ranked), which is cheap there."""
    if postgres:
        return await _pg_frequencies(conn, tokens, audience)
    total = int((await conn.execute(text("SELECT count(*) FROM kb_articles"))).scalar_one() or 0)
    cap = _common_count(total)
    scope = f"{_FTS_PUBLIC_COLUMNS} : " if audience is Audience.PUBLIC else ""
    params = {f"kb_t{n}": f'{scope}"{t}"' for n, t in enumerate(tokens)}
    counts = ", ".join(f"(SELECT count(*) FROM (SELECT 1 FROM kb_search WHERE kb_search MATCH :kb_t{n}"
                       f" LIMIT {cap}))" for n in range(len(tokens)))
    row = (await conn.execute(text(f"SELECT {counts}"), params)).one()
    return total, [int(c) for c in row]


_PG_TOTAL = ("SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint"
             " ELSE (SELECT count(*) FROM kb_search) END FROM pg_class c"
             " WHERE c.oid = to_regclass('kb_search')")


@functools.cache
def _pg_counts(audience: Audience) -> TextClause:
    """Rows (total, token's position, articles with the token), one a token of ``:kb_tokens``."""
    doc, counted = (("public_doc", "public_articles") if audience is Audience.PUBLIC
                    else ("staff_doc", "staff_articles"))
    # One lexeme: the query "token" is that lexeme alone, and the table has its exact count.
    return text(
        f"WITH total(n) AS ({_PG_TOTAL}),"
        " cap(n) AS (SELECT greatest(CAST(:kb_floor AS bigint),"
        " CAST(ceil(t.n * CAST(:kb_share AS float8)) AS bigint)) FROM total AS t),"
        " words AS (SELECT t.token, t.n, tsvector_to_array(to_tsvector("
        f"'{PG_CONFIG}', t.token)) AS lexemes, numnode(to_tsquery('{PG_CONFIG}', t.token)) AS nodes"
        " FROM unnest(CAST(:kb_tokens AS text[])) WITH ORDINALITY AS t(token, n))"
        " SELECT (SELECT t.n FROM total AS t) AS total, w.n,"
        " CASE WHEN w.nodes = 1 AND cardinality(w.lexemes) = 1"
        f" THEN coalesce((SELECT c.{counted} FROM kb_search_words c WHERE c.lexeme = w.lexemes[1]), 0)"
        f" ELSE (SELECT count(*) FROM (SELECT 1 FROM kb_search WHERE {doc} @@ to_tsquery("
        f"'{PG_CONFIG}', w.token) LIMIT (SELECT c.n FROM cap AS c)) AS p) END AS articles"
        " FROM words AS w ORDER BY w.n")


async def _pg_frequencies(conn: Conn, tokens: Sequence[str], audience: Audience) -> tuple[int, list[int]]:
    rows = (await conn.execute(_pg_counts(audience), {
        "kb_tokens": list(tokens), "kb_floor": COMMON_FLOOR, "kb_share": COMMON_SHARE})).all()
    total = int(rows[0].total or 0)
    cap = _common_count(total)
    return total, [min(int(r.articles), cap) for r in rows]


@functools.lru_cache(maxsize=64)
def ranked(postgres: bool, audience: Audience, by_tag: bool, weighted: int, bounded: bool) -> Select[Any]:
    """The best ``:kb_limit`` articles for ``:kb_q`` (and ``:kb_tag``), built once per shape.
    ``weighted`` (PostgreSQL): that many words ``:kb_tN``, each adding ``:kb_wN`` when found.
    ``bounded``: only ``:kb_pool`` matches are ranked (a query of common words): the newest on
    SQLite, the first in the table's order on PostgreSQL; title matches still come first among
    them (the title weighs most in both rankings)."""
    public = audience is Audience.PUBLIC
    if postgres:
        doc = _PG_SEARCH.c.public_doc if public else _PG_SEARCH.c.staff_doc
        # The queries parsed once (a CTE), not once per matching row: to_tsquery is only stable.
        config: ColumnElement[str] = literal_column(f"'{PG_CONFIG}'")
        parsed = select(func.to_tsquery(config, bindparam("kb_q", type_=String)).label("q"),
                        *[func.to_tsquery(config, bindparam(f"kb_t{n}", type_=String)).label(f"w{n}")
                          for n in range(weighted)]).cte("kb_queries")
        rank: ColumnElement[Any] = func.ts_rank(doc, parsed.c.q)
        key = _PG_SEARCH.c.article_id
        found = doc.op("@@")(parsed.c.q)
        if weighted:
            # Which words each match has, from the index (each word is rare: few matches): the
            # document itself is then read once a match, by ts_rank, where a "doc @@ word" a word
            # read it (detoasted it) again each time (measured: 16 of 24 ms for 6 words).
            numbers = [literal_column(str(n), Integer) for n in range(weighted)]
            words = union_all(*[select(key.label("article_id"), number.label("word"))
                                .select_from(_PG_SEARCH.join(parsed, true()))
                                .where(doc.op("@@")(parsed.c[f"w{n}"])) for n, number in enumerate(numbers)]
                              ).subquery("kb_word_hits")
            matches = (select(words.c.article_id, func.array_agg(words.c.word).label("words"))
                       .group_by(words.c.article_id).subquery("kb_matches"))
            for n, number in enumerate(numbers):  # the sum "rank + (doc @@ word)" made, in its order
                rank = rank + case((number == any_(matches.c.words), bindparam(f"kb_w{n}", type_=Float)),
                                   else_=0.0)
            inner = (select(key.label("article_id"), rank.label("score"))
                     .select_from(_PG_SEARCH.join(matches, matches.c.article_id == key).join(parsed, true())))
            if public:
                inner = inner.where(_PG_SEARCH.c.public.is_(True))
            if by_tag:
                inner = inner.where(key.in_(select(_T.article_id).where(_T.tag == bindparam("kb_tag"))))
        elif bounded:
            # The first matches the index gives, in the table's order: a LIMIT with no ORDER BY
            # stops the scan early, where "the newest" would read and sort every match (measured:
            # 100 ms for a word in every article, the planner misjudging a parameter's matches).
            # ts_rank then scores these few only.
            pool = (select(key.label("article_id")).select_from(_PG_SEARCH.join(parsed, true()))
                    .where(found).limit(bindparam("kb_pool")))
            if public:
                pool = pool.where(_PG_SEARCH.c.public.is_(True))
            if by_tag:
                pool = pool.where(key.in_(select(_T.article_id).where(_T.tag == bindparam("kb_tag"))))
            candidates = pool.subquery("kb_pool")
            inner = (select(key.label("article_id"), rank.label("score"))
                     .select_from(_PG_SEARCH.join(candidates, candidates.c.article_id == key)
                                  .join(parsed, true())))
        else:
            inner = (select(key.label("article_id"), rank.label("score"))
                     .select_from(_PG_SEARCH.join(parsed, true())).where(found))
            if public:
                inner = inner.where(_PG_SEARCH.c.public.is_(True))
            if by_tag:
                inner = inner.where(key.in_(select(_T.article_id).where(_T.tag == bindparam("kb_tag"))))
    else:
        # bm25 is smaller for better matches; the answer's rank is larger-is-better everywhere.
        inner = (select(_FTS.c.article_id.label("article_id"), literal_column(f"-{_FTS_RANK}").label("score"))
                 .where(text("kb_search MATCH :kb_q")))
        if public:
            inner = inner.where(_FTS.c.public == 1)
        if by_tag:
            inner = inner.where(_FTS.c.article_id.in_(
                select(_T.article_id).where(_T.tag == bindparam("kb_tag"))))
        if bounded:
            # FTS5 walks its matches by rowid, newest first (an edit re-inserts the row), and
            # computes bm25 for the rows it returns only.
            newest = inner.order_by(literal_column("kb_search.rowid").desc()).limit(
                bindparam("kb_pool")).subquery("kb_pool")
            inner = select(newest.c.article_id, newest.c.score)
    # "score", not "rank": FTS5 tables have a hidden column of that name.
    # The article id breaks ties, as in the answer's order: which of equally ranked articles make
    # the cut is then the same whatever order the plan met them in.
    best = inner.order_by(literal_column("score").desc(), literal_column("article_id")).limit(
        bindparam("kb_limit")).subquery()
    query = select(kb_articles, best.c.score.label("rank")).join(best, best.c.article_id == _A.id)
    if public:
        query = query.where(is_public())  # the search table says so too; never trust one guard
    return query.order_by(best.c.score.desc(), _A.id)


async def write_search(conn: Conn, articles: Sequence[tuple[str, ArticleText]], *, replace: bool) -> None:
    """The search documents of ``articles`` (id, text), in one statement on PostgreSQL: its
    word counts (migration 0024) are then updated once for a whole bulk import."""
    rows: list[dict[str, Any]] = [
        {"id": article_id, "title": one.title, "tags": " ".join(one.tags), "public_body": one.public_body,
         "internal_body": one.internal_body, "public": bool(one.public_body.strip())}
        for article_id, one in articles]
    if conn.dialect.name == "postgresql":
        cfg = PG_CONFIG
        public = (f"setweight(to_tsvector('{cfg}', s.title), 'A')"
                  f" || setweight(to_tsvector('{cfg}', s.tags), 'B')"
                  f" || setweight(to_tsvector('{cfg}', s.public_body), 'C')")
        columns = ("id", "public", "title", "tags", "public_body", "internal_body")
        arrays = ", ".join(f"CAST(:{c} AS {'boolean' if c == 'public' else 'text'}[])" for c in columns)
        await conn.execute(text(
            "INSERT INTO kb_search (article_id, public, public_doc, staff_doc)"
            f" SELECT s.id, s.public, {public},"
            f" {public} || setweight(to_tsvector('{cfg}', s.internal_body), 'D')"
            f" FROM unnest({arrays}) AS s({', '.join(columns)})"
            " ON CONFLICT (article_id) DO UPDATE SET public = excluded.public,"
            " public_doc = excluded.public_doc, staff_doc = excluded.staff_doc"),
            {c: [r[c] for r in rows] for c in columns})
        return
    if replace:
        await conn.execute(text("DELETE FROM kb_search WHERE article_id = :id"),
                           [{"id": r["id"]} for r in rows])
    await conn.execute(text("INSERT INTO kb_search (article_id, public, title, tags, public_body,"
                            " internal_body) VALUES (:id, :public, :title, :tags, :public_body,"
                            " :internal_body)"),
                       [{**r, "public": int(r["public"])} for r in rows])
