"""Find a message by its channel reference alone (e-mail threading, webhook dedupe).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_channel_ref", "messages", ["channel_ref"])


def downgrade() -> None:
    op.drop_index("ix_messages_channel_ref", table_name="messages")
