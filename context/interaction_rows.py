"""An interaction's row and its key/value pairs, both ways: the columns stored, the checks and
values of a save (``values_of``), and the snapshots of selected rows (``load_interactions``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, literal_column, select, union_all

from context.db import Conn
from context.models import interaction_context, interaction_refs, interactions
from cti.domain import Channel, Direction, Interaction, InteractionState
from cti.errors import InvalidInput

MAX_REF_KEY = 64
MAX_REF_VALUE = 1000
MAX_CONTEXT_KEY = 128
_IN_CHUNK = 500  # ids per IN list when loading references and context

COLUMNS = (
    "id", "customer_id", "channel", "direction", "queue", "state", "priority", "skills", "arrived_at",
    "queued_at", "offered_at", "answered_at", "ended_at", "agent_id", "disposition", "subject",
    "customer_left", "version")

def values_of(interaction: Interaction) -> dict[str, Any]:
    for key, value in interaction.channel_refs.items():
        if not key or len(key) > MAX_REF_KEY or len(value) > MAX_REF_VALUE:
            raise InvalidInput("bad-channel-ref",
                               f"channel reference {key[:MAX_REF_KEY]!r} is empty or too long")
    for key in interaction.context:
        if not key or len(key) > MAX_CONTEXT_KEY:
            raise InvalidInput("bad-context-key",
                               f"context key {key[:MAX_CONTEXT_KEY]!r} is empty or too long")
    values = {name: getattr(interaction, name) for name in COLUMNS}
    values.update(channel=interaction.channel.value, direction=interaction.direction.value,
                  state=interaction.state.value, skills=dict(interaction.skills))
    return values


def selected_columns() -> list[Any]:
    return [interactions.c[name] for name in COLUMNS]


async def load_interactions(conn: Conn, query: Any,
                            params: Mapping[str, Any] | None = None) -> list[Interaction]:
    rows = (await conn.execute(query, params)).all()
    if not rows:
        return []
    wanted = [r.id for r in rows]
    refs: dict[str, dict[str, str]] = {i: {} for i in wanted}
    collected: dict[str, dict[str, str]] = {i: {} for i in wanted}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start:start + _IN_CHUNK]
        # References and context in one round trip: every interaction load pays it.
        r, c = interaction_refs.c, interaction_context.c
        pairs = union_all(
            select(literal_column("'r'").label("src"), r.interaction_id, r.key, r.value)
            .where(r.interaction_id.in_(chunk)),
            select(literal_column("'c'").label("src"), c.interaction_id, c.key, c.value)
            .where(c.interaction_id.in_(chunk))).subquery()
        for row in (await conn.execute(select(pairs).order_by(pairs.c.key))).all():
            (refs if row.src == "r" else collected)[row.interaction_id][row.key] = row.value
    return [interaction_of(r, refs[r.id], collected[r.id]) for r in rows]


def interaction_of(r: Row[Any], refs: Mapping[str, str], collected: Mapping[str, str]) -> Interaction:
    return Interaction(
        id=r.id, channel=Channel(r.channel), direction=Direction(r.direction), customer_id=r.customer_id,
        queue=r.queue, state=InteractionState(r.state), priority=r.priority,
        skills={str(k): int(v) for k, v in (r.skills or {}).items()}, arrived_at=r.arrived_at,
        queued_at=r.queued_at, offered_at=r.offered_at, answered_at=r.answered_at, ended_at=r.ended_at,
        agent_id=r.agent_id, channel_refs=refs, context=collected, disposition=r.disposition,
        subject=r.subject, customer_left=bool(r.customer_left), version=r.version)
