"""Agents' stored states (``cti.agent_records.AgentStateRecords``): one row per agent, replaced whole."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from context.db import Conn, Database
from context.models import agent_states
from cti.agent_records import StoredAgentState
from cti.domain import AgentState

log = logging.getLogger(__name__)


class SqlAgentStates:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def save(self, record: StoredAgentState) -> None:
        values = {"state": record.state.value, "reason": record.reason, "at": record.at}

        async def work(conn: Conn) -> None:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(agent_states).values(agent_id=record.agent_id, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[agent_states.c.agent_id],
                                                          set_=values))

        await self._db.write(work)

    async def load_all(self) -> Sequence[StoredAgentState]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(agent_states.c.agent_id, agent_states.c.state,
                                              agent_states.c.reason, agent_states.c.at))).all()
        out: list[StoredAgentState] = []
        for agent_id, state, reason, at in rows:
            try:
                out.append(StoredAgentState(agent_id=agent_id, state=AgentState(state), reason=reason, at=at))
            except ValueError:  # a state this version does not know (a newer node wrote it)
                log.warning("stored agent state ignored agent=%s state=%r", agent_id, state)
        return out
