"""What every part of the Twilio voice channel shares: its configuration (which an admin changes
live), the locks per call, the REST client once started, the callbacks already taken, and the
small questions about a call each of them asks (is it ours, which conference, which interaction
a callback is about). One instance per adapter, handed to each collaborator."""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator

from adapters.channel import AdapterDeps
from adapters.locks import KeyedLocks
from adapters.twilio_common import signed_form
from adapters.twilio_voice import twiml
from adapters.twilio_voice.config import TwilioVoiceConfig
from adapters.twilio_voice.refs import (
    REF_CALL_SID,
    REF_CALLER,
    REF_CONFERENCE,
    REF_CONFERENCE_SID,
    REF_NUMBER,
    REF_OUTBOUND,
    REF_QUEUE,
)
from adapters.twilio_voice.rest import TwilioCallError, TwilioCalls
from cti.calls import owned_live_call
from cti.domain import Channel, Interaction
from cti.errors import Conflict, NotFound
from cti.events import CallUpdated
from cti.lifecycle import OPEN_STATES
from cti.observe.metrics import count_webhook_refusal

log = logging.getLogger(__name__)

SEEN_CALLBACKS = 10_000


def xml(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, content_type="text/xml", status=status)


def forbidden() -> web.Response:
    return web.Response(status=403, text="invalid signature")


def mine(interaction: Interaction) -> bool:
    refs = interaction.channel_refs
    return interaction.channel is Channel.VOICE and bool(refs.get(REF_CALL_SID) or refs.get(REF_OUTBOUND))


def conference_name(interaction: Interaction) -> str:
    return interaction.channel_refs.get(REF_CONFERENCE) or interaction.id


def conference_sid(interaction: Interaction) -> str:
    """The SID the Participants API needs; until Twilio reported the conference, the call
    is not connected yet (the agent just answered)."""
    sid = interaction.channel_refs.get(REF_CONFERENCE_SID, "")
    if not sid or not interaction.channel_refs.get(REF_CALL_SID):
        raise Conflict("call-not-connected", "the call is not connected yet; try again in a moment",
                       interaction_id=interaction.id)
    return sid


class VoiceState:
    def __init__(self, config: TwilioVoiceConfig, deps: AdapterDeps) -> None:
        # Read on every use, never kept: ``reconfigure`` replaces it.
        self.config = config
        self.deps = deps
        self._validator = RequestValidator(config.auth_token)
        # Cluster-wide with Redis: callbacks for one call may reach any node.
        self.locks = KeyedLocks(deps.leases, "twilio-voice")
        self.calls: TwilioCalls | None = None
        self.seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    async def form_or_none(self, request: web.Request) -> MultiDictProxy[str] | None:
        form = await signed_form(request, self._validator, self.config.public_url)
        if form is None:
            count_webhook_refusal(request, "twilio_voice", "bad-signature")
            log.warning("twilio voice webhook refused: missing or invalid signature path=%s from=%s",
                        request.path, request.remote)
        return form

    def require_calls(self) -> TwilioCalls:
        if self.calls is None:
            raise TwilioCallError("not-started", "the Twilio voice channel is not started")
        return self.calls

    async def hang_up_quietly(self, call_sid: str | None) -> None:
        if call_sid:
            with contextlib.suppress(TwilioCallError):  # ended already
                await self.require_calls().update(call_sid, status="completed")

    async def redirect_to_queue(self, interaction: Interaction) -> None:
        await self.require_calls().update(
            interaction.channel_refs[REF_CALL_SID],
            twiml=twiml.enqueue(self.config, interaction.channel_refs.get(REF_QUEUE, interaction.id),
                                interaction.id))

    def caller_id_for(self, interaction: Interaction, target: str) -> str:
        """What the agent's phone shows: the customer for a Twilio Client, our number for a phone
        (Twilio only lets us call out from a number we own or verified)."""
        refs = interaction.channel_refs
        if target.startswith("client:") and refs.get(REF_CALLER):
            return refs[REF_CALLER]
        return self.config.caller_id or refs.get(REF_NUMBER, "")

    async def live(self, interaction_id: str, agent_id: str) -> Interaction:
        return await owned_live_call(self.deps.context, interaction_id, agent_id, carried=mine,
                                     not_carried="not-a-twilio-call")

    async def by_call(self, call_sid: str, *, open_only: bool = True) -> Interaction | None:
        found = await self.deps.context.find_interaction_by_ref(REF_CALL_SID, call_sid) if call_sid else None
        return found if found is not None and (found.state in OPEN_STATES or not open_only) else None

    async def interaction_of(self, interaction_id: str | None, call_sid: str) -> Interaction | None:
        """The interaction a callback names in its (signed) URL, else the one of its call."""
        if interaction_id:
            with contextlib.suppress(NotFound):
                found = await self.deps.context.interaction(interaction_id)
                return found if mine(found) else None
            return None
        return await self.by_call(call_sid)

    def remember(self, key: tuple[str, str, str]) -> None:
        self.seen[key] = None
        while len(self.seen) > SEEN_CALLBACKS:
            self.seen.popitem(last=False)

    async def call_updated(self, interaction_id: str, agent_id: str | None, what: str,
                           details: Mapping[str, Any]) -> None:
        await self.deps.hub.publish(CallUpdated(at=self.deps.clock.now(), interaction_id=interaction_id,
                                                agent_id=agent_id, what=what, details=dict(details)))
