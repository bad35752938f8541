"""Password hashes upgraded at log-in (pbkdf2 to argon2id), kept beside the configuration file.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credential_upgrades",
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("replaces", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(400), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name="pk_credential_upgrades"),
    )


def downgrade() -> None:
    op.drop_table("credential_upgrades")
