"""Inbound message refs claimed by their first delivery (webhooks on several nodes at once).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_claims",
        sa.Column("ref", sa.String(1000), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("ref", name="pk_inbound_claims"),
    )


def downgrade() -> None:
    op.drop_table("inbound_claims")
