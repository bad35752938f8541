"""Agents' replies record their delivery, so a reply stored by a node that died before sending
it is sent by another.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("delivery", sa.String(16), nullable=True))
    # Replies from before were sent or not long ago: none may go out again now.
    op.execute("UPDATE messages SET delivery = 'legacy' WHERE sender = 'agent'")
    op.create_index("ix_messages_sender_delivery_at", "messages", ["sender", "delivery", "at"])


def downgrade() -> None:
    op.drop_index("ix_messages_sender_delivery_at", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("delivery")
