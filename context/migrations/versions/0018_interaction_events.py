"""The interactions' append-only event log, and the entries that existing rows imply.

From here on every state change writes its entries in its own save (``cti.eventlog``). Rows
stored before have only their summary timestamps; the entries they imply are written once here,
with node "migration" and keys "m.<kind>" (never a save's "<version>.<n>"):

- queued (why arrival) at ``queued_at``;
- offered to ``agent_id`` at ``offered_at``, when set;
- accepted by ``agent_id`` at ``answered_at`` (outbound work an agent started: at ``arrived_at``);
- wrap_up at ``ended_at`` for rows still in wrap-up;
- closed at ``ended_at`` for closed rows, abandoned at ``ended_at`` for abandoned ones.

What the old columns cannot tell (transfers, missed offers, holds, a closed row's wrap-up start)
is not invented: a transferred interaction migrates as one segment.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(64)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # 64 bits on both (SQLite's row id)

_interactions = sa.table(
    "interactions", sa.column("id", ID), sa.column("channel", sa.String), sa.column("queue", sa.String),
    sa.column("direction", sa.String), sa.column("state", sa.String), sa.column("agent_id", sa.String),
    sa.column("arrived_at", sa.Double), sa.column("queued_at", sa.Double), sa.column("offered_at", sa.Double),
    sa.column("answered_at", sa.Double), sa.column("ended_at", sa.Double))
_events = sa.table(
    "interaction_events", sa.column("interaction_id", ID), sa.column("key", sa.String),
    sa.column("kind", sa.String), sa.column("at", sa.Double), sa.column("channel", sa.String),
    sa.column("queue", sa.String), sa.column("agent_id", sa.String), sa.column("node", sa.String),
    sa.column("details", sa.JSON))


def upgrade() -> None:
    op.create_table(
        "interaction_events",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("interaction_id", ID, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("node", sa.String(128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"], ondelete="CASCADE",
                                name="fk_interaction_events_interaction_id_interactions"),
        sa.PrimaryKeyConstraint("seq", name="pk_interaction_events"),
    )
    op.create_index("uq_interaction_events_interaction_id_key", "interaction_events",
                    ["interaction_id", "key"], unique=True)
    op.create_index("ix_interaction_events_interaction_id_at", "interaction_events",
                    ["interaction_id", "at", "seq"])
    op.create_index("ix_interaction_events_at", "interaction_events", ["at"])
    op.create_index("ix_interaction_events_queue_at", "interaction_events", ["queue", "at"])
    op.create_index("ix_interaction_events_channel_at", "interaction_events", ["channel", "at"])
    op.create_index("ix_interaction_events_agent_id_at", "interaction_events", ["agent_id", "at"])
    _backfill()


def _backfill() -> None:
    """One INSERT … SELECT per kind, in the order the kinds happen: the sequence numbers then
    order entries of the same instant (offered and accepted at once) as they happened."""
    i = _interactions.c
    outbound = i.direction == "outbound"
    kinds: list[tuple[str, sa.ColumnElement[float], sa.ColumnElement[bool], dict[str, object],
                      sa.ColumnElement[str] | None]] = [
        ("queued", i.queued_at, i.queued_at.is_not(None), {"why": "arrival"}, None),
        ("offered", i.offered_at, i.offered_at.is_not(None) & i.agent_id.is_not(None), {}, i.agent_id),
        ("accepted", i.answered_at, i.answered_at.is_not(None) & i.agent_id.is_not(None), {}, i.agent_id),
        ("accepted", i.arrived_at, outbound & i.answered_at.is_(None) & i.queued_at.is_(None)
         & i.agent_id.is_not(None), {"outbound": True}, i.agent_id),
        ("wrap_up", i.ended_at, (i.state == "wrap_up") & i.ended_at.is_not(None), {}, i.agent_id),
        ("closed", sa.func.coalesce(i.ended_at, i.answered_at, i.arrived_at), i.state == "closed", {},
         i.agent_id),
        ("abandoned", sa.func.coalesce(i.ended_at, i.queued_at, i.arrived_at), i.state == "abandoned", {},
         i.agent_id),
    ]
    for n, (kind, at, where, details, agent) in enumerate(kinds):
        select = sa.select(
            i.id, sa.literal(f"m.{n}.{kind}"), sa.literal(kind), at, i.channel, i.queue,
            agent if agent is not None else sa.null(), sa.literal("migration"),
            sa.literal(details, type_=sa.JSON)).where(where)
        op.execute(_events.insert().from_select(
            ["interaction_id", "key", "kind", "at", "channel", "queue", "agent_id", "node", "details"],
            select))


def downgrade() -> None:
    for index in ("ix_interaction_events_agent_id_at", "ix_interaction_events_channel_at",
                  "ix_interaction_events_queue_at", "ix_interaction_events_at",
                  "ix_interaction_events_interaction_id_at", "uq_interaction_events_interaction_id_key"):
        op.drop_index(index, table_name="interaction_events")
    op.drop_table("interaction_events")
