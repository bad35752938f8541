"""Reads of many interactions, or of one found by something other than its id: by a channel
reference or a message's, a customer's open ones, who works their customer now, the listings,
and the figures of the service level and the metrics. None of them keeps its snapshots for a
save (``Interactions.remember``): what they find is shown or decided on, not changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, or_, select, text

from context.db import Database
from context.interaction_rows import COLUMNS, MAX_REF_VALUE, load_interactions, selected_columns
from context.models import OPEN_STATES_SQL, customers, interaction_refs, interactions, messages
from cti.access import Reach
from cti.domain import Channel, Direction, Interaction, InteractionState
from cti.errors import InvalidInput
from cti.service_level import Outcome

CLOSED_STATES = (InteractionState.CLOSED.value, InteractionState.ABANDONED.value)
_OPEN = text(OPEN_STATES_SQL)
# An agent's open interactions, newest first: read at each agent socket's hello, so built once
# (building a 19-column select cost more CPU than running it). The open filter stays literal
# text, so the partial index of open interactions serves it.
_OPEN_OF_AGENT = (select(*(interactions.c[name] for name in COLUMNS))
                  .where(_OPEN).where(interactions.c.agent_id == bindparam("w_agent"))
                  .order_by(interactions.c.arrived_at.desc(), interactions.c.id.desc())
                  .limit(bindparam("w_limit", type_=Integer)))


def _working_query() -> Select[Any]:
    i = interactions.c
    root = select(customers.c.root_id).where(customers.c.id == bindparam("customer_id")).scalar_subquery()
    return (select(i.agent_id)
            .where(i.root_customer_id == root,
                   i.state.in_([InteractionState.ACTIVE.value, InteractionState.WRAP_UP.value]),
                   i.agent_id.is_not(None), i.id != bindparam("besides"))
            .order_by(i.arrived_at.desc(), i.id.desc()).limit(1))


_WORKING = _working_query()


class InteractionReads:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def find_by_ref(self, key: str, value: str) -> Interaction | None:
        """The newest interaction carrying the channel reference ``key`` = ``value``."""
        r = interaction_refs.c
        query = (select(*selected_columns()).join(interaction_refs, r.interaction_id == interactions.c.id)
                 .where(r.key == key, r.value == value)
                 .order_by(interactions.c.arrived_at.desc(), interactions.c.id.desc()).limit(1))
        async with self._db.read() as conn:
            found = await load_interactions(conn, query)
        return found[0] if found else None

    async def find_by_message_ref(self, refs: Sequence[str]) -> Interaction | None:
        """The newest interaction holding a message whose channel reference is one of ``refs``.

        How written channels thread and deduplicate: an e-mail's Message-ID, In-Reply-To and
        References, a Twilio MessageSid, a Slack event id are each a message's ``channel_ref``.
        """
        wanted = [r for r in dict.fromkeys(refs) if r and len(r) <= MAX_REF_VALUE][:100]
        if not wanted:
            return None
        m = messages.c
        holder = (select(m.interaction_id).where(m.channel_ref.in_(wanted))
                  .order_by(m.at.desc(), m.id.desc()).limit(1).scalar_subquery())
        query = select(*selected_columns()).where(interactions.c.id == holder)
        async with self._db.read() as conn:
            found = await load_interactions(conn, query)
        return found[0] if found else None

    async def open_for(self, customer_id: str, channel: Channel | None) -> Sequence[Interaction]:
        """Interactions of the customer's whole merge tree not closed or abandoned, newest first."""
        i = interactions.c
        root = select(customers.c.root_id).where(customers.c.id == customer_id).scalar_subquery()
        query = (select(*selected_columns()).where(i.root_customer_id == root, i.state.not_in(CLOSED_STATES))
                 .order_by(i.arrived_at.desc(), i.id.desc()))
        if channel is not None:
            query = query.where(i.channel == channel.value)
        async with self._db.read() as conn:
            return await load_interactions(conn, query)

    async def working_agent(self, customer_id: str, besides: str) -> str | None:
        """The agent of the newest interaction of the customer's merge tree that is being worked
        (active or wrap-up), other than ``besides``: one row off the tree's index."""
        async with self._db.read() as conn:
            found: str | None = (await conn.execute(
                _WORKING, {"customer_id": customer_id, "besides": besides})).scalar_one_or_none()
        return found

    async def outcomes(self, since: float) -> list[Outcome]:
        """Inbound interactions that arrived at ``since`` or later, for the service level."""
        i = interactions.c
        query = (select(i.queue, i.channel, i.state, i.queued_at, i.answered_at, i.ended_at)
                 .where(i.arrived_at >= since, i.direction == Direction.INBOUND.value))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [Outcome(queue=r.queue, channel=Channel(r.channel), state=InteractionState(r.state),
                        queued_at=r.queued_at, answered_at=r.answered_at, ended_at=r.ended_at)
                for r in rows]

    async def open_counts(self) -> dict[tuple[str, str], int]:
        """Open interactions by (channel, state): the metrics' live figure."""
        i = interactions.c
        query = select(i.channel, i.state, func.count()).where(_OPEN).group_by(i.channel, i.state)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

    async def listing(self, *, states: Sequence[InteractionState] | None, agent_id: str | None,
                      limit: int, open_only: bool, scope: Reach | None = None) -> Sequence[Interaction]:
        if limit < 1:
            raise InvalidInput("bad-limit", "'limit' must be at least 1")
        if states is None and open_only and agent_id is not None and scope is None:
            async with self._db.read() as conn:
                return await load_interactions(conn, _OPEN_OF_AGENT, {"w_agent": agent_id, "w_limit": limit})
        i = interactions.c
        query = select(*selected_columns()).order_by(i.arrived_at.desc(), i.id.desc()).limit(limit)
        if states is not None:
            query = query.where(i.state.in_([s.value for s in states]))
        if open_only:
            # Literal text, so the partial index of open interactions serves an agent's list.
            query = query.where(_OPEN)
        if agent_id is not None:
            query = query.where(i.agent_id == agent_id)
        if scope is not None:
            query = query.where(or_(i.queue.in_(list(scope.queues)), i.agent_id.in_(list(scope.agents))))
        async with self._db.read() as conn:
            return await load_interactions(conn, query)
