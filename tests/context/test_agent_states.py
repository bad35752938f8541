"""Agents' stored states, on SQLite and PostgreSQL: one row per agent, the last write wins."""

from __future__ import annotations

from sqlalchemy import insert

from context.db import Conn
from context.models import agent_states
from context.store import SqlContextStore
from cti.agent_records import StoredAgentState
from cti.domain import AgentState


async def test_the_last_state_of_each_agent_is_kept(store: SqlContextStore) -> None:
    states = store.agent_states
    assert await states.load_all() == []
    await states.save(StoredAgentState("alice", AgentState.AVAILABLE, None, 10.0))
    await states.save(StoredAgentState("bob", AgentState.AWAY, "lunch", 11.0))
    await states.save(StoredAgentState("alice", AgentState.AWAY, "no-answer", 12.5))
    got = sorted(await states.load_all(), key=lambda r: r.agent_id)
    assert got == [StoredAgentState("alice", AgentState.AWAY, "no-answer", 12.5),
                   StoredAgentState("bob", AgentState.AWAY, "lunch", 11.0)]


async def test_a_state_this_version_does_not_know_is_skipped(store: SqlContextStore) -> None:
    async def newer_version(conn: Conn) -> None:  # a row a newer version of the server wrote
        await conn.execute(insert(agent_states).values(agent_id="carol", state="napping", at=1.0))

    await store._db.write(newer_version)
    await store.agent_states.save(StoredAgentState("alice", AgentState.BUSY, None, 2.0))
    assert await store.agent_states.load_all() == [StoredAgentState("alice", AgentState.BUSY, None, 2.0)]
