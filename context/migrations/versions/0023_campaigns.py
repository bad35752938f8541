"""Campaign notices and who acknowledged them.

Survey answers and campaign tags need no table: they are entries of the interaction event log
(``survey_answered`` under the key "survey", ``tagged`` under "tag.<tag>"), whose unique
(interaction, key) makes each written once.

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", ID, nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("starts_at", sa.Double(), nullable=False),
        sa.Column("ends_at", sa.Double(), nullable=False),
        sa.Column("notice_at", sa.Double(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("public_faq", sa.Text(), nullable=False),
        sa.Column("internal_notes", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("article_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("slug", name="uq_campaigns_slug"),
    )
    op.create_index("ix_campaigns_ends_at", "campaigns", ["ends_at"])
    op.create_table(
        "campaign_acks",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE",
                                name="fk_campaign_acks_campaign_id_campaigns"),
        sa.PrimaryKeyConstraint("campaign_id", "agent_id", name="pk_campaign_acks"),
    )
    op.create_index("ix_campaign_acks_agent_id", "campaign_acks", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_acks_agent_id", table_name="campaign_acks")
    op.drop_table("campaign_acks")
    op.drop_index("ix_campaigns_ends_at", table_name="campaigns")
    op.drop_table("campaigns")
