"""Messages and notes carry their interaction's root customer (migration 0012's triggers), also
when a message is stored while a merge re-roots its interaction (PostgreSQL, two connections)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from context.store import SqlContextStore
from tests.context.builders import T0, interaction, note, phone

INSERT = ("INSERT INTO messages (id, interaction_id, sender, body, at) "
          "VALUES (%s, 'int-1', 'customer', 'during a merge', 1)")
REROOT = "UPDATE interactions SET root_customer_id = %s WHERE id = 'int-1'"


def _blocked(watcher: psycopg.Connection, pid: int) -> None:
    """Until the backend ``pid`` waits on a lock (10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                              (pid,)).fetchone()
        if row is not None and row[0] == "Lock":
            return
        time.sleep(0.005)
    raise AssertionError(f"backend {pid} never waited on a lock")


def _in_thread(conn: psycopg.Connection, sql: str, value: str) -> threading.Thread:
    thread = threading.Thread(target=conn.execute, args=(sql, (value,)))
    thread.start()
    return thread


# PostgreSQL only: SQLite has one writer at a time, so there is no interleaving to check.
@pytest.mark.integration
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_message_stored_during_a_merge_follows_it(store: SqlContextStore, db_url: str,
                                                          backend: str) -> None:
    a = (await store.resolve_customer([phone("+15550001111")], display_name=None, actor="t", reason="r")).id
    b = (await store.resolve_customer([phone("+15550002222")], display_name=None, actor="t", reason="r")).id
    await store.save_interaction(interaction("int-1", b, at=T0))
    await store.add_note(note("not-1", "int-1", "before", at=T0))
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as merger, psycopg.connect(dsn) as writer, \
            psycopg.connect(dsn, autocommit=True) as watcher:
        # The merge's update first: the insert waits for it, then reads the new root.
        merger.execute(REROOT, (a,))
        thread = _in_thread(writer, INSERT, "msg-1")
        _blocked(watcher, writer.info.backend_pid)
        merger.commit()
        thread.join(10)
        writer.commit()
        first = watcher.execute("SELECT root_customer_id FROM messages WHERE id = 'msg-1'").fetchone()
        # The insert first: the merge's update waits for it, then re-roots the new row too.
        writer.execute(INSERT, ("msg-2",))
        thread = _in_thread(merger, REROOT, b)
        _blocked(watcher, merger.info.backend_pid)
        writer.commit()
        thread.join(10)
        merger.commit()
        roots: dict[str, str] = dict(watcher.execute("SELECT id, root_customer_id FROM messages").fetchall())
        notes = watcher.execute("SELECT root_customer_id FROM notes").fetchall()
    assert first == (a,)
    assert roots == {"msg-1": b, "msg-2": b}
    assert notes == [(b,)]
