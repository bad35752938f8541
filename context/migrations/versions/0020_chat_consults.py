"""Consults about a chat before its hand-over (warm transfer of chats): who asked whom, and when
and why it ended. What the agents said is not stored.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_consults",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("interaction_id", sa.String(64), nullable=False),
        sa.Column("from_agent", sa.String(100), nullable=False),
        sa.Column("to_agent", sa.String(100), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.Column("ended_why", sa.String(120), nullable=True),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"], ondelete="CASCADE",
                                name="fk_chat_consults_interaction_id_interactions"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_consults"),
    )
    op.create_index("ix_chat_consults_interaction_id", "chat_consults", ["interaction_id"])
    op.create_index("uq_chat_consults_open", "chat_consults", ["interaction_id"], unique=True,
                    sqlite_where=sa.text("ended_at IS NULL"), postgresql_where=sa.text("ended_at IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_chat_consults_open", table_name="chat_consults")
    op.drop_index("ix_chat_consults_interaction_id", table_name="chat_consults")
    op.drop_table("chat_consults")
