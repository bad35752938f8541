"""Interactions indexed by arrival, for the service level of a recent window.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_interactions_arrived_at", "interactions", ["arrived_at"])


def downgrade() -> None:
    op.drop_index("ix_interactions_arrived_at", table_name="interactions")
