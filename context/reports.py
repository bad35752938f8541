"""What the reports read besides the event log: interactions as contacts (their customer's root,
channel, direction, arrival, disposition and IVR reason), by arrival range or by customer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select

from context.db import Database
from context.eventlog import logs_of
from context.models import customers, interaction_context, interactions
from cti.errors import InvalidInput
from cti.eventlog import LogEntry
from cti.reports import Contact

# Contacts one range read loads at most, as the event log's range read (a report is bounded).
MAX_RANGE_CONTACTS = 200_000
IVR_REASON = "ivr.reason"  # the context key the telephony bridge stores the IVR's reason under

_I = interactions.c
_X = interaction_context.c
_COLUMNS = (_I.id, _I.root_customer_id, _I.channel, _I.direction, _I.arrived_at, _I.queue, _I.agent_id,
            _I.disposition, _X.value)
_WITH_REASON = interactions.outerjoin(interaction_context,
                                      and_(_X.interaction_id == _I.id, _X.key == IVR_REASON))


def _contact(row: Any) -> Contact:
    iid, customer, channel, direction, arrived_at, queue, agent_id, disposition, reason = row
    return Contact(interaction_id=iid, customer_id=customer, channel=channel, direction=direction,
                   arrived_at=arrived_at, queue=queue, agent_id=agent_id, disposition=disposition,
                   reason=reason)


class ReportStore:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def contacts(self, start: float, end: float) -> list[Contact]:
        """Every interaction that arrived in [start, end) (index ``ix_interactions_arrived_at``)."""
        query = (select(*_COLUMNS).select_from(_WITH_REASON)
                 .where(_I.arrived_at >= start, _I.arrived_at < end)
                 .order_by(_I.arrived_at, _I.id).limit(MAX_RANGE_CONTACTS + 1))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        if len(rows) > MAX_RANGE_CONTACTS:
            raise InvalidInput("range-too-large", "too many contacts in the range; ask for a shorter one",
                               limit=MAX_RANGE_CONTACTS)
        return [_contact(r) for r in rows]

    async def of_customer(self, customer_id: str, *, limit: int) -> list[Contact]:
        """The newest ``limit`` contacts of the customer's whole merge tree, oldest first."""
        root = select(customers.c.root_id).where(customers.c.id == customer_id).scalar_subquery()
        query = (select(*_COLUMNS).select_from(_WITH_REASON).where(_I.root_customer_id == root)
                 .order_by(_I.arrived_at.desc(), _I.id.desc()).limit(limit))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_contact(r) for r in reversed(rows)]

    async def logs(self, interaction_ids: Sequence[str]) -> dict[str, list[LogEntry]]:
        """The logs of a few interactions (a journey's) in one read."""
        async with self._db.read() as conn:
            return await logs_of(conn, list(interaction_ids))
