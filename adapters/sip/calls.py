"""The SIP line's calls and the table they are kept in: a caller's call (``LiveCall``, by its SIP
Call-ID) and a click-to-dial (``Dialled``, by its interaction id), both a ``talk.Talk``; how the
table finds the call of an interaction, which call the desk's controls may act on, and how our
side ends one.

A voice interaction's channel references: ``sip_call_id`` (the caller's dialog), ``sip_caller``
(the From user part as received), ``sip_dialled`` (the number a click-to-dial called).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from adapters.sip.agent_leg import AgentLeg
from adapters.sip.caller_leg import CallerCall
from adapters.sip.talk import Talk
from cti.domain import Interaction, InteractionState
from cti.errors import Conflict

REF_CALL_ID = "sip_call_id"
REF_CALLER = "sip_caller"
REF_DIALLED = "sip_dialled"  # a click-to-dial: the number called through the trunk
WAITING = frozenset({InteractionState.QUEUED, InteractionState.OFFERED})


@dataclass
class LiveCall(Talk):
    """A caller on the line's own caller half (``caller_leg``), from the answer: the digits,
    then the talk."""

    call: CallerCall
    digits: list[str] = field(default_factory=list)
    digit_event: asyncio.Event = field(default_factory=asyncio.Event)

    def key(self, digit: str, *, keep: int) -> None:
        """A key the caller pressed, for the menu: only while it asks (before the call is queued)
        and at most ``keep`` of them, so a caller keying for the whole call keeps nothing growing."""
        if self.interaction_id is not None or len(self.digits) >= keep:
            return
        self.digits.append(digit)
        self.digit_event.set()

    def end(self, *, hang_up: bool) -> None:
        """The call is over: the agent's phone CANCELled or hung up, the relay closed, and with
        ``hang_up`` (our side ended it) the caller BYEd. The recording is closed by whoever ends
        the call (``stop_recording``), after this."""
        self.ended = True
        self.digit_event.set()
        self.drop_agent()
        if self.leg is not None:
            self.leg.close()
        if hang_up:
            self.call.hangup()


@dataclass
class Dialled(Talk):
    """A click-to-dial: the agent's phone first, then the customer through the trunk (``customer``,
    a sipcore leg), relayed; from then on a talk like a caller's."""

    interaction_id: str = field(kw_only=True)
    customer: AgentLeg | None = None
    customer_answered: bool = False

    def end(self) -> None:
        """BYE every answered leg, CANCEL a ringing one, close the relay. The recording is closed
        by whoever ends the call (``stop_recording``), after this."""
        if self.ended:
            return
        self.ended = True
        self.drop_agent()
        if self.leg is not None:
            self.leg.close()
        customer = self.customer
        if customer is not None and self.customer_answered:
            customer.hangup()
        elif customer is not None:
            customer.cancel()


class Calls:
    """The line's calls: callers by SIP Call-ID, click-to-dials by interaction id."""

    def __init__(self) -> None:
        self.callers: dict[str, LiveCall] = {}  # SIP Call-ID -> the live call
        self.dialled: dict[str, Dialled] = {}  # interaction id -> a click-to-dial's legs

    def take_all(self) -> tuple[list[LiveCall], list[Dialled]]:
        """Every call, forgotten by the table (a stop of the server ends them)."""
        lives, self.callers = list(self.callers.values()), {}
        dialled, self.dialled = list(self.dialled.values()), {}
        return lives, dialled

    def live_calls(self) -> tuple[LiveCall, ...]:
        return tuple(self.callers.values())

    def talks(self) -> list[Talk]:
        """Every call, called in or dialled."""
        return [*self.callers.values(), *self.dialled.values()]

    def call_for(self, interaction_id: str) -> Talk | None:
        """The call (a caller's or a click-to-dial's) of a voice interaction on this line."""
        dialled = self.dialled.get(interaction_id)
        if dialled is not None:
            return dialled
        for live in self.callers.values():
            if live.interaction_id == interaction_id:
                return live
        return None

    def talk(self, interaction: Interaction) -> Talk | None:
        """The call of an interaction: a click-to-dial's, else the caller's."""
        dialled = self.dialled.get(interaction.id)
        if dialled is not None:
            return dialled
        return self.callers.get(interaction.channel_refs.get(REF_CALL_ID, ""))

    def connected(self, interaction: Interaction) -> Talk:
        """The call the desk's controls act on: the customer's audio is ours."""
        talk = self.talk(interaction)
        if talk is None or talk.ended:
            raise Conflict("no-call", "the call is over", interaction_id=interaction.id)
        if talk.leg is None:
            raise Conflict("call-not-connected", "the customer has not answered yet",
                           interaction_id=interaction.id)
        return talk

    async def end_customer(self, talk: Talk) -> None:
        """End a call from our side (the agent hung up, or the desk did): BYE to the customer
        (the caller's leg, or the dialled one) and to the agent's phone, the relay and the
        recording closed."""
        if isinstance(talk, Dialled):
            self.dialled.pop(talk.interaction_id, None)
            talk.end()
        elif isinstance(talk, LiveCall):
            self.callers.pop(talk.call.call_id, None)
            talk.end(hang_up=True)
        await talk.stop_recording()
