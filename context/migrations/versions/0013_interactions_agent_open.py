"""An agent's open interactions, newest first, from an index of the open ones only.

The agent socket's ``hello`` lists them on every connect. Neither ``(agent_id, state)`` (a
``NOT IN`` on the state is no range) nor the arrival index (it walks every interaction of the
centre from the newest until it finds fifty of the agent's) served it: 24 ms each with 100,000
closed interactions, so a thousand agents reconnecting after a restart queued for seconds. A
partial index holds only the rows still open: small, and ordered for the query.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state NOT IN ('closed', 'abandoned')"  # the very text the query says, so both planners match it


def upgrade() -> None:
    op.create_index("ix_interactions_agent_id_open", "interactions", ["agent_id", "arrived_at", "id"],
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index("ix_interactions_agent_id_open", table_name="interactions")
