"""Customers, identities, merges, interactions with their references, context, messages and
notes, and the audit log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", ID, nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("merged_into", ID, nullable=True),
        sa.Column("root_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.ForeignKeyConstraint(["merged_into"], ["customers.id"], name="fk_customers_merged_into_customers"),
        sa.ForeignKeyConstraint(["root_id"], ["customers.id"], name="fk_customers_root_id_customers"),
    )
    op.create_index("ix_customers_merged_into", "customers", ["merged_into"])
    op.create_index("ix_customers_root_id", "customers", ["root_id"])

    op.create_table(
        "identities",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("added_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name="pk_identities"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_identities_customer_id_customers"),
    )
    op.create_index("ix_identities_customer_id", "identities", ["customer_id"])

    op.create_table(
        "merges",
        sa.Column("id", ID, nullable=False),
        sa.Column("survivor_id", ID, nullable=False),
        sa.Column("merged_id", ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("undone_at", sa.Double(), nullable=True),
        sa.Column("undone_by", sa.String(128), nullable=True),
        sa.Column("proof_kind", sa.String(16), nullable=True),
        sa.Column("proof_value", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_merges"),
        sa.ForeignKeyConstraint(["survivor_id"], ["customers.id"], name="fk_merges_survivor_id_customers"),
        sa.ForeignKeyConstraint(["merged_id"], ["customers.id"], name="fk_merges_merged_id_customers"),
    )
    op.create_index("ix_merges_survivor_id", "merges", ["survivor_id"])
    op.create_index("ix_merges_merged_id", "merges", ["merged_id"])

    op.create_table(
        "interactions",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("root_customer_id", ID, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Double(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("arrived_at", sa.Double(), nullable=False),
        sa.Column("queued_at", sa.Double(), nullable=True),
        sa.Column("offered_at", sa.Double(), nullable=True),
        sa.Column("answered_at", sa.Double(), nullable=True),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("disposition", sa.String(200), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("customer_left", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_interactions_customer_id_customers"),
        sa.ForeignKeyConstraint(["root_customer_id"], ["customers.id"],
                                name="fk_interactions_root_customer_id_customers"),
    )
    op.create_index("ix_interactions_customer_id", "interactions", ["customer_id"])
    op.create_index("ix_interactions_root_customer_id_arrived_at", "interactions",
                    ["root_customer_id", "arrived_at", "id"])
    op.create_index("ix_interactions_state_arrived_at", "interactions", ["state", "arrived_at"])
    op.create_index("ix_interactions_agent_id_state", "interactions", ["agent_id", "state"])

    op.create_table(
        "interaction_refs",
        sa.Column("interaction_id", ID, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(1000), nullable=False),
        sa.PrimaryKeyConstraint("interaction_id", "key", name="pk_interaction_refs"),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"], ondelete="CASCADE",
                                name="fk_interaction_refs_interaction_id_interactions"),
    )
    op.create_index("ix_interaction_refs_key_value", "interaction_refs", ["key", "value"])

    op.create_table(
        "interaction_context",
        sa.Column("interaction_id", ID, nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("interaction_id", "key", name="pk_interaction_context"),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"], ondelete="CASCADE",
                                name="fk_interaction_context_interaction_id_interactions"),
    )

    op.create_table(
        "messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("interaction_id", ID, nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("channel_ref", sa.String(1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"], ondelete="CASCADE",
                                name="fk_messages_interaction_id_interactions"),
    )
    op.create_index("ix_messages_interaction_id_at", "messages", ["interaction_id", "at", "id"])
    op.create_index("uq_messages_interaction_id_channel_ref", "messages", ["interaction_id", "channel_ref"],
                    unique=True)

    op.create_table(
        "notes",
        sa.Column("id", ID, nullable=False),
        sa.Column("interaction_id", ID, nullable=False),
        sa.Column("author_id", sa.String(128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notes"),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"], ondelete="CASCADE",
                                name="fk_notes_interaction_id_interactions"),
    )
    op.create_index("ix_notes_interaction_id_at", "notes", ["interaction_id", "at", "id"])

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.UniqueConstraint("id", name="uq_audit_log_id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at", "seq"])
    op.create_index("ix_audit_log_target_at", "audit_log", ["target", "at", "seq"])


def downgrade() -> None:
    for table in ("audit_log", "notes", "messages", "interaction_context", "interaction_refs", "interactions",
                  "merges", "identities", "customers"):
        op.drop_table(table)
