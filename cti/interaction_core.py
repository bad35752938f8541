"""The interaction row and its changes: what every step of ``InteractionService`` shares.

``InteractionCore`` holds the collaborators (stores, hub, clock, ids, the router's poke) and owns
how an interaction is read and changed: a step starts from the snapshot this process last read
or saved (``ContextStore.interaction_snapshot``) and reads it only when that snapshot turns out
stale (the save names its version) or when a refusal or a no-op on it could be wrong. It also
builds the router's waiting entry for an interaction. The module functions are the pure checks
and changes the steps apply (``settled``, ``owned``, ``requeued``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cti import lifecycle
from cti.clock import Clock, IdSource
from cti.config import AppConfig
from cti.domain import Interaction, InteractionState
from cti.errors import Conflict, CtiError, Forbidden, InvalidInput, StaleSnapshot
from cti.hub import EventHub
from cti.live_config import LiveConfig, as_live
from cti.ports import ContextStore
from cti.routing import RoutingStore, WaitingItem

# Under the service's name: what operators filter the log on did not move with the code.
log = logging.getLogger("cti.service")

# Reads and saves of one interaction before a change gives up (each retry follows a change that
# got in first, so more than a few means something is rewriting it in a loop).
SAVE_ATTEMPTS = 8

Change = Callable[[Interaction], Interaction | None]
# Context key of waiting work the router must not offer: where it waits instead (``hand_off``).
ROUTED_ELSEWHERE = "routing.elsewhere"

LIVE = frozenset({InteractionState.ACTIVE, InteractionState.WRAP_UP})
_SETTLED = frozenset({InteractionState.CLOSED, InteractionState.ABANDONED})


class InteractionCore:
    def __init__(self, *, config: AppConfig | LiveConfig, context: ContextStore, routing: RoutingStore,
                 hub: EventHub, clock: Clock, ids: IdSource, poke: Callable[[], None]) -> None:
        self.live = as_live(config)
        self.context = context
        self.routing = routing
        self.hub = hub
        self.clock = clock
        self.ids = ids
        self.poke = poke

    @property
    def config(self) -> AppConfig:
        return self.live.current  # read at each use: an admin's change counts at once

    def check_body(self, body: str) -> None:
        if not isinstance(body, str) or not body.strip():
            raise InvalidInput("empty-message", "the message is empty")
        if len(body) > self.config.max_message_chars:
            raise InvalidInput("message-too-long",
                               f"the message exceeds {self.config.max_message_chars} characters",
                               limit=self.config.max_message_chars, length=len(body))

    async def owned(self, interaction_id: str, agent_id: str,
                    states: frozenset[InteractionState]) -> Interaction:
        """``owned`` on what is stored."""
        return owned(await self.context.interaction(interaction_id), agent_id, states)

    async def owned_snapshot(self, interaction_id: str, agent_id: str,
                             states: frozenset[InteractionState]) -> Interaction:
        """``owned`` on this process's snapshot, for a step whose save checks it is current; a
        refusal is checked again on what is stored unless the snapshot is settled."""
        snapshot = await self.context.interaction_snapshot(interaction_id)
        try:
            return owned(snapshot, agent_id, states)
        except CtiError:
            if settled(snapshot):
                raise
        return await self.owned(interaction_id, agent_id, states)

    async def settled_or_read(self, interaction_id: str) -> Interaction:
        """This process's snapshot when it is settled (closed or abandoned: no step changes its
        state again), else the stored one: for a decision taken before any save."""
        snapshot = await self.context.interaction_snapshot(interaction_id)
        return snapshot if settled(snapshot) else await self.context.interaction(interaction_id)

    async def change(self, interaction_id: str, change: Change, *,
                     read: Interaction | None = None) -> tuple[Interaction, Interaction | None]:
        """Read, change and save the interaction; read and change again when another change was
        saved in between (``StaleSnapshot``), so neither undoes the other.

        ``change`` is pure: it returns the new snapshot, None for "nothing to do", or raises to
        refuse. Returns the snapshot it was applied to and the saved one (None if unchanged).
        The first attempt changes ``read`` (a snapshot this step already holds) or else the
        snapshot this process last read or saved: no read at all when it is current, and a stale
        one costs a retry, never a lost change, since the save checks its version. A refusal or
        "nothing to do" on that first snapshot is taken only when the snapshot is settled (closed
        or abandoned); otherwise it is decided again on what is stored.
        """
        for attempt in range(SAVE_ATTEMPTS):
            if attempt > 0:
                current = await self.context.interaction(interaction_id)
            elif read is not None:
                current = read
            else:
                current = await self.context.interaction_snapshot(interaction_id)
            try:
                changed = change(current)
            except CtiError:
                if attempt > 0 or settled(current):
                    raise
                continue
            if changed is None:
                if attempt > 0 or settled(current):
                    return current, None
                continue
            try:
                # ``before``: the store writes only what the change changed.
                return current, await self.context.save_interaction(changed, before=current)
            except StaleSnapshot:
                log.info("interaction changed meanwhile, redoing id=%s", interaction_id)
        raise Conflict("interaction-busy", "the interaction keeps changing; try again",
                       interaction_id=interaction_id, attempts=SAVE_ATTEMPTS)

    async def apply(self, interaction_id: str, change: Callable[[Interaction], Interaction], *,
                    read: Interaction | None = None) -> Interaction:
        """``change`` for a change that always changes something: the saved snapshot."""
        current, saved = await self.change(interaction_id, change, read=read)
        return saved if saved is not None else current

    def waiting_item(self, interaction: Interaction, *, enqueued_at: float) -> WaitingItem:
        queue = self.config.queues[interaction.queue]
        return WaitingItem(
            interaction_id=interaction.id, channel=interaction.channel, queue=interaction.queue,
            customer_id=interaction.customer_id, enqueued_at=enqueued_at,
            # The queue's configured priority (1..10) scales the interaction's own.
            service_target=queue.target_for(interaction.channel),
            priority=interaction.priority * queue.priority,
            skills=dict(interaction.skills),
        )


def settled(interaction: Interaction) -> bool:
    """Closed or abandoned: no step leaves these states (``cti.lifecycle``)."""
    return interaction.state in _SETTLED


def owned(interaction: Interaction, agent_id: str, states: frozenset[InteractionState]) -> Interaction:
    """The interaction, if it is ``agent_id``'s and in one of ``states``; refused otherwise."""
    if interaction.agent_id != agent_id:
        raise Forbidden("not-your-interaction", "this interaction is not yours",
                        interaction_id=interaction.id)
    if interaction.state not in states:
        raise Conflict("invalid-state", f"the interaction is {interaction.state.value}",
                       interaction_id=interaction.id, state=interaction.state.value)
    return interaction


def requeued(now: float, why: str | None = None) -> Change:
    """Back to the queue, when the interaction still can go back (nothing to do otherwise);
    ``why`` goes to the log ("timeout": a missed offer)."""
    return lambda i: lifecycle.apply(i, "requeue", now=now, details={"why": why}) \
        if lifecycle.can(i, "requeue") else None


class CoreSteps:
    """A group of the service's steps: what they all reach through the core, named once."""

    def __init__(self, core: InteractionCore) -> None:
        self._core = core
        self._context = core.context
        self._routing = core.routing
        self._hub = core.hub
        self._clock = core.clock
        self._ids = core.ids
        self._poke = core.poke

    @property
    def _config(self) -> AppConfig:
        return self._core.config  # read at each use: an admin's change counts at once
