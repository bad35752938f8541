"""Messages and notes carry their interaction's root customer, so a timeline page reads the
newest 50 of each kind straight off one index, however many interactions the customer has.

Before this, the messages and notes of a customer were reached through all of the customer's
interactions and sorted: fine for a customer with ten interactions, tens of milliseconds for one
with thousands. ``root_customer_id`` on messages and notes is a copy of the interaction's, kept
by the database itself (triggers), so every writer (one message, a batch, a merge, an unmerge, an
interaction moved to another customer) keeps it right without knowing about it:

* a message or note inserted takes its interaction's root;
* an interaction whose ``root_customer_id`` changes passes the new root to its messages and notes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("messages", "notes")

# PostgreSQL: a BEFORE INSERT trigger sets the row's root as it goes in; functions are created in
# the current schema (the first of search_path), as the tables are. FOR SHARE: a merge re-rooting
# the interaction at the same time (its UPDATE locks the row) either finishes first, and the insert
# reads the new root once it commits, or waits for the insert to commit, and its own trigger then
# re-roots the new row too. Without the lock, a message stored during a merge could keep the
# merged customer's root and be missing from the survivor's timeline. (Two transactions that
# each store a message and then update the same interaction can now deadlock; PostgreSQL aborts
# one and context.db's write loop runs it again, as for any deadlock.)
PG_UP = [
    """CREATE FUNCTION timeline_root_of_interaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT root_customer_id INTO NEW.root_customer_id FROM interactions WHERE id = NEW.interaction_id
    FOR SHARE;
    RETURN NEW;
END $$""",
    """CREATE FUNCTION timeline_root_follows_interaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET root_customer_id = NEW.root_customer_id WHERE interaction_id = NEW.id;
    UPDATE notes SET root_customer_id = NEW.root_customer_id WHERE interaction_id = NEW.id;
    RETURN NULL;
END $$""",
    *(f"""CREATE TRIGGER trg_{t}_root_customer_id BEFORE INSERT ON {t}
FOR EACH ROW EXECUTE FUNCTION timeline_root_of_interaction()""" for t in TABLES),
    """CREATE TRIGGER trg_interactions_root_customer_id AFTER UPDATE OF root_customer_id ON interactions
FOR EACH ROW WHEN (OLD.root_customer_id IS DISTINCT FROM NEW.root_customer_id)
EXECUTE FUNCTION timeline_root_follows_interaction()""",
]
PG_DOWN = [
    "DROP TRIGGER trg_interactions_root_customer_id ON interactions",
    *(f"DROP TRIGGER trg_{t}_root_customer_id ON {t}" for t in TABLES),
    "DROP FUNCTION timeline_root_follows_interaction()",
    "DROP FUNCTION timeline_root_of_interaction()",
]
# SQLite cannot change NEW in a trigger: the inserted row is updated right after, by primary key.
SQLITE_UP = [
    *(f"""CREATE TRIGGER trg_{t}_root_customer_id AFTER INSERT ON {t} FOR EACH ROW BEGIN
    UPDATE {t}
    SET root_customer_id = (SELECT root_customer_id FROM interactions WHERE id = NEW.interaction_id)
    WHERE id = NEW.id;
END""" for t in TABLES),
    """CREATE TRIGGER trg_interactions_root_customer_id AFTER UPDATE OF root_customer_id ON interactions
FOR EACH ROW WHEN OLD.root_customer_id IS NOT NEW.root_customer_id BEGIN
    UPDATE messages SET root_customer_id = NEW.root_customer_id WHERE interaction_id = NEW.id;
    UPDATE notes SET root_customer_id = NEW.root_customer_id WHERE interaction_id = NEW.id;
END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER trg_interactions_root_customer_id",
    *(f"DROP TRIGGER trg_{t}_root_customer_id" for t in TABLES),
]


def upgrade() -> None:
    for table in TABLES:
        # Nullable: SQLite adds a column NOT NULL only with a default, and its trigger fills the
        # value just after the insert. Every row has one once the statement is done.
        op.add_column(table, sa.Column("root_customer_id", sa.String(64), nullable=True))
        op.execute(f"UPDATE {table} SET root_customer_id = (SELECT i.root_customer_id FROM interactions i "
                   f"WHERE i.id = {table}.interaction_id)")
        op.create_index(f"ix_{table}_root_customer_id_at", table, ["root_customer_id", "at", "id"])
    for statement in PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in PG_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
    for table in reversed(TABLES):
        op.drop_index(f"ix_{table}_root_customer_id_at", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("root_customer_id")
