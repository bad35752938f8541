"""The hub's events for Twilio calls: an offer rings the agent's phone (``calls.create``, into the
call's conference once answered), an offer withdrawn or abandoned stops it ringing, and a
transfer made through the core alone puts the caller back in their Twilio queue. Owns the task
that listens to the hub and the steps it starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine
from typing import Any

from adapters.twilio_voice import twiml
from adapters.twilio_voice.refs import (
    REF_AGENT_CALL_SID,
    REF_AGENT_LEG,
    REF_AGENT_OFFER,
    REF_MOVED,
    WAITING,
)
from adapters.twilio_voice.rest import TwilioCallError
from adapters.twilio_voice.state import VoiceState, conference_name, mine
from cti.domain import InteractionState
from cti.errors import Conflict, NotFound
from cti.events import (
    DomainEvent,
    InteractionAbandoned,
    InteractionOffered,
    InteractionTransferred,
    OfferWithdrawn,
    offered_on,
)
from cti.hub import Subscription
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)


class Ringer:
    def __init__(self, state: VoiceState) -> None:
        self._state = state
        self._deps = state.deps  # fixed for the adapter's life, unlike the config
        self._watcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._watcher is None:
            sub = self._deps.hub.subscribe(maxsize=10_000, wants=lambda e: offered_on(e, "voice")
                                           or isinstance(e, OfferWithdrawn | InteractionAbandoned
                                                         | InteractionTransferred))
            self._watcher = asyncio.create_task(self._watch(sub), name="twilio-voice-hub")

    async def aclose(self) -> None:
        tasks = [t for t in (self._watcher, *self._tasks) if t is not None]
        self._watcher = None
        self._tasks.clear()
        await stop_tasks(tasks)

    async def _watch(self, sub: Subscription) -> None:
        try:
            while True:
                event: DomainEvent = await sub.get()
                if isinstance(event, InteractionOffered):
                    self._spawn(self._ring(event))
                elif isinstance(event, OfferWithdrawn | InteractionAbandoned):
                    self._spawn(self._stop_ringing(event))
                elif isinstance(event, InteractionTransferred):
                    self._spawn(self._follow_transfer(event))
        finally:
            sub.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:  # one call's trouble must not stop the others'
            log.exception("twilio voice: step failed")

    async def _ring(self, offer: InteractionOffered) -> None:
        async with self._state.locks.hold(offer.interaction_id):
            interaction = await self._deps.context.interaction(offer.interaction_id)
            if (not mine(interaction) or interaction.state is not InteractionState.OFFERED
                    or interaction.offered_at != offer.at  # a later offer replaced this one
                    or interaction.channel_refs.get(REF_AGENT_OFFER) == repr(offer.at)):
                return  # every node hears the offer: the first to hold the lock rings, once
            interactions = self._deps.interactions
            target = self._state.config.endpoints.get(offer.agent_id)
            from_ = self._state.caller_id_for(interaction, target or "")
            if not target or not from_:
                log.warning("twilio: agent %s has no endpoints.twilio (or no caller id) interaction=%s",
                            offer.agent_id, interaction.id)
                with contextlib.suppress(Conflict, NotFound):
                    await interactions.reject(interaction.id, offer.agent_id, why="no-phone")
                return
            leg = secrets.token_hex(8)
            await interactions.update_refs(interaction.id, refs={REF_AGENT_LEG: leg, REF_AGENT_CALL_SID: ""})
            ring = int(max(5, min(self._state.config.ring_seconds, offer.expires_at - offer.at - 1)))
            callback = twiml.url(self._state.config, twiml.AGENT_PATH,
                                 {"interaction": interaction.id, "agent": offer.agent_id, "leg": leg})
            try:
                sid = await self._state.require_calls().create(
                    to=target, from_=from_, status_callback=callback, timeout=ring,
                    twiml=twiml.connect_agent(self._state.config, conference_name(interaction)))
            except TwilioCallError as exc:
                log.warning("twilio: cannot call agent=%s interaction=%s why=%s", offer.agent_id,
                            interaction.id, exc.why)
                with contextlib.suppress(Conflict, NotFound):
                    await interactions.reject(interaction.id, offer.agent_id, why="dial-failed")
                return
            # In the interaction, not in this node's memory: whichever node hears the offer end
            # can stop the ringing.
            await interactions.update_refs(interaction.id, refs={REF_AGENT_CALL_SID: sid,
                                                                REF_AGENT_OFFER: repr(offer.at)})
            log.info("twilio ringing agent=%s call=%s interaction=%s", offer.agent_id, sid, interaction.id)


    async def _stop_ringing(self, event: OfferWithdrawn | InteractionAbandoned) -> None:
        """The offer ended unanswered (timed out, declined on the desktop, the caller left): the
        agent's phone stops ringing. One node does it, whichever placed the call."""
        interaction_id = event.interaction_id
        before = await self._deps.context.interaction(interaction_id)
        if not mine(before) or not before.channel_refs.get(REF_AGENT_CALL_SID):
            return  # every channel's ended offers pass by: only our ringing calls are stopped
        async with self._state.locks.hold(interaction_id):  # whoever comes second finds the call cleared
            interaction = await self._deps.context.interaction(interaction_id)
            refs = interaction.channel_refs
            sid = refs.get(REF_AGENT_CALL_SID)
            if not sid or not mine(interaction) or interaction.state not in (
                    InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.ABANDONED):
                return  # nothing ringing, or answered: not ours to stop
            if (interaction.state is InteractionState.OFFERED
                    and refs.get(REF_AGENT_OFFER) == repr(interaction.offered_at)):
                return  # the call of a later offer: it rings on
            await self._deps.interactions.update_refs(interaction_id, refs={REF_AGENT_CALL_SID: ""})
            try:
                await self._state.require_calls().update(sid, status="canceled")
            except TwilioCallError:
                with contextlib.suppress(TwilioCallError):  # answered meanwhile: hang it up
                    await self._state.require_calls().update(sid, status="completed")
            log.info("twilio stopped ringing interaction=%s call=%s", interaction_id, sid)

    async def _follow_transfer(self, event: InteractionTransferred) -> None:
        """A transfer made by the core alone: the caller goes back into their Twilio queue."""
        interaction_id = event.interaction_id
        if not mine(await self._deps.context.interaction(interaction_id)):
            return  # every channel's transfers pass by: only calls of ours are followed
        if not await self._once("follow", interaction_id, repr(event.at)):
            return
        async with self._state.locks.hold(interaction_id):
            interaction = await self._deps.context.interaction(interaction_id)
            if interaction.channel_refs.get(REF_MOVED):
                # Our own ``transfer`` (on whichever node) moved the caller already.
                await self._deps.interactions.update_refs(interaction_id, refs={REF_MOVED: ""})
                return
            if not mine(interaction) or interaction.state not in WAITING:
                return
            await self._deps.interactions.update_refs(interaction_id, refs={REF_AGENT_LEG: ""})
            await self._state.redirect_to_queue(interaction)

    async def _once(self, *key: str) -> bool:
        """True on the one node that takes this piece of work (an event every node hears)."""
        return await self._deps.context.claim_inbound(":".join(("twilio-voice", *key)))
