"""PostgreSQL: in how many articles each search word is, kept by the database itself.

A suggestion weighs a message's words by their rarity, so it needs each word's document
frequency; probing the GIN index for it cost about 0.35 ms a word (12 words a suggestion).
``kb_search_words`` holds, per lexeme, the articles whose ``public_doc`` and whose ``staff_doc``
have it: one indexed lookup a word instead.

A trigger on ``kb_search`` keeps it right on every write of a search document (insert, update,
and the delete cascaded from an article), whatever statement makes it. Writers of the counts take
one transaction-scoped advisory lock first: a bulk import and an edit both updating common words
would otherwise lock their rows in different orders and deadlock. Articles are written seldom;
they wait for each other instead.

SQLite has no table for this: FTS5 counts a word's matches from its own index cheaply (see
``context.knowledge._frequencies``), and an FTS5 table takes no triggers.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# pg_advisory_xact_lock's key for writers of kb_search_words (any fixed number; "kbwords").
COUNTS_LOCK = 0x6B62776F726473

_COUNT_WORDS = f"""CREATE FUNCTION kb_search_count_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({COUNTS_LOCK});
    -- A word the new document has and the old one not counts one more, and the other way one
    -- less; rows in lexeme order, so two writers never wait for each other's rows crosswise.
    INSERT INTO kb_search_words AS w (lexeme, public_articles, staff_articles)
    SELECT d.lexeme, sum(d.public_delta), sum(d.staff_delta)
    FROM (SELECT unnest(tsvector_to_array(n.public_doc)) AS lexeme, 1 AS public_delta, 0 AS staff_delta
          FROM (SELECT NEW.public_doc) AS n(public_doc) WHERE TG_OP <> 'DELETE'
          UNION ALL
          SELECT unnest(tsvector_to_array(n.staff_doc)), 0, 1
          FROM (SELECT NEW.staff_doc) AS n(staff_doc) WHERE TG_OP <> 'DELETE'
          UNION ALL
          SELECT unnest(tsvector_to_array(o.public_doc)), -1, 0
          FROM (SELECT OLD.public_doc) AS o(public_doc) WHERE TG_OP <> 'INSERT'
          UNION ALL
          SELECT unnest(tsvector_to_array(o.staff_doc)), 0, -1
          FROM (SELECT OLD.staff_doc) AS o(staff_doc) WHERE TG_OP <> 'INSERT') AS d
    GROUP BY d.lexeme
    HAVING sum(d.public_delta) <> 0 OR sum(d.staff_delta) <> 0
    ORDER BY d.lexeme
    ON CONFLICT (lexeme) DO UPDATE
        SET public_articles = w.public_articles + excluded.public_articles,
            staff_articles = w.staff_articles + excluded.staff_articles;
    IF TG_OP <> 'INSERT' THEN
        -- A word no article has any more: its row goes (only an old word can have reached 0).
        DELETE FROM kb_search_words
        WHERE lexeme = ANY (tsvector_to_array(OLD.staff_doc) || tsvector_to_array(OLD.public_doc))
          AND public_articles = 0 AND staff_articles = 0;
    END IF;
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE kb_search_words (lexeme TEXT PRIMARY KEY,"
               " public_articles INTEGER NOT NULL, staff_articles INTEGER NOT NULL)")
    op.execute(_COUNT_WORDS)
    # The trigger first: it locks kb_search against writes until this transaction ends, so the
    # counts filled below miss no article written meanwhile.
    op.execute("CREATE TRIGGER trg_kb_search_count_words"
               " AFTER INSERT OR DELETE OR UPDATE OF public_doc, staff_doc ON kb_search"
               " FOR EACH ROW EXECUTE FUNCTION kb_search_count_words()")
    op.execute("INSERT INTO kb_search_words (lexeme, public_articles, staff_articles)"
               " SELECT coalesce(s.word, p.word), coalesce(p.ndoc, 0), coalesce(s.ndoc, 0)"
               " FROM ts_stat('SELECT staff_doc FROM kb_search') AS s"
               " FULL JOIN ts_stat('SELECT public_doc FROM kb_search') AS p ON p.word = s.word")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER trg_kb_search_count_words ON kb_search")
    op.execute("DROP FUNCTION kb_search_count_words()")
    op.execute("DROP TABLE kb_search_words")
