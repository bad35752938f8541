"""A word's rarity follows every write of the knowledge base: suggestions drop the words that
became common and keep the ones that became rare, on SQLite and PostgreSQL; on PostgreSQL the
counts table (migration 0024) always equals what the search documents hold, migrated data too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import create_engine, text

from context import kb_search
from context.knowledge import SqlKnowledge
from context.migrate import downgrade, sync_url, upgrade
from context.store import SqlContextStore
from cti.clock import ManualClock, SequentialIds
from cti.knowledge import ArticleText, Audience

ROUTER = ArticleText(title="Router lights", public_body="The router blinks while it updates.",
                     internal_body="", tags=())
# Words the counts table gets wrong if it misses a write: in the documents and not in it, or the
# other way, or with another count (either part).
_DRIFT = """
SELECT count(*) FROM (
    SELECT coalesce(s.word, p.word) AS word, coalesce(p.ndoc, 0) AS public_n, coalesce(s.ndoc, 0) AS staff_n
    FROM ts_stat('SELECT staff_doc FROM kb_search') AS s
    FULL JOIN ts_stat('SELECT public_doc FROM kb_search') AS p ON p.word = s.word) AS truth
FULL JOIN kb_search_words AS w ON w.lexeme = truth.word
WHERE truth.word IS NULL OR w.lexeme IS NULL OR w.public_articles <> truth.public_n
   OR w.staff_articles <> truth.staff_n
"""


def _note(n: int, *, password: bool) -> ArticleText:
    word = "password" if password else "passphrase"
    return ArticleText(title=f"Billing note {n}", public_body=f"Your {word} and invoice {n}.",
                       internal_body=f"Internal {word} rules {n}.", tags=())


@pytest.fixture
async def kb(store: SqlContextStore, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SqlKnowledge]:
    # A word in 3 articles or more is common here (10,000 articles: in 200 of them).
    monkeypatch.setattr(kb_search, "COMMON_FLOOR", 3)
    yield store.knowledge


def _sql(url: str, statement: str) -> int:
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            return int(conn.execute(text(statement)).scalar_one())
    finally:
        engine.dispose()


async def _suggested(kb: SqlKnowledge, message: str) -> set[str]:
    return {h.article.id for h in await kb.search(message, audience=Audience.PUBLIC, any_word=True)}


async def test_a_suggestion_follows_a_word_becoming_rare_and_common_again(kb: SqlKnowledge) -> None:
    router = await kb.create(ROUTER, by="sue")
    notes = await kb.import_articles([_note(n, password=True) for n in range(3)], by="import")
    message = "my password is fine but the router blinks"
    assert await _suggested(kb, message) == {router.id}  # "password" is common: it is dropped

    # Edited out of one note: in 2 articles, rare, and it counts again.
    edited = await kb.update(notes[0], _note(0, password=False), by="ada", base_version=1)
    assert await _suggested(kb, message) == {router.id, notes[1], notes[2]}

    # Restored: common again, dropped again.
    await kb.restore(notes[0], 1, by="ada", base_version=edited.version)
    assert await _suggested(kb, message) == {router.id}


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_the_counts_equal_the_documents_after_every_kind_of_write(
        kb: SqlKnowledge, db_url: str) -> None:
    assert _sql(db_url, _DRIFT) == 0
    router = await kb.create(ROUTER, by="sue")
    ids = await kb.import_articles([_note(n, password=n % 2 == 0) for n in range(4)], by="import")
    assert _sql(db_url, _DRIFT) == 0
    assert _sql(db_url, "SELECT staff_articles FROM kb_search_words WHERE lexeme = 'password'") == 2

    await kb.update(ids[0], _note(0, password=False), by="ada", base_version=1)
    await kb.update(router.id, ArticleText(title="Router lights", public_body="", tags=(),
                                           internal_body="Blinks: firmware update."), by="ada",
                    base_version=1)
    assert _sql(db_url, _DRIFT) == 0
    # A word now in the internal part only: no public article has it.
    assert _sql(db_url, "SELECT public_articles FROM kb_search_words WHERE lexeme = 'firmwar'") == 0
    assert _sql(db_url, "SELECT staff_articles FROM kb_search_words WHERE lexeme = 'firmwar'") == 1

    await kb.restore(ids[0], 1, by="ada", base_version=2)
    await kb.update(ids[1], _note(1, password=False), by="ada", base_version=1)  # the same text
    assert _sql(db_url, _DRIFT) == 0

    # An article deleted (its search document goes with it): its words count one less, and a
    # word no article has any more leaves the table.
    _sql(db_url, f"WITH gone AS (DELETE FROM kb_articles WHERE id = '{router.id}' RETURNING 1)"
                 " SELECT count(*) FROM gone")
    assert _sql(db_url, _DRIFT) == 0
    assert _sql(db_url, "SELECT count(*) FROM kb_search_words WHERE lexeme = 'firmwar'") == 0


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_articles_written_before_the_migration_are_counted(blank_url: str) -> None:
    upgrade(blank_url, "0023")
    store = SqlContextStore(url=blank_url, clock=ManualClock(1_800_000_000.0), ids=SequentialIds())
    await store.start()
    try:
        router = await store.knowledge.create(ROUTER, by="sue")
        await store.knowledge.import_articles([_note(n, password=True) for n in range(2)], by="import")
        await store.knowledge.update(router.id, ArticleText(title="Router", public_body="Reboot it.",
                                                            internal_body="", tags=()),
                                     by="ada", base_version=1)
        upgrade(blank_url)
        assert _sql(blank_url, _DRIFT) == 0
        assert _sql(blank_url, "SELECT staff_articles FROM kb_search_words WHERE lexeme = 'password'") == 2
        found = await store.knowledge.search("password reboot", audience=Audience.PUBLIC, any_word=True)
        assert found[0].article.id == router.id  # "reboot", in one article, weighs most

        downgrade(blank_url, "0023")
        assert _sql(blank_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'kb_search_words'"
                               " AND schemaname = current_schema()") == 0
    finally:
        await store.aclose()
