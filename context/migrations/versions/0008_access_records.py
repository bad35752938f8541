"""Access records: who held which interaction, customers shared with agents, the files each
customer message carried (recorded at receive time), revoked log-in tokens and one-time
WebSocket tickets.

Old messages keep their files: the bodies of customer messages received by e-mail and SMS
(never chat, where the customer types the text) are read once here for the listing lines their
channel wrote. Agents who answered an interaction before keep it as held.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(64)

# The lines the e-mail and SMS channels wrote under a message (adapters/email/body.py,
# adapters/sms/parsing.py), copied: a migration must not change when those modules do.
EMAIL_LINE = re.compile(
    r"^\[attachment\] (?P<filename>.+) \((?P<type>[^,()]+), [^()]+\) (?P<ref>sha256:[0-9a-f]{64})$",
    re.MULTILINE)
SMS_LINE = re.compile(r"^\[(?P<type>[^\]\s]+)\] (?P<ref>https://\S+)$", re.MULTILINE)
BATCH = 500


def upgrade() -> None:
    op.create_table(
        "interaction_holders",
        sa.Column("interaction_id", ID, nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("first_at", sa.Double(), nullable=False),
        sa.Column("last_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"], ondelete="CASCADE",
                                name="fk_interaction_holders_interaction_id_interactions"),
        sa.PrimaryKeyConstraint("interaction_id", "agent_id", name="pk_interaction_holders"),
    )
    op.create_index("ix_interaction_holders_agent_id_last_at", "interaction_holders", ["agent_id", "last_at"])
    op.create_table(
        "customer_shares",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("shared_by", sa.String(128), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("until", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_customer_shares_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_customer_shares"),
    )
    op.create_index("ix_customer_shares_customer_id", "customer_shares", ["customer_id"])
    op.create_index("ix_customer_shares_agent_id_until", "customer_shares", ["agent_id", "until"])
    attachments = op.create_table(
        "message_attachments",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(1000), nullable=False),
        sa.Column("filename", sa.String(500), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE",
                                name="fk_message_attachments_message_id_messages"),
        sa.PrimaryKeyConstraint("message_id", "position", name="pk_message_attachments"),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_revoked_tokens"),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])
    op.create_table(
        "ws_tickets",
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("ticket", name="pk_ws_tickets"),
    )
    op.create_index("ix_ws_tickets_expires_at", "ws_tickets", ["expires_at"])
    _backfill_attachments(attachments)
    op.execute(
        "INSERT INTO interaction_holders (interaction_id, agent_id, first_at, last_at) "
        "SELECT id, agent_id, answered_at, COALESCE(ended_at, answered_at) FROM interactions "
        "WHERE agent_id IS NOT NULL AND answered_at IS NOT NULL")


def _backfill_attachments(table: sa.Table) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT m.id, m.body, i.channel FROM messages m JOIN interactions i ON i.id = m.interaction_id "
        "WHERE m.sender = 'customer' AND i.channel IN ('email', 'sms')"))
    batch: list[dict[str, object]] = []
    for message_id, body, channel in rows:
        pattern = EMAIL_LINE if channel == "email" else SMS_LINE
        for position, found in enumerate(pattern.finditer(body or "")):
            batch.append({"message_id": message_id, "position": position, "ref": found["ref"],
                          "filename": found.groupdict().get("filename") or "",
                          "content_type": found["type"][:200]})
        if len(batch) >= BATCH:
            op.bulk_insert(table, batch)
            batch = []
    if batch:
        op.bulk_insert(table, batch)


def downgrade() -> None:
    op.drop_table("ws_tickets")
    op.drop_table("revoked_tokens")
    op.drop_table("message_attachments")
    op.drop_table("customer_shares")
    op.drop_table("interaction_holders")
