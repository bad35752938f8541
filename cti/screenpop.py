"""The screen pop: the one document an agent gets when an interaction is offered.

It is the same for every channel: the interaction, the customer's profile and identities, the
unified timeline across all channels (newest first, bounded), the collected context, the notes
and the messages so far, and why the router chose this agent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cti.domain import Customer, Interaction, Message, Note, jsonable
from cti.ports import TimelineEntry


def build_screen_pop(
    *,
    interaction: Interaction,
    customer: Customer,
    timeline: Sequence[TimelineEntry],
    messages: Sequence[Message],
    notes: Sequence[Note],
    reason: Mapping[str, Any] | None,
) -> dict[str, Any]:
    channels = sorted({e.channel.value for e in timeline} | {interaction.channel.value})
    return {
        "interaction": jsonable(interaction),
        "customer": {
            "id": customer.id,
            "display_name": customer.display_name,
            "identities": [jsonable(i) for i in customer.identities],
        },
        "timeline": [jsonable(e) for e in timeline],
        "channels_seen": channels,
        "context": dict(interaction.context),
        "notes": [jsonable(n) for n in notes],
        "messages": [jsonable(m) for m in messages],
        "routing": dict(reason) if reason else None,
    }
