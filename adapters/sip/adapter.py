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

A voice interaction's channel references: ``sip_call_id`` (the caller's dialog), ``sip_caller``
(the From user part as received), ``sip_dialled`` (the number a click-to-dial called).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.channel import AdapterDeps, SendRefused, SendResult
from adapters.locks import KeyedLocks
from adapters.sip import g711
from adapters.sip.agent_leg import AgentLeg, Outcome, Ring, phone_leg
from adapters.sip.caller_leg import CallerCall, CallerLine
from adapters.sip.config import SipConfig
from adapters.sip.media import MediaLeg
from adapters.sip.monitoring import Supervision
from adapters.sip.sipcore.digest import Credentials
from adapters.sip.sipcore.sdp import PCMA, PCMU
from adapters.sip.sipcore.transport import SipEndpoint
from adapters.sip.talk import Talk
from cti.calls import audit_monitor, may_monitor, owned_live_call, recording_step
from cti.domain import (
    Channel,
    Customer,
    Identity,
    IdentityKind,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
)
from cti.errors import Conflict, InvalidInput, NotFound, Unavailable
from cti.events import CallUpdated, DomainEvent, InteractionOffered, OfferWithdrawn, SupervisionChanged
from cti.hub import Subscription
from cti.identities import normalise_phone
from cti.lifecycle import OPEN_STATES
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

REF_CALL_ID = "sip_call_id"
REF_CALLER = "sip_caller"
REF_DIALLED = "sip_dialled"  # a click-to-dial: the number called through the trunk
WAITING = frozenset({InteractionState.QUEUED, InteractionState.OFFERED})


@dataclass(frozen=True)
class Prompts:
    """What a waiting caller hears: the greeting once, then the hold audio (None: a tone)."""

    greeting: g711.Prompt | None = None
    hold: g711.Prompt | None = None


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


def account_of(keys: str, limit: int) -> tuple[str, int, bool]:
    """(account, keys it used, complete) from the keys pressed so far: the digits before '#', at
    most ``limit`` of them; complete at '#' or at ``limit`` keys."""
    if "#" in keys[: limit + 1]:
        before = keys.split("#", 1)[0]
        return "".join(k for k in before if k.isdigit())[:limit], len(before) + 1, True
    return "".join(k for k in keys[:limit] if k.isdigit()), min(len(keys), limit), len(keys) >= limit


def e164(user: str, country: str) -> str:
    """The caller's number from a From user part: ``+1555…`` or ``1555…`` (11+ digits: already
    international, as trunks send it), else a national number in the default region."""
    digits = user.strip()
    if digits.isdigit() and len(digits) > 10:
        digits = "+" + digits
    return normalise_phone(digits, region=country)


