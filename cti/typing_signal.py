"""Typing indicators in chat: "the other side is typing", both ways, never stored.

A signal is a ``TypingIndicated`` event on the hub and nothing else: no row, no log entry, no
webhook. Each side of a conversation may send one per ``min_gap`` seconds (a client sends one
every keystroke burst; the gate drops the rest), so a busy typist costs the hub one event per gap.
The gate is pure (the caller passes ``now``) and holds at most ``max_keys`` conversations' times.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from cti.clock import Clock
from cti.domain import Channel, InteractionState
from cti.events import TypingIndicated
from cti.hub import EventHub
from cti.interaction_core import owned
from cti.ports import ContextStore

Side = Literal["agent", "customer"]
MIN_GAP = 2.0
MAX_KEYS = 10_000


class TypingGate:
    def __init__(self, *, min_gap: float = MIN_GAP, max_keys: int = MAX_KEYS) -> None:
        self._gap = min_gap
        self._max = max_keys
        self._last: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._last)

    def allow(self, key: tuple[str, str], *, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self._gap:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self._max:  # the oldest signal is the one least likely to matter
            self._last.popitem(last=False)
        return True


class TypingSignals:
    def __init__(self, *, context: ContextStore, hub: EventHub, clock: Clock,
                 gate: TypingGate | None = None) -> None:
        self._context = context
        self._hub = hub
        self._clock = clock
        self._gate = gate or TypingGate()

    async def agent_typing(self, interaction_id: str, agent_id: str) -> bool:
        """The agent types in their chat; True when the signal went out (False: inside the gap)."""
        interaction = owned(await self._context.interaction(interaction_id), agent_id,
                            frozenset({InteractionState.ACTIVE}))
        if interaction.channel is not Channel.CHAT:
            return False
        return await self._send(interaction_id, agent_id, "agent")

    async def customer_typing(self, interaction_id: str) -> bool:
        """The visitor types; reaches the agent holding the chat, if one does yet."""
        interaction = await self._context.interaction(interaction_id)
        if interaction.state is not InteractionState.ACTIVE or interaction.agent_id is None:
            return False
        return await self._send(interaction_id, interaction.agent_id, "customer")

    async def _send(self, interaction_id: str, agent_id: str, by: Side) -> bool:
        now = self._clock.now()
        if not self._gate.allow((interaction_id, by), now=now):
            return False
        await self._hub.publish(TypingIndicated(at=now, interaction_id=interaction_id, agent_id=agent_id,
                                                by=by))
        return True
