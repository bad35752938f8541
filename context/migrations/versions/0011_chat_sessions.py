"""Chat visitors' sessions: the hash of each browser's session secret, so a reconnect on any node
must present the secret and the visitor id alone no longer resumes a conversation.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_used_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("visitor_id", name="pk_chat_sessions"),
    )
    op.create_index("ix_chat_sessions_last_used_at", "chat_sessions", ["last_used_at"])


def downgrade() -> None:
    op.drop_index("ix_chat_sessions_last_used_at", table_name="chat_sessions")
    op.drop_table("chat_sessions")