class SipLineAdapter:
    channel = Channel.VOICE
    # The desk's buttons for SIP-line calls (``cti.ports.DeskButtons``): no consult (503 below).
    call_refs: tuple[str, ...] = (REF_CALL_ID, REF_DIALLED)
    desk_controls: tuple[str, ...] = ("hold", "record")

    def __init__(self, config: SipConfig, deps: AdapterDeps, prompts: Prompts | None = None) -> None:
        self._config = config
        self.config = config
        self.prompts = prompts or Prompts()
        self._deps = deps
        self._locks = KeyedLocks()
        self._line: CallerLine | None = None  # the caller's half: registration, incoming calls
        self._calls: dict[str, LiveCall] = {}  # SIP Call-ID -> the live call
        self._dialled: dict[str, Dialled] = {}  # interaction id -> a click-to-dial's legs
        self._tasks: set[asyncio.Task[None]] = set()
        self._endpoint: SipEndpoint | None = None  # the agent legs (sipcore), through the same proxy
        self._watcher: asyncio.Task[None] | None = None
        self.registered = asyncio.Event()
        self.registrations = 0  # successful REGISTER exchanges that changed the state (tests)

    # ----- life cycle ----------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        return None

    async def start(self) -> None:
        if self._line is not None:
            return
        c = self._config
        self._line = CallerLine(c, self)
        await self._line.start()
        self._endpoint = await SipEndpoint.open(
            c.local_ip, c.agent_sip_port, outbound=(c.server, c.port), user=c.user,
            credentials=Credentials(c.user, c.password) if c.password else None)
        sub = self._deps.hub.subscribe(maxsize=1000, wants=lambda e: isinstance(
            e, InteractionOffered | OfferWithdrawn) and self.call_for(e.interaction_id) is not None)
        self._watcher = asyncio.create_task(self._watch(sub), name="sip-line-offers")
        log.info("sip line started user=%s registrar=%s:%d local=%s:%d", c.user, c.server, c.port,
                 c.local_ip, c.sip_port)

    async def aclose(self) -> None:
        """A stop ends every call: BYE to each caller and each agent's phone through its route
        set (nobody is left talking to a server that is gone, nor a dialog left in the proxy),
        and the interactions close as Asterisk's do: a caller still waiting abandoned, a call
        being talked into wrap-up ("server-stopped")."""
        line, self._line = self._line, None
        endpoint, self._endpoint = self._endpoint, None
        lives, self._calls = list(self._calls.values()), {}
        dialled, self._dialled = list(self._dialled.values()), {}
        for call in dialled:
            call.end()  # before its task stops: that task must not close it as "hung-up"
        tasks = [t for t in (self._watcher, *self._tasks) if t is not None]
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

    # ----- events from the line (on the loop) ----------------------------------------------

    def on_registered(self, ok: bool, why: str) -> None:
        if ok:
            self.registrations += 1
            self.registered.set()
            log.info("sip line registered")
        else:
            self.registered.clear()
            log.warning("sip line not registered: %s (retrying)", why)

    def on_incoming(self, call: CallerCall) -> None:
        live = LiveCall(call)
        self._calls[call.call_id] = live
        self._spawn(self._answer(live))

    def on_dtmf(self, call: CallerCall, digit: str) -> None:
        live = self._calls.get(call.call_id)
        if live is not None:
            # the account's digits, its '#', and the reason's key (``_collect_digits``)
            live.key(digit, keep=self._config.account_digits + 2)

    def on_ended(self, call: CallerCall, why: str) -> None:
        live = self._calls.pop(call.call_id, None)
        if live is None or live.ended:
            return
        live.end(hang_up=False)  # a ringing agent is cancelled, a talking one hung up
        if live.recording is not None:
            self._spawn(live.stop_recording())
        log.info("sip call ended call=%s why=%s interaction=%s", call.call_id, why, live.interaction_id)
        if live.interaction_id is not None:
            self._spawn(self._caller_gone(live.interaction_id, why))

    # ----- the caller -----------------------------------------------------------------------

    async def _answer(self, live: LiveCall) -> None:
        call = live.call
        if live.ended:  # cancelled before its media was opened
            call.sock.close()
            return
        leg = await MediaLeg.open(call.sock, call.remote, call.payload_type,
                                  greeting=self.prompts.greeting, hold=self.prompts.hold,
                                  dtmf_payload_type=call.dtmf_payload_type,
                                  on_key=lambda key: self.on_dtmf(call, key))
        if live.ended or not call.answer():  # cancelled meanwhile
            leg.close()
            return
        live.leg = call.media = leg
        leg.play(greeting=True)
        log.info("sip call answered call=%s from=%s codec=%d", call.call_id, call.caller, call.payload_type)
        account, reason = await self._collect_digits(live)
        if live.ended:
            return
        async with self._locks.hold(call.call_id):
            live.interaction_id = (await self._queue_caller(live, account, reason)).id

    async def _collect_digits(self, live: LiveCall) -> tuple[str, str]:
        """The account (keys until '#' or ``account_digits``), then, when ``reasons`` are set, the
        next key as the reason; each wait bounded by ``digits_seconds``."""
        limit = self._config.account_digits
        await self._keys_until(live, lambda: account_of("".join(live.digits), limit)[2])
        account, used, _ = account_of("".join(live.digits), limit)
        if not self._config.reasons:
            return account, ""
        await self._keys_until(live, lambda: len(live.digits) > used)
        key = live.digits[used] if len(live.digits) > used else ""
        return account, self._config.reasons.get(key, key)

    async def _keys_until(self, live: LiveCall, done: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.digits_seconds
        while not live.ended and not done():
            left = deadline - loop.time()
            if left <= 0:
                return
            live.digit_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.digit_event.wait(), left)

    async def _queue_caller(self, live: LiveCall, account: str, reason: str = "") -> Interaction:
        call = live.call
        caller = call.caller
        identities: list[InboundIdentity] = []
        with contextlib.suppress(InvalidInput):
            country = self._deps.config.phone_region
            # The trunk's caller ID: asserted by the network, not proven.
            identities.append(InboundIdentity(Identity(IdentityKind.PHONE, e164(caller, country)),
                                              IdentityLevel.ASSERTED, "caller-id"))
        if not identities:
            identities.append(InboundIdentity(Identity(IdentityKind.CALL, call.call_id),
                                              IdentityLevel.ASSERTED, "call"))
        context = {"ivr.account": account, "ivr.reason": reason, "voice.did": call.called}
        interaction = await self._deps.interactions.start_inbound(
            channel=Channel.VOICE, identities=identities, display_name=None, queue=self._config.queue,
            channel_refs={REF_CALL_ID: call.call_id, REF_CALLER: caller},
            context={k: v for k, v in context.items() if v})
        log.info("sip caller queued call=%s interaction=%s account=%s", call.call_id, interaction.id,
                 account or "-")
        return interaction

    async def _caller_gone(self, interaction_id: str, why: str) -> None:
        async with self._locks.hold(interaction_id):
            interaction = await self._deps.context.interaction(interaction_id)
            if interaction.state in WAITING:
                log.info("sip caller left while waiting interaction=%s why=%s", interaction_id, why)
                await self._deps.interactions.customer_left(interaction_id)  # abandoned
            elif interaction.state is InteractionState.ACTIVE:
                await self._deps.interactions.customer_left(interaction_id)  # wrap-up, customer-left

    # ----- the agent's leg: an offer rings the agent's SIP phone, its answer is the accept ----

    async def _watch(self, sub: Subscription) -> None:
        try:
            while True:
                event: DomainEvent = await sub.get()
                if isinstance(event, InteractionOffered):
                    self._spawn(self._ring(event))
                elif isinstance(event, OfferWithdrawn):
                    live = self.call_for(event.interaction_id)
                    if live is not None and live.agent is not None and live.agent_media is None:
                        live.drop_agent()  # the offer expired or went elsewhere: stop ringing
        finally:
            sub.close()

    async def _ring(self, offer: InteractionOffered) -> None:
        """Ring the offered agent's phone (through the proxy, sipcore). Answered: the accept, and
        the two legs' RTP relayed as it comes (the agent is offered the caller's codec only, so
        nothing is transcoded). Refused or not answered: the offer is declined "no-answer" (the
        core re-queues the caller with the wait kept and sets the agent away)."""
        live = self.call_for(offer.interaction_id)
        uri = self._config.endpoints.get(offer.agent_id)
        endpoint = self._endpoint
        if live is None or live.leg is None or live.ended or uri is None or endpoint is None:
            return  # no phone: the agent accepts on the desktop, the caller stays on hold audio
        if live.agent is not None:
            live.drop_agent()
        c = self._config
        pt = live.leg.payload_type
        leg, sock = self._new_leg(uri, (pt,))
        live.agent, live.agent_id = leg, offer.agent_id
        log.info("sip ringing agent interaction=%s agent=%s", offer.interaction_id, offer.agent_id)
        try:
            ring = await leg.ring(c.ring_seconds)
        except BaseException:  # stopped while ringing (the server's shutdown CANCELs the leg), or
            sock.close()       # no final answer at all to our CANCEL
            if live.agent is leg:
                live.agent = live.agent_id = None
            raise
        still_ours = live.agent is leg and not live.ended
        media = ring.media
        if ring.outcome is not Outcome.ANSWERED or media is None or not still_ours or media.codec != pt:
            sock.close()
            if live.agent is leg:
                live.agent = live.agent_id = None
            if ring.outcome is Outcome.ANSWERED:
                leg.hangup()  # answered too late, or with another codec than the caller's
            log.info("sip agent leg not connected interaction=%s agent=%s outcome=%s status=%d",
                     offer.interaction_id, offer.agent_id, ring.outcome.value, ring.status)
            endpoint.discard(leg.id)
            if still_ours:
                with contextlib.suppress(Conflict, NotFound):
                    await self._deps.interactions.reject(offer.interaction_id, offer.agent_id,
                                                         why="no-answer")
            return
        agent_media = await MediaLeg.open(sock, (media.address, media.port), pt)
        try:
            await self._deps.interactions.accept(offer.interaction_id, offer.agent_id)
        except (Conflict, NotFound):  # the offer expired a moment before
            agent_media.close()
            if live.agent is leg:
                live.agent = live.agent_id = None
            leg.hangup()
            self._spawn(self._agent_hangs_up(live, leg))  # only to forget its events when it ends
            return
        live.connect(agent_media)
        log.info("sip agent answered interaction=%s agent=%s codec=%d", offer.interaction_id,
                 offer.agent_id, pt)
        self._spawn(self._agent_hangs_up(live, leg))

    async def _agent_hangs_up(self, live: Talk, leg: AgentLeg) -> None:
        try:
            by = await leg.ended(timeout=24 * 3600.0)
        finally:
            leg.endpoint.discard(leg.id)
        if by != "remote" or live.agent is not leg or live.ended:
            return  # we ended it (caller gone, desktop hang-up, transfer)
        interaction_id = live.interaction_id
        await self._end_customer(live)
        if interaction_id is not None:
            async with self._locks.hold(interaction_id):
                with contextlib.suppress(Conflict, NotFound):
                    await self._deps.interactions.call_ended(interaction_id, why="agent-hung-up")
        log.info("sip agent hung up interaction=%s", interaction_id)

    async def _end_customer(self, talk: Talk) -> None:
        """End a call from our side (the agent hung up, or the desk did): BYE to the customer
        (the caller's leg, or the dialled one) and to the agent's phone, the relay and the
        recording closed."""
        if isinstance(talk, Dialled):
            self._dialled.pop(talk.interaction_id, None)
            talk.end()
        elif isinstance(talk, LiveCall):
            self._calls.pop(talk.call.call_id, None)
            talk.end(hang_up=True)
        await talk.stop_recording()

    # ----- call control (desktop) ----------------------------------------------------------

    def handles(self, interaction: Interaction) -> bool:
        refs = interaction.channel_refs
        return interaction.channel is Channel.VOICE and bool(refs.get(REF_CALL_ID) or refs.get(REF_DIALLED))

    def _talk(self, interaction: Interaction) -> Talk | None:
        """The call of an interaction: a click-to-dial's, else the caller's."""
        dialled = self._dialled.get(interaction.id)
        if dialled is not None:
            return dialled
        return self._calls.get(interaction.channel_refs.get(REF_CALL_ID, ""))

    def _connected(self, interaction: Interaction) -> Talk:
        """The call the desk's controls act on: the customer's audio is ours."""
        talk = self._talk(interaction)
        if talk is None or talk.ended:
            raise Conflict("no-call", "the call is over", interaction_id=interaction.id)
        if talk.leg is None:
            raise Conflict("call-not-connected", "the customer has not answered yet",
                           interaction_id=interaction.id)
        return talk

    async def hangup(self, interaction_id: str, agent_id: str) -> None:
        """End the customer's call (a BYE through the proxy); the interaction goes to wrap-up."""
        async with self._locks.hold(interaction_id):
            interaction = await self._live(interaction_id, agent_id)
            talk = self._talk(interaction)
            if talk is not None:
                await self._end_customer(talk)
            await self._deps.interactions.call_ended(interaction_id, why="agent-hung-up")
        log.info("sip hang-up from the desktop interaction=%s agent=%s", interaction_id, agent_id)

    async def transfer(self, interaction_id: str, agent_id: str, *, to_queue: str | None,
                       to_agent: str | None = None, note: str | None = None) -> Interaction:
        """A blind transfer: the agent's phone hung up, the customer back on the hold audio, the
        interaction queued again or offered to ``to_agent`` (whose phone the offer rings)."""
        async with self._locks.hold(interaction_id):
            talk = self._connected(await self._live(interaction_id, agent_id))
            moved = await self._deps.interactions.transfer(interaction_id, agent_id, to_queue=to_queue,
                                                           to_agent=to_agent, note=note)
            talk.hand_over()
        log.info("sip transfer interaction=%s from=%s to_queue=%s to_agent=%s", interaction_id, agent_id,
                 to_queue, to_agent)
        return moved

    async def record(self, interaction_id: str, agent_id: str, action: str) -> None:
        """The desk's recording: ``start`` a WAV of both directions from the relay (two channels,
        ``recording.py``) named in the interaction's ``voice.recording``; ``pause`` (silence is
        kept in its place) and ``resume``; ``stop``. The call's end stops it too."""
        what = recording_step(action)
        async with self._locks.hold(interaction_id):
            talk = self._connected(await self._live(interaction_id, agent_id))
            if action == "start":
                if talk.recording is not None:
                    raise Conflict("recording-in-progress", "the call is being recorded",
                                   interaction_id=interaction_id)
                if not self._config.recording_dir:
                    raise Unavailable("recording-not-configured", "the SIP line has no recording_dir")
                path = Path(self._config.recording_dir) / f"{interaction_id}.wav"
                await talk.start_recording(path)
                await self._deps.interactions.update_refs(interaction_id,
                                                          context={"voice.recording": str(path)})
            elif talk.recording is None:
                raise Conflict("not-recording", "the call is not being recorded",
                               interaction_id=interaction_id)
            elif action == "stop":
                await talk.stop_recording()
            else:
                talk.recording.pause(action == "pause")
        await self._call_updated(interaction_id, agent_id, what, {"by": "desktop"})
        log.info("sip recording %s interaction=%s agent=%s", action, interaction_id, agent_id)

    async def hold(self, interaction_id: str, agent_id: str, *, on: bool) -> None:
        """Hold and resume (``Talk.hold``): the customer hears the hold audio, the agent's phone is
        re-INVITEd ``sendonly``, then ``sendrecv``."""
        async with self._locks.hold(interaction_id):
            await self._connected(await self._live(interaction_id, agent_id)).hold(on)
        await self._call_updated(interaction_id, agent_id, "held" if on else "resumed", {"by": "desktop"})
        log.info("sip %s interaction=%s agent=%s", "hold" if on else "resume", interaction_id, agent_id)

    async def consult(self, interaction_id: str, agent_id: str, to_agent: str) -> None:
        raise Unavailable("not-supported", "consult is not available on SIP-line calls yet")

    async def cancel_consult(self, interaction_id: str, agent_id: str) -> None:
        raise Unavailable("not-supported", "consult is not available on SIP-line calls yet")

    async def complete_consult(self, interaction_id: str, agent_id: str) -> None:
        raise Unavailable("not-supported", "consult is not available on SIP-line calls yet")

    def dials_for(self, agent_id: str) -> bool:
        return agent_id in self._config.endpoints

    async def dial(self, agent_id: str, number: str, *, queue: str | None = None) -> Interaction:
        """Click-to-dial: the agent's phone rings first (through the proxy); when they answer, the
        customer is called through the trunk with the codec the phone chose, and the two legs are
        relayed. Either side hanging up ends the other and the call goes to wrap-up."""
        config = self._deps.config
        uri = self._config.endpoints.get(agent_id)
        if agent_id not in config.agents or not uri:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=agent_id)
        if queue is not None and queue not in config.queues:
            raise NotFound("queue-not-found", f"no queue {queue!r}", queue=queue)
        if self._endpoint is None:
            raise Unavailable("sip-not-started", "the SIP line is not running")
        phone = normalise_phone(number, region=config.phone_region)
        dialled = number if number.isdigit() else phone.lstrip("+")
        interaction, _ = await self._deps.interactions.start_active(
            channel=Channel.VOICE, agent_id=agent_id, identities=[Identity(IdentityKind.PHONE, phone)],
            display_name=None, queue=queue, channel_refs={REF_DIALLED: dialled},
            context={"voice.dialled": dialled})
        call = Dialled(interaction_id=interaction.id)
        self._dialled[interaction.id] = call
        self._spawn(self._dial_legs(call, agent_id, uri, dialled))
        log.info("sip click-to-dial agent=%s interaction=%s", agent_id, interaction.id)
        return interaction

    def _new_leg(self, uri: str, formats: tuple[int, ...]) -> tuple[AgentLeg, socket.socket]:
        """A leg to ring through the proxy, and the RTP socket its offer names."""
        endpoint = self._endpoint
        if endpoint is None:
            raise Unavailable("sip-not-started", "the SIP line is not running")
        c = self._config
        return phone_leg(endpoint, uri, from_uri=f"sip:{c.user}@{c.server}", local_ip=c.local_ip,
                         formats=formats)

    async def _ring_or_close(self, leg: AgentLeg, sock: socket.socket) -> Ring:
        try:
            return await leg.ring(self._config.ring_seconds)
        except BaseException:
            sock.close()
            raise

    async def _dial_legs(self, call: Dialled, agent_id: str, agent_uri: str, number: str) -> None:
        """The agent's phone, then the customer: once both answered, a talk like a caller's (the
        agent's BYE is followed by ``_agent_hangs_up``, the desk's controls act on it), until the
        customer or our side ends it."""
        c = self._config
        why = "hung-up"
        agent: AgentLeg | None = None
        customer: AgentLeg | None = None
        followed = False  # the agent's leg is followed (and forgotten) by _agent_hangs_up
        try:
            agent, sock = self._new_leg(agent_uri, (PCMU, PCMA))
            call.agent, call.agent_id = agent, agent_id
            ring = await self._ring_or_close(agent, sock)
            media = ring.media
            if media is None or media.codec is None or call.ended:
                sock.close()
                why = "agent-no-answer"
                return  # an answer the call cannot use is ended with it (``drop_agent``)
            pt = media.codec
            agent_media = await MediaLeg.open(sock, (media.address, media.port), pt)
            if call.ended:
                agent_media.close()
                return
            call.agent_media = agent_media
            followed = True
            self._spawn(self._agent_hangs_up(call, agent))
            customer, sock = self._new_leg(f"sip:{number}@{c.server}:{c.port}", (pt,))
            call.customer = customer
            ring = await self._ring_or_close(customer, sock)
            call.customer_answered = ring.outcome is Outcome.ANSWERED
            media = ring.media
            if media is None or call.ended or media.codec != pt:
                sock.close()
                why = "no-answer" if ring.outcome is Outcome.NO_ANSWER else "customer-refused"
                return
            leg = await MediaLeg.open(sock, (media.address, media.port), pt, hold=self.prompts.hold)
            if call.ended:
                leg.close()
                return
            call.leg = leg
            call.connect(agent_media)
            log.info("sip click-to-dial answered interaction=%s codec=%d", call.interaction_id, pt)
            await customer.ended(timeout=24 * 3600.0)
        finally:
            for done in (customer, None if followed else agent):
                if done is not None:
                    done.endpoint.discard(done.id)
            if not call.ended:  # not our side (the desk, the agent, a stop): the customer, or no answer
                call.end()
                self._dialled.pop(call.interaction_id, None)
                await call.stop_recording()
                async with self._locks.hold(call.interaction_id):
                    with contextlib.suppress(Conflict, NotFound):
                        await self._customer_gone(call.interaction_id, why)

    async def _customer_gone(self, interaction_id: str, why: str) -> None:
        """A dialled customer hung up: waiting after a transfer, the call is abandoned; talking,
        it ends into wrap-up."""
        interaction = await self._deps.context.interaction(interaction_id)
        if interaction.state in WAITING:
            await self._deps.interactions.customer_left(interaction_id)
        elif interaction.state is InteractionState.ACTIVE:
            await self._deps.interactions.call_ended(interaction_id, why=why)

    async def monitor(self, supervisor_id: str, agent_id: str, mode: str) -> None:
        """Listen to, whisper to or barge into the agent's call on the supervisor's own SIP phone
        (``monitoring.py``): it rings through the proxy, and once answered the relay mixes as the
        mode says. Asked again by the same supervisor, the mode changes on the same leg."""
        may_monitor(self._deps.config, supervisor_id, agent_id, mode)
        uri = self._config.endpoints.get(supervisor_id)
        if not uri:
            raise InvalidInput("no-phone", "you have no phone configured", agent_id=supervisor_id)
        talks: list[Talk] = [*self._calls.values(), *self._dialled.values()]  # called in, or dialled
        live = next((c for c in talks if c.agent_id == agent_id and c.agent_media is not None
                     and c.interaction_id is not None and not c.ended), None)
        if live is None or live.interaction_id is None or live.leg is None:
            raise Conflict("no-call", "the agent is not on a call", agent_id=agent_id)
        if self._endpoint is None:
            raise Unavailable("sip-not-started", "the SIP line is not running")
        current = live.supervision if live.supervision is not None and not live.supervision.ended else None
        if current is not None and current.supervisor_id != supervisor_id:
            raise Conflict("already-monitored", "another supervisor is on this call", agent_id=agent_id)
        await audit_monitor(self._deps.context, supervisor_id, agent_id, mode, live.interaction_id)
        if live.ended or live.agent_media is None or live.agent_id != agent_id:  # ended meanwhile
            raise Conflict("no-call", "the agent is not on a call", agent_id=agent_id)
        if current is not None:
            current.set_mode(mode)
            if current.conference is not None:
                await self._supervision_changed(current, True)
            return
        c = self._config
        live.supervision = sup = Supervision.open(
            self._endpoint, uri, from_uri=f"sip:{c.user}@{c.server}", local_ip=c.local_ip,
            law=live.leg.payload_type, supervisor_id=supervisor_id, agent_id=agent_id,
            interaction_id=live.interaction_id, mode=mode)
        self._spawn(self._supervise(live, sup))
        log.info("sip ringing supervisor interaction=%s supervisor=%s mode=%s", live.interaction_id,
                 supervisor_id, mode)

    async def _supervise(self, live: Talk, sup: Supervision) -> None:
        def legs() -> tuple[MediaLeg, MediaLeg, bool] | None:
            if live.supervision is not sup or live.ended or live.leg is None or live.agent_media is None:
                return None
            return live.leg, live.agent_media, live.held
        try:
            await sup.run(self._config.ring_seconds, legs,
                          lambda active: self._supervision_changed(sup, active))
        finally:
            if live.supervision is sup:
                live.supervision = None
            sup.end()  # stopped while ringing or talking (a stop of the server): BYE, socket closed

    async def _supervision_changed(self, sup: Supervision, active: bool) -> None:
        await self._deps.hub.publish(SupervisionChanged(
            at=self._deps.clock.now(), supervisor_id=sup.supervisor_id, agent_id=sup.agent_id, mode=sup.mode,
            active=active, interaction_id=sup.interaction_id))

    async def _call_updated(self, interaction_id: str, agent_id: str | None, what: str,
                            details: Mapping[str, Any]) -> None:
        await self._deps.hub.publish(CallUpdated(at=self._deps.clock.now(), interaction_id=interaction_id,
                                                 agent_id=agent_id, what=what, details=dict(details)))

    async def _live(self, interaction_id: str, agent_id: str) -> Interaction:
        return await owned_live_call(self._deps.context, interaction_id, agent_id, carried=self.handles,
                                     not_carried="not-a-sip-call")

    # ----- helpers -------------------------------------------------------------------------

    def live_calls(self) -> tuple[LiveCall, ...]:
        return tuple(self._calls.values())

    def call_for(self, interaction_id: str) -> Talk | None:
        """The call (a caller's or a click-to-dial's) of a voice interaction on this line."""
        dialled = self._dialled.get(interaction_id)
        if dialled is not None:
            return dialled
        for live in self._calls.values():
            if live.interaction_id == interaction_id:
                return live
        return None

    async def by_call(self, call_id: str) -> Interaction | None:
        found = await self._deps.context.find_interaction_by_ref(REF_CALL_ID, call_id)
        return found if found is not None and found.state in OPEN_STATES else None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except (NotFound, Conflict) as exc:
            log.info("sip line: step skipped: %s", exc)
        except Exception:  # one call's trouble must not stop the others'
            log.exception("sip line: step failed")
