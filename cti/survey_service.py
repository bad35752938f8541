"""The survey service: answers from every channel into the interaction's log, and invitations.

An answer (the chat widget, a survey link, a DTMF survey, a Twilio ``<Gather>``) is checked
(``cti.surveys``), written to the interaction's log as ``survey_answered`` (the one record the
reports count), and added to the interaction as a system message, which is what the customer's
timeline and the screen pop's history show. A second answer writes nothing and is refused.

Invitations on e-mail and SMS: when such an interaction is closed on this node, a message with
a signed survey link is stored and published as the closing agent's, so the outbound dispatcher
sends it like any reply (taken once, recovered if this node dies, its outcome recorded).
"""

from __future__ import annotations

import asyncio
import logging

from cti.clock import Clock, IdSource
from cti.domain import Channel, InteractionState, Message, MessageSender, jsonable
from cti.errors import Conflict, CtiError
from cti.eventlog import EventLogRecords, LogEntry
from cti.events import DomainEvent, InteractionClosed, MessageAdded
from cti.hub import EventHub, Subscription
from cti.ports import ContextStore
from cti.settings.surveys import SurveySettings
from cti.surveys import answer_entry, check_comment, check_rating, sign_link

log = logging.getLogger(__name__)

ANSWERABLE = frozenset({InteractionState.WRAP_UP, InteractionState.CLOSED})
LINK_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})
QUEUE_SIZE = 1000


def answer_text(rating: int, comment: str | None) -> str:
    """The system message of an answer, as the timeline shows it."""
    return f"Survey answered: {rating}/5" + (f" — “{comment}”" if comment else "")


class SurveyService:
    def __init__(self, *, context: ContextStore, log_records: EventLogRecords, hub: EventHub, clock: Clock,
                 ids: IdSource, key: bytes, settings: SurveySettings) -> None:
        self._context = context
        self._log = log_records
        self._hub = hub
        self._clock = clock
        self._ids = ids
        self._key = key
        self._settings = settings
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def key(self) -> bytes:
        return self._key

    async def answer(self, interaction_id: str, rating: object, comment: object, *, via: str) -> LogEntry:
        """Record an answer; ``InvalidInput`` for a bad rating or comment, ``Conflict`` when the
        interaction is not completed yet or was rated already."""
        checked, text = check_rating(rating), check_comment(comment)
        interaction = await self._context.interaction(interaction_id)
        if interaction.state not in ANSWERABLE:
            raise Conflict("survey-not-open", "the survey opens when the interaction is completed",
                           interaction_id=interaction_id, state=interaction.state.value)
        now = self._clock.now()
        entry = answer_entry(interaction, await self._log.of(interaction_id), rating=checked, comment=text,
                             now=now, via=via)
        if not await self._log.record([entry]):
            raise Conflict("survey-already-answered", "this survey has been answered already",
                           interaction_id=interaction_id)
        message = Message(id=self._ids.new_id("msg"), interaction_id=interaction_id,
                          sender=MessageSender.SYSTEM, body=answer_text(checked, text), at=now)
        await self._context.add_message(message)
        await self._hub.publish(MessageAdded(at=now, interaction_id=interaction_id, agent_id=None,
                                             message=jsonable(message)))
        log.info("survey answered interaction=%s rating=%d via=%s", interaction_id, checked, via)
        return entry

    async def answered(self, interaction_id: str) -> bool:
        return any(e.key == "survey" for e in await self._log.of(interaction_id))

    def token(self, interaction_id: str) -> str:
        return sign_link(self._key, interaction_id,
                         expires_at=self._clock.now() + self._settings.link_days * 86_400)

    def link(self, interaction_id: str) -> str | None:
        if self._settings.public_url is None:
            return None
        return f"{str(self._settings.public_url).rstrip('/')}/survey/{self.token(interaction_id)}"

    async def invite(self, interaction_id: str, agent_id: str | None) -> Message | None:
        """Send the survey link of an e-mail or SMS interaction through the outbound dispatcher."""
        interaction = await self._context.interaction(interaction_id)
        url = self.link(interaction_id)
        if interaction.channel not in LINK_CHANNELS or url is None or not self._settings.enabled:
            return None
        now = self._clock.now()
        message = Message(id=self._ids.new_id("msg"), interaction_id=interaction_id,
                          sender=MessageSender.AGENT, at=now, agent_id=agent_id,
                          body=f"How did we do? Rate your answer from 1 to 5: {url}")
        await self._context.add_message(message)
        await self._hub.publish(MessageAdded(at=now, interaction_id=interaction_id, agent_id=agent_id,
                                             message=jsonable(message)))
        return message

    def start(self) -> None:
        # The node that closed the interaction invites, once.
        self._sub = self._hub.subscribe(maxsize=QUEUE_SIZE, local_only=True,
                                        wants=lambda e: isinstance(e, InteractionClosed))
        self._task = asyncio.create_task(self._run(self._sub), name="survey-invites")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        if self._sub is not None:
            self._sub.close()
            self._sub = None

    async def _run(self, sub: Subscription) -> None:
        while True:
            await self._handle(await sub.get())

    async def _handle(self, event: DomainEvent) -> None:
        if not isinstance(event, InteractionClosed):
            return
        try:
            await self.invite(event.interaction_id, event.agent_id)
        except CtiError as exc:
            log.warning("survey: no invitation for interaction=%s: %s", event.interaction_id, exc.error_id)
        except Exception:  # a database hiccup must not end the invitations
            log.exception("survey: inviting interaction=%s failed", event.interaction_id)
