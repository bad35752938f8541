"""PostgreSQL: in how many articles each search word is, kept by the database itself.

A suggestion weighs a message's words by their rarity, so it needs each word's document
frequency; probing the GIN index for it cost about 0.35 ms a word (12 words a suggestion).
``kb_search_words`` holds, per lexeme, the articles whose ``public_doc`` and whose ``staff_doc``
have it: one indexed lookup a word instead.

Triggers on ``kb_search`` keep it right on every write of a search document (insert, update,
and the delete cascaded from an article), whatever statement makes it, once a statement. Writers
of the counts take one transaction-scoped advisory lock first: a bulk import and an edit both
updating common words would otherwise lock their rows in different orders and deadlock.
Articles are written seldom; they wait for each other instead.

SQLite has no table for this: FTS5 counts a word's matches from its own index cheaply (see
``context.kb_search._frequencies``), and an FTS5 table takes no triggers.

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


def _deltas(sign: int, rows: str) -> str:
    """Each word of the statement's documents ``rows`` (a transition table), counted ``sign``."""
    return (f"SELECT unnest(tsvector_to_array(public_doc)) AS lexeme, {sign} AS public_delta,"
            f" 0 AS staff_delta FROM {rows}"
            f" UNION ALL SELECT unnest(tsvector_to_array(staff_doc)), 0, {sign} FROM {rows}")


def _count(deltas: str) -> str:
    # Rows in lexeme order, so two writers never wait for each other's rows crosswise.
    return f"""INSERT INTO kb_search_words AS w (lexeme, public_articles, staff_articles)
        SELECT d.lexeme, sum(d.public_delta), sum(d.staff_delta) FROM ({deltas}) AS d
        GROUP BY d.lexeme HAVING sum(d.public_delta) <> 0 OR sum(d.staff_delta) <> 0
        ORDER BY d.lexeme
        ON CONFLICT (lexeme) DO UPDATE
            SET public_articles = w.public_articles + excluded.public_articles,
                staff_articles = w.staff_articles + excluded.staff_articles;"""


# A word no article has any more leaves the table (only an old document's word can reach 0).
_FORGET = """DELETE FROM kb_search_words
        WHERE lexeme IN (SELECT unnest(tsvector_to_array(staff_doc)) FROM old_rows)
          AND public_articles = 0 AND staff_articles = 0;"""

# Once a statement, not once a row: a bulk import of 500 articles in one statement updates each
# word's row once (once an article, the row of a word in every article had 500 versions in one
# transaction, each update walking them all: a 10,000-article import took twice as long).
_COUNT_WORDS = f"""CREATE FUNCTION kb_search_count_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({COUNTS_LOCK});
    IF TG_OP = 'INSERT' THEN
        {_count(_deltas(1, "new_rows"))}
    ELSIF TG_OP = 'UPDATE' THEN
        {_count(_deltas(1, "new_rows") + " UNION ALL " + _deltas(-1, "old_rows"))}
        {_FORGET}
    ELSE
        {_count(_deltas(-1, "old_rows"))}
        {_FORGET}
    END IF;
    RETURN NULL;
END
$$"""
_TRIGGERS = {"insert": "INSERT ON kb_search REFERENCING NEW TABLE AS new_rows",
             "update": "UPDATE ON kb_search REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
             "delete": "DELETE ON kb_search REFERENCING OLD TABLE AS old_rows"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE kb_search_words (lexeme TEXT PRIMARY KEY,"
               " public_articles INTEGER NOT NULL, staff_articles INTEGER NOT NULL)")
    op.execute(_COUNT_WORDS)
    # The triggers first: they lock kb_search against writes until this transaction ends, so
    # the counts filled below miss no article written meanwhile.
    for event, spec in _TRIGGERS.items():
        op.execute(f"CREATE TRIGGER trg_kb_search_words_{event} AFTER {spec}"
                   " FOR EACH STATEMENT EXECUTE FUNCTION kb_search_count_words()")
    op.execute("INSERT INTO kb_search_words (lexeme, public_articles, staff_articles)"
               " SELECT coalesce(s.word, p.word), coalesce(p.ndoc, 0), coalesce(s.ndoc, 0)"
               " FROM ts_stat('SELECT staff_doc FROM kb_search') AS s"
               " FULL JOIN ts_stat('SELECT public_doc FROM kb_search') AS p ON p.word = s.word")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for event in _TRIGGERS:
        op.execute(f"DROP TRIGGER trg_kb_search_words_{event} ON kb_search")
    op.execute("DROP FUNCTION kb_search_count_words()")
    op.execute("DROP TABLE kb_search_words")
