"""Voice on a direct SIP line, without Asterisk: both halves on our own SIP transaction and dialog
layer (``adapters.sip.sipcore``) on the asyncio loop, and our own RTP (``media``).

The caller's half (``caller_leg``, its decisions as plain data in ``caller_call``) keeps the line
registered with the configured registrar/proxy (digest, refresh, retried for ever) on its own
endpoint. An incoming call is answered (the SDP answer in the law the caller offered, PCMU or
PCMA; 486 over ``max_calls``) and hears the greeting, then the hold audio (16-bit WAV prompts
coded in that law, ``adapters.sip.g711``; a tone generated in code when none is configured); the
digits the caller keys (SIP INFO, or RFC 4733 telephone-events in the RTP) until '#',
``account_digits`` or ``digits_seconds`` become ``ivr.account``, the next key ``ivr.reason``
(named by ``reasons``; asked only when set); then the call is a queued voice interaction of the
customer who owns the caller's number. A caller hanging up while waiting abandons it; after an
answer, a hang-up ends the call into wrap-up. ``caller_leg`` calls ``on_registered``,
``on_incoming``, ``on_dtmf`` and ``on_ended`` on the loop; no thread is involved.

The agent's leg (``agent_leg``) is on a second ``sipcore`` endpoint: an offer rings the agent's
``sip`` endpoint through the same proxy, offering only the caller's codec; the phone's
answer is the accept and the two legs' RTP is relayed packet by packet (``media``). A refusal or
no answer declines the offer "no-answer" (re-queued, agent away); the caller hanging up cancels
the ringing phone; the agent's BYE ends the caller's call. An agent without a ``sip`` endpoint
accepts on the desktop (the caller stays on the hold audio).

The desk's controls: hang-up, blind transfer, hold and resume (the relay switches the caller to
the hold audio, the phone is re-INVITEd ``sendonly``/``sendrecv``), recording (``recording.py``)
and click-to-dial (the agent's phone, then the customer through the trunk, both on ``sipcore``).
A caller's call (``LiveCall``) and a dialled one (``Dialled``) are both a ``talk.Talk`` (the
customer's RTP leg, the agent's phone and its RTP, hold, the recording), so every control but
click-to-dial acts on either the same way; a dialled customer handed over by a transfer is offered
and rung like a caller.
A stop of the server ends every call with BYE and closes its interactions.

A supervisor listens, whispers or barges (``monitor``) on a caller's call or a dialled one, on
their own ``sip`` phone, rung through the proxy like an agent's (``monitoring.py``); once it
answers the relay mixes 20 ms frames for the directions that need it (``media.Conference``,
``mixer.py``) and stays pass-through for the others, and for every call no supervisor is on.
The supervisor hanging up ends only their leg; the call ending ends it with BYE.

This module keeps the adapter's life cycle, the line's events and the methods the server calls;
the parts it wires share ``line.LineParts`` (the calls table is ``calls``): the caller's answer,
keys and queueing (``ivr``), the offer ringing the agent's phone (``offers``), the desk's controls
and supervision (``desk``), click-to-dial (``click_to_dial``). The channel references of a voice
interaction are named in ``calls``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from adapters.channel import AdapterDeps, SendRefused, SendResult
from adapters.sip.caller_leg import CallerCall, CallerLine
from adapters.sip.calls import REF_CALL_ID, REF_DIALLED, WAITING, Dialled, LiveCall
from adapters.sip.click_to_dial import ClickToDial
from adapters.sip.config import SipConfig
from adapters.sip.desk import Desk
from adapters.sip.ivr import Ivr, account_of, e164
from adapters.sip.line import LineParts, Prompts, carries
from adapters.sip.offers import Offers
from adapters.sip.sipcore.digest import Credentials
from adapters.sip.sipcore.transport import SipEndpoint
from adapters.sip.talk import Talk
from cti.domain import Channel, Customer, Interaction, InteractionState, Message
from cti.errors import Conflict, NotFound
from cti.events import InteractionOffered, OfferWithdrawn
from cti.lifecycle import OPEN_STATES
from cti.tasks import stop_tasks

# Where they were defined before the adapter was split: importers may still name this module.
__all__ = ["Dialled", "LiveCall", "Prompts", "SipLineAdapter", "account_of", "e164"]

log = logging.getLogger(__name__)


class SipLineAdapter:
    channel = Channel.VOICE
    # The desk's buttons for SIP-line calls (``cti.ports.DeskButtons``): no consult (503 below).
    call_refs: tuple[str, ...] = (REF_CALL_ID, REF_DIALLED)
    desk_controls: tuple[str, ...] = ("hold", "record")

    def __init__(self, config: SipConfig, deps: AdapterDeps, prompts: Prompts | None = None) -> None:
        self._config = config
        self.config = config
        self._deps = deps
        self._parts = LineParts(config, deps, prompts or Prompts())
        self._ivr = Ivr(self._parts)
        self._offers = Offers(self._parts)
        self._desk = Desk(self._parts)
        self._dialer = ClickToDial(self._parts, self._offers)
        self._line: CallerLine | None = None  # the caller's half: registration, incoming calls
        self._watcher: asyncio.Task[None] | None = None
        self.registered = asyncio.Event()
        self.registrations = 0  # successful REGISTER exchanges that changed the state (tests)

    @property
    def prompts(self) -> Prompts:
        return self._parts.prompts

    # ----- life cycle ----------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        return None

    async def start(self) -> None:
        if self._line is not None:
            return
        c = self._config
        self._line = CallerLine(c, self)
        await self._line.start()
        self._parts.endpoint = await SipEndpoint.open(
            c.local_ip, c.agent_sip_port, outbound=(c.server, c.port), user=c.user,
            credentials=Credentials(c.user, c.password) if c.password else None)
        sub = self._deps.hub.subscribe(maxsize=1000, wants=lambda e: isinstance(
            e, InteractionOffered | OfferWithdrawn) and self.call_for(e.interaction_id) is not None)
        self._watcher = asyncio.create_task(self._offers.watch(sub), name="sip-line-offers")
        log.info("sip line started user=%s registrar=%s:%d local=%s:%d", c.user, c.server, c.port,
                 c.local_ip, c.sip_port)

    async def aclose(self) -> None:
        """A stop ends every call: BYE to each caller and each agent's phone through its route
        set (nobody is left talking to a server that is gone, nor a dialog left in the proxy),
        and the interactions close as Asterisk's do: a caller still waiting abandoned, a call
        being talked into wrap-up ("server-stopped")."""
        line, self._line = self._line, None
        endpoint, self._parts.endpoint = self._parts.endpoint, None
        lives, dialled = self._parts.calls.take_all()
        for call in dialled:
            call.end()  # before its task stops: that task must not close it as "hung-up"
        tasks = [t for t in (self._watcher, *self._parts.tasks) if t is not None]
        self._watcher = None
        await stop_tasks(tasks)  # no step of a call runs while it is ended here
        for live in lives:
            if live.leg is None:  # stopped before its media opened: the socket is still bare
                live.call.sock.close()
            live.end(hang_up=True)
            await live.stop_recording()
            if live.interaction_id is not None:
                with contextlib.suppress(Conflict, NotFound):
                    await self._server_stopped(live.interaction_id)
        for call in dialled:
            await call.stop_recording()
            with contextlib.suppress(Conflict, NotFound):
                await self._server_stopped(call.interaction_id)
        # BYE/CANCEL through the route set for any leg left, 480 to a caller still ringing, the
        # line's registration removed; both endpoints at once (each waits for its answers)
        await asyncio.gather(*(ep.shutdown() for ep in (endpoint,) if ep is not None),
                             *(ln.stop() for ln in (line,) if ln is not None))

    async def _server_stopped(self, interaction_id: str) -> None:
        interaction = await self._deps.context.interaction(interaction_id)
        if interaction.state in WAITING:
            await self._deps.interactions.customer_left(interaction_id)  # abandoned
        elif interaction.state is InteractionState.ACTIVE:
            await self._deps.interactions.call_ended(interaction_id, why="server-stopped")
        log.info("sip call ended by the stop interaction=%s state=%s", interaction_id,
                 interaction.state.value)

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        raise SendRefused("voice-call", "a call has no written replies")

    # ----- events from the line (on the loop; ``caller_leg.CallerEvents``) -------------------

    def on_registered(self, ok: bool, why: str) -> None:
        if ok:
            self.registrations += 1
            self.registered.set()
            log.info("sip line registered")
        else:
            self.registered.clear()
            log.warning("sip line not registered: %s (retrying)", why)

    def on_incoming(self, call: CallerCall) -> None:
        self._ivr.incoming(call)

    def on_dtmf(self, call: CallerCall, digit: str) -> None:
        self._ivr.key(call, digit)

    def on_ended(self, call: CallerCall, why: str) -> None:
        self._ivr.ended(call, why)

    # ----- call control (desktop): ``desk``, ``click_to_dial`` --------------------------------

    def handles(self, interaction: Interaction) -> bool:
        return carries(interaction)

    async def hangup(self, interaction_id: str, agent_id: str) -> None:
        await self._desk.hangup(interaction_id, agent_id)

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None = None, note: str | None = None) -> Interaction:
        return await self._desk.transfer(interaction_id, agent_id, to_queue=to_queue, to_agent=to_agent,
                                         note=note)

    async def record(self, interaction_id: str, agent_id: str, action: str) -> None:
        await self._desk.record(interaction_id, agent_id, action)

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None:
        await self._desk.hold(interaction_id, agent_id, on=on)

    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None:
        await self._desk.consult(interaction_id, agent_id, to_agent)

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        await self._desk.cancel_consult(interaction_id, agent_id)

    async def complete_consult(self, interaction_id: str, agent_id: str) -> None:
        await self._desk.complete_consult(interaction_id, agent_id)

    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None:
        await self._desk.monitor(supervisor_id, agent_id, mode)

    def dials_for(self, agent_id: str) -> bool:
        return self._dialer.dials_for(agent_id)

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction:
        return await self._dialer.dial(agent_id, number, queue=queue)

    # ----- helpers -------------------------------------------------------------------------

    def live_calls(self) -> tuple[LiveCall, ...]:
        return self._parts.calls.live_calls()

    def call_for(self, interaction_id: str) -> Talk | None:
        """The call (a caller's or a click-to-dial's) of a voice interaction on this line."""
        return self._parts.calls.call_for(interaction_id)

    async def by_call(self, call_id: str) -> Interaction | None:
        found = await self._deps.context.find_interaction_by_ref(REF_CALL_ID, call_id)
        return found if found is not None and found.state in OPEN_STATES else None
