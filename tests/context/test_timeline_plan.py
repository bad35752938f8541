"""The timeline page is one statement that PostgreSQL answers from indexes.

On a few thousand customers' worth of history (generated in the database, then ANALYZEd), the
plan must reach interactions, messages and notes through their indexes only: no sequential scan
of any of them, for a first page and for a page after a cursor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, String, bindparam, create_engine, text

from context.migrate import sync_url, upgrade
from context.timeline import Cursor, timeline_query

pytestmark = pytest.mark.integration

CUSTOMERS = 1_000
FILL = """
INSERT INTO customers (id, display_name, created_at, root_id)
    SELECT 'cus-' || g, NULL, g, 'cus-' || g FROM generate_series(1, :customers) g;
INSERT INTO interactions (id, customer_id, root_customer_id, channel, direction, queue, state, priority,
                          skills, arrived_at, customer_left)
    SELECT 'int-' || g, 'cus-' || (g % :customers + 1), 'cus-' || (g % :customers + 1),
           (ARRAY['voice','chat','email','sms'])[g % 4 + 1], 'inbound', 'support', 'closed', 1, '{}', g, false
    FROM generate_series(1, :customers * 10) g;
INSERT INTO messages (id, interaction_id, sender, body, at)
    SELECT 'msg-' || g, 'int-' || (g % (:customers * 10) + 1), 'customer', 'a message', g
    FROM generate_series(1, :customers * 20) g;
INSERT INTO notes (id, interaction_id, author_id, body, at)
    SELECT 'not-' || g, 'int-' || (g % (:customers * 10) + 1), 'a1', 'a note', g
    FROM generate_series(1, :customers * 10) g;
"""


@pytest.fixture
def conn(postgres_url: str, unique_prefix: str) -> Iterator[Connection]:
    url = postgres_url + f"?options=-csearch_path%3D{unique_prefix}"
    admin = create_engine(sync_url(postgres_url))
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{unique_prefix}"'))
    engine = create_engine(sync_url(url))
    try:
        upgrade(url)
        with engine.begin() as c:
            for statement in filter(str.strip, FILL.split(";")):
                c.execute(text(statement), {"customers": CUSTOMERS})
        with engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("ANALYZE customers, interactions, messages, notes"))
            yield c
    finally:
        engine.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{unique_prefix}" CASCADE'))
        admin.dispose()


def _plan(conn: Connection, cursor: Cursor | None) -> dict[str, Any]:
    query = timeline_query("cus-7", limit=51, before=cursor, body_limit=500)
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    plan: Any = conn.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]  # type: ignore[no-any-return]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_the_timeline_is_read_through_indexes(conn: Connection) -> None:
    for cursor in (None, Cursor(at=15_000.0, id="int-0", kind="interaction")):
        nodes = list(_nodes(_plan(conn, cursor)))

        assert [n.get("Relation Name") for n in nodes if n["Node Type"] == "Seq Scan"] == []
        indexes = {n["Index Name"] for n in nodes if "Index Name" in n}
        assert "pk_customers" in indexes  # the customer's root
        assert "ix_interactions_root_customer_id_arrived_at" in indexes
        # The messages and notes branches: by their interactions' ids (before migration 0012) or
        # by the root they carry since.
        assert indexes & {"ix_messages_interaction_id_at", "uq_messages_interaction_id_channel_ref",
                          "ix_messages_root_customer_id_at"}
        assert indexes & {"ix_notes_interaction_id_at", "ix_notes_root_customer_id_at"}
        # The page is cut in the database: the top node is the LIMIT over the merged branches.
        assert nodes[0]["Node Type"] == "Limit"



def _executed(conn: Connection, cursor: Cursor | None, *, generic: bool) -> dict[str, Any]:
    """The plan of one page as run (``EXPLAIN ANALYZE``): with its values inlined (a custom plan,
    as ``bench history`` times it), or prepared with a generic plan, which is what PostgreSQL
    settles on for the server's statements (prepared by the driver after a few runs, values bound)."""
    if not generic:
        query = timeline_query("cus-7", limit=51, before=cursor, body_limit=500)
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        plan: Any = conn.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)).scalar_one()
        return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]  # type: ignore[no-any-return]
    query = timeline_query(bindparam("customer_id", type_=String), limit=51, before=cursor, body_limit=500)
    compiled = query.compile(dialect=conn.dialect)
    values = {**compiled.params, "customer_id": "cus-7"}
    names: list[str] = []  # the driver's %(name)s become PREPARE's $1, $2, ...

    def number(found: re.Match[str]) -> str:
        if found[1] not in names:
            names.append(found[1])
        return f"${names.index(found[1]) + 1}"

    conn.execute(text("SET plan_cache_mode = force_generic_plan"))
    conn.exec_driver_sql("PREPARE page AS " + re.sub(r"%\((\w+)\)s", number, str(compiled)))
    try:
        args = ", ".join(_literal(values[name]) for name in names)
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE page({args})").scalar_one()
    finally:
        conn.exec_driver_sql("DEALLOCATE page")
        conn.execute(text("RESET plan_cache_mode"))
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]  # type: ignore[no-any-return]


def _literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"no literal for {value!r}")


@pytest.mark.parametrize("generic", [False, True], ids=["values-inlined", "prepared-generic"])
def test_the_page_reads_each_customer_and_interaction_once(conn: Connection, generic: bool) -> None:
    for cursor in (None, Cursor(at=15_000.0, id="int-0", kind="interaction")):
        nodes = list(_nodes(_executed(conn, cursor, generic=generic)))

        # The customer's root: one primary-key lookup for the three branches.
        customers = [n for n in nodes if n.get("Index Name") == "pk_customers"]
        assert [n["Actual Loops"] for n in customers] == [1]
        # The page's interactions (channel, customer, state): one scan over the page's interaction
        # ids, each read once, not a primary-key descent per entry of the page, whatever join the
        # planner puts around it.
        lookups = [n for n in nodes if n.get("Index Name") == "pk_interactions"]
        assert [n["Actual Loops"] for n in lookups] == [1]
        assert "= ANY" in lookups[0]["Index Cond"]
