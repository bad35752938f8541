"""Plain-data builders for context-store tests."""

from __future__ import annotations

from collections.abc import Mapping

from cti.domain import (
    Channel,
    Direction,
    Identity,
    IdentityKind,
    Interaction,
    InteractionState,
    Message,
    MessageSender,
    Note,
)

T0 = 1_800_000_000.0


def phone(number: str) -> Identity:
    return Identity(IdentityKind.PHONE, number)


def email(address: str) -> Identity:
    return Identity(IdentityKind.EMAIL, address)


def chat(visitor: str) -> Identity:
    return Identity(IdentityKind.CHAT, visitor)


def interaction(iid: str, customer_id: str, *, at: float, channel: Channel = Channel.CHAT,
                state: InteractionState = InteractionState.QUEUED,
                direction: Direction = Direction.INBOUND, refs: Mapping[str, str] | None = None,
                context: Mapping[str, str] | None = None, agent_id: str | None = None) -> Interaction:
    return Interaction(id=iid, channel=channel, direction=direction, customer_id=customer_id, queue="support",
                       state=state, arrived_at=at, queued_at=at, channel_refs=dict(refs or {}),
                       context=dict(context or {}), agent_id=agent_id)


def message(mid: str, iid: str, body: str, *, at: float, ref: str | None = None,
            sender: MessageSender = MessageSender.CUSTOMER) -> Message:
    return Message(id=mid, interaction_id=iid, sender=sender, body=body, at=at, channel_ref=ref)


def note(nid: str, iid: str, body: str, *, at: float, author: str = "a1") -> Note:
    return Note(id=nid, interaction_id=iid, author_id=author, body=body, at=at)
