"""The knowledge base: articles with a public and an internal part, their versions and tags, and
a full-text search document per article.

The search document has each backend's own shape, under one name, ``kb_search``:

- SQLite: an FTS5 table (``porter unicode61``: English stems, accents folded) with the columns
  title, tags, public_body, internal_body; a public search names only the first three.
- PostgreSQL: a table of two ``tsvector`` documents per article (``public_doc`` from the public
  part, ``staff_doc`` from both), each with a GIN index; title weighs A, tags B, public text C,
  internal text D.

Both carry ``public`` (the article has a public part), so a public search filters and ranks in the
search table alone and reads only the few articles it returns.

The store (``context.knowledge``) writes it in the same transaction as the article.

Revision ID: 0022
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", ID, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("public_body", sa.Text(), nullable=False),
        sa.Column("internal_body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("helped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("solved", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_articles"),
    )
    op.create_index("ix_kb_articles_updated_at", "kb_articles", ["updated_at"])
    op.create_table(
        "kb_article_versions",
        sa.Column("article_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("public_body", sa.Text(), nullable=False),
        sa.Column("internal_body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_article_versions_article_id_kb_articles"),
        sa.PrimaryKeyConstraint("article_id", "version", name="pk_kb_article_versions"),
    )
    op.create_table(
        "kb_article_tags",
        sa.Column("article_id", ID, nullable=False),
        sa.Column("tag", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_article_tags_article_id_kb_articles"),
        sa.PrimaryKeyConstraint("article_id", "tag", name="pk_kb_article_tags"),
    )
    op.create_index("ix_kb_article_tags_tag", "kb_article_tags", ["tag", "article_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE kb_search ("
                   " article_id VARCHAR(64) PRIMARY KEY REFERENCES kb_articles (id) ON DELETE CASCADE,"
                   " public BOOLEAN NOT NULL, public_doc TSVECTOR NOT NULL, staff_doc TSVECTOR NOT NULL)")
        # fastupdate off: articles are written rarely and searched often, and a pending list of
        # new entries is scanned in full by every search until a vacuum merges it (measured:
        # 1.5 ms a word instead of 0.1 after a bulk import).
        for column in ("public_doc", "staff_doc"):
            op.execute(f"CREATE INDEX ix_kb_search_{column} ON kb_search USING GIN ({column})"
                       " WITH (fastupdate = off)")
    else:
        op.execute("CREATE VIRTUAL TABLE kb_search USING fts5(article_id UNINDEXED, public UNINDEXED, title,"
                   " tags, public_body, internal_body, tokenize = 'porter unicode61 remove_diacritics 2')")


def downgrade() -> None:
    op.execute("DROP TABLE kb_search")
    op.drop_index("ix_kb_article_tags_tag", table_name="kb_article_tags")
    op.drop_table("kb_article_tags")
    op.drop_table("kb_article_versions")
    op.drop_index("ix_kb_articles_updated_at", table_name="kb_articles")
    op.drop_table("kb_articles")
