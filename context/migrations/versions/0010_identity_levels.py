"""Identity levels: identities each inbound interaction presented (claims among them), merge
suggestions for a person to decide, and one-time codes kept as salted hashes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interaction_identities",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("interaction_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("outcome_by", sa.String(128), nullable=True),
        sa.Column("outcome_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"], ondelete="CASCADE",
                                name="fk_interaction_identities_interaction_id_interactions"),
        sa.PrimaryKeyConstraint("id", name="pk_interaction_identities"),
    )
    op.create_index("ix_interaction_identities_interaction_id_at", "interaction_identities",
                    ["interaction_id", "at", "id"])
    op.create_table(
        "merge_suggestions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("customer_a", sa.String(64), nullable=False),
        sa.Column("customer_b", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.Column("decided_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["customer_a"], ["customers.id"],
                                name="fk_merge_suggestions_customer_a_customers"),
        sa.ForeignKeyConstraint(["customer_b"], ["customers.id"],
                                name="fk_merge_suggestions_customer_b_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_merge_suggestions"),
    )
    op.create_index("ix_merge_suggestions_customer_a_customer_b", "merge_suggestions",
                    ["customer_a", "customer_b"])
    op.create_index("ix_merge_suggestions_customer_b", "merge_suggestions", ["customer_b"])
    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("used_at", sa.Double(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_one_time_codes"),
    )
    op.create_index("ix_one_time_codes_scope_at", "one_time_codes", ["scope", "at"])


def downgrade() -> None:
    op.drop_index("ix_one_time_codes_scope_at", table_name="one_time_codes")
    op.drop_table("one_time_codes")
    op.drop_index("ix_merge_suggestions_customer_b", table_name="merge_suggestions")
    op.drop_index("ix_merge_suggestions_customer_a_customer_b", table_name="merge_suggestions")
    op.drop_table("merge_suggestions")
    op.drop_index("ix_interaction_identities_interaction_id_at", table_name="interaction_identities")
    op.drop_table("interaction_identities")
