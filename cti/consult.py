"""Warm (consult) transfer of a chat: the agent holding it talks privately with the next agent
before handing the customer over.

A consult is a record (who asked whom about which chat, when it ended and why) kept in the
database so any node can check who is part of it; what the two agents say is sent as hub events
to the other party and never stored (as a consult on a call is not recorded). The agent asked
gets the chat's transcript with the first question, so they can judge before accepting. The
customer sees nothing until the hand-over, which is an ordinary transfer to that agent (an offer
they accept; refused with the transfer's own errors if they cannot take it now). One open
consult per chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from cti.clock import Clock, IdSource
from cti.domain import Channel, InteractionState, jsonable
from cti.errors import Conflict, Forbidden, InvalidInput, NotFound
from cti.events import ConsultEnded, ConsultMessage, ConsultStarted
from cti.hub import EventHub
from cti.interaction_core import owned
from cti.live_config import LiveConfig
from cti.ports import ContextStore
from cti.service import InteractionService

TRANSCRIPT = 50  # the newest messages the consulted agent is shown


@dataclass(frozen=True, slots=True)
class Consult:
    id: str
    interaction_id: str
    from_agent: str
    to_agent: str
    started_at: float
    ended_at: float | None = None
    ended_why: str | None = None


class ConsultRecords(Protocol):
    async def add(self, consult: Consult) -> bool:
        """Stores it unless the chat has an open consult already (False: another was first)."""
        ...

    async def get(self, consult_id: str) -> Consult | None: ...

    async def open_for(self, interaction_id: str) -> Consult | None: ...

    async def end(self, consult_id: str, *, at: float, why: str) -> bool:
        """Ends it if still open; False when it had already ended (another node was first)."""
        ...


class ChatConsults:
    def __init__(self, *, records: ConsultRecords, interactions: InteractionService, context: ContextStore,
                 hub: EventHub, clock: Clock, ids: IdSource, config: LiveConfig) -> None:
        self._records = records
        self._interactions = interactions
        self._context = context
        self._hub = hub
        self._clock = clock
        self._ids = ids
        self._live = config

    async def start(self, interaction_id: str, agent_id: str, to_agent: str, body: str | None) -> Consult:
        if body:
            self._interactions.check_body(body)
        interaction = owned(await self._context.interaction(interaction_id), agent_id,
                            frozenset({InteractionState.ACTIVE}))
        if interaction.channel is not Channel.CHAT:
            raise InvalidInput("consult-chat-only", "a consult here is for chats; calls consult by phone",
                               interaction_id=interaction_id)
        if to_agent not in self._live.current.agents:
            raise NotFound("agent-not-found", f"no agent {to_agent!r}", agent_id=to_agent)
        if to_agent == agent_id:
            raise InvalidInput("bad-consult-target", "cannot consult yourself")
        # Whom the chat could not be handed to is no one to consult about handing it over.
        await self._interactions.check_transfer_target(to_agent, interaction)
        earlier = await self._records.open_for(interaction_id)
        if earlier is not None and earlier.from_agent != agent_id:
            # Left open by an earlier holder (the chat moved on another way): it ends now.
            await self._end(earlier, "holder-changed")
        elif earlier is not None:
            raise Conflict("consult-open", "this chat already has an open consult",
                           interaction_id=interaction_id)
        now = self._clock.now()
        consult = Consult(id=self._ids.new_id("cns"), interaction_id=interaction_id, from_agent=agent_id,
                          to_agent=to_agent, started_at=now)
        if not await self._records.add(consult):  # another node's consult came first
            raise Conflict("consult-open", "this chat already has an open consult",
                           interaction_id=interaction_id)
        messages = list(await self._context.messages(interaction_id))[-TRANSCRIPT:]
        try:
            name = (await self._context.customer(interaction.customer_id)).display_name
        except NotFound:
            name = None
        await self._hub.publish(ConsultStarted(
            at=now, consult_id=consult.id, interaction_id=interaction_id, agent_id=to_agent,
            from_agent=agent_id, customer_name=name, channel=interaction.channel.value,
            transcript=[jsonable(m) for m in messages], body=body or None))
        return consult

    async def say(self, consult_id: str, agent_id: str, body: str) -> None:
        self._interactions.check_body(body)
        consult = await self._open(consult_id, agent_id)
        other = consult.to_agent if agent_id == consult.from_agent else consult.from_agent
        await self._hub.publish(ConsultMessage(at=self._clock.now(), consult_id=consult.id,
                                               interaction_id=consult.interaction_id, agent_id=other,
                                               from_agent=agent_id, body=body))

    async def hand_over(self, consult_id: str, agent_id: str, note: str | None) -> Consult:
        """The chat goes to the consulted agent (an offer to them), and the consult ends."""
        consult = await self._open(consult_id, agent_id)
        if agent_id != consult.from_agent:
            raise Forbidden("not-your-interaction", "only the agent holding the chat hands it over",
                            interaction_id=consult.interaction_id)
        await self._interactions.transfer(consult.interaction_id, agent_id, to_queue=None,
                                          to_agent=consult.to_agent, note=note)
        return await self._end(consult, "handed-over")

    async def end(self, consult_id: str, agent_id: str) -> Consult:
        consult = await self._open(consult_id, agent_id)
        return await self._end(consult, f"ended-by-{agent_id}")

    async def _open(self, consult_id: str, agent_id: str) -> Consult:
        consult = await self._records.get(consult_id)
        if consult is None or agent_id not in (consult.from_agent, consult.to_agent):
            # One answer for "no such consult" and "not yours": ids are not probeable.
            raise Forbidden("not-your-consult", "this consult is not yours", consult_id=consult_id[:100])
        if consult.ended_at is not None:
            raise Conflict("consult-ended", "this consult has ended", consult_id=consult_id,
                           why=consult.ended_why)
        return consult

    async def _end(self, consult: Consult, why: str) -> Consult:
        now = self._clock.now()
        if not await self._records.end(consult.id, at=now, why=why):
            raise Conflict("consult-ended", "this consult has ended", consult_id=consult.id)
        for agent in (consult.from_agent, consult.to_agent):
            await self._hub.publish(ConsultEnded(at=now, consult_id=consult.id, agent_id=agent, why=why,
                                                 interaction_id=consult.interaction_id))
        return replace(consult, ended_at=now, ended_why=why)


def consult_json(consult: Consult) -> dict[str, object]:
    out: dict[str, object] = jsonable(consult)
    return out


__all__: Sequence[str] = ("ChatConsults", "Consult", "ConsultRecords", "consult_json")
