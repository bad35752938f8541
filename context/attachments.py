"""The files each customer message carried, as its channel recorded them at receive time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select

from context.db import Conn, Database
from context.models import message_attachments, messages
from cti.domain import MessageSender
from cti.errors import InvalidInput
from cti.ports import RecordedAttachment

MAX_REF = 1000


class Attachments:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def record(self, message_id: str, items: Sequence[RecordedAttachment]) -> None:
        if not items:
            return
        if any(len(a.ref) > MAX_REF for a in items):
            raise InvalidInput("bad-attachment-ref",
                               f"an attachment reference is at most {MAX_REF} characters")

        async def work(conn: Conn) -> None:
            await conn.execute(insert(message_attachments), [
                {"message_id": message_id, "position": n, "ref": a.ref, "filename": a.filename[:500],
                 "content_type": a.content_type[:200]} for n, a in enumerate(items)])

        await self._db.write(work)

    async def of_interaction(self, interaction_id: str) -> Sequence[RecordedAttachment]:
        """What the interaction's customer messages carried (agents' replies serve nothing)."""
        a, m = message_attachments.c, messages.c
        query = (select(a.ref, a.filename, a.content_type).join(messages, m.id == a.message_id)
                 .where(m.interaction_id == interaction_id, m.sender == MessageSender.CUSTOMER.value)
                 .order_by(m.at, a.message_id, a.position))
        async with self._db.read() as conn:
            return [RecordedAttachment(ref=r.ref, filename=r.filename, content_type=r.content_type)
                    for r in (await conn.execute(query)).all()]
