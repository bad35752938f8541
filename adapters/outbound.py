"""Agent replies out on their interaction's own channel, with the outcome told to the agent.

The interaction service stores a reply and publishes ``MessageAdded``; this dispatcher sends it
through the adapter of the interaction's channel and publishes ``MessageStatus`` (sent, refused
with the reason, or failed), so the desktop shows whether the customer will see it.

Each reply is taken in the database just before it is sent (``take_delivery``: one node, once)
and its outcome recorded. A reply that no node took within ``recover_after`` seconds (its node
died between storing and sending it) is sent by the recovery pass, which one node runs. A node
dying in the middle of a send leaves that reply taken: it may have gone out, so it is not sent
again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from adapters.channel import ChannelAdapter, SendFailed, SendRefused
from cti.clock import Clock
from cti.domain import Channel, Message, MessageSender, jsonable
from cti.events import DomainEvent, MessageAdded, MessageStatus
from cti.hub import EventHub, Subscription
from cti.lease import Leases
from cti.observe.logs import about
from cti.ports import ContextStore
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0  # at shutdown, for replies already taken (each adapter has its own timeout)
RECOVER_AFTER = 120.0  # seconds a stored reply may wait untaken before another node sends it
RECOVER_WINDOW = 86400.0  # older replies are not sent any more: too late to be an answer


class OutboundDispatcher:
    def __init__(self, *, adapters: Mapping[Channel, ChannelAdapter], context: ContextStore,
                 hub: EventHub, clock: Clock, leases: Leases | None = None,
                 recover_after: float = RECOVER_AFTER,
                 on_outcome: Callable[[str, str, str | None], None] | None = None) -> None:
        self._adapters = dict(adapters)
        self._on_outcome = on_outcome  # (channel, status, why) of every attempt: the metrics
        self._context = context
        self._hub = hub
        self._clock = clock
        self._recover_after = recover_after
        self._recovery_task: asyncio.Task[None] | None = None
        self._recovery = (leases or Leases()).one_node("outbound-recovery", start=self._start_recovery,
                                                       stop=self._stop_recovery)
        self._task: asyncio.Task[None] | None = None
        # One queue and worker per channel: replies keep their order within a channel, and a
        # slow provider (Slack rate-limiting, an SMTP relay timing out) holds up only its own.
        self._queues: dict[Channel, asyncio.Queue[MessageAdded]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._sub: Subscription | None = None
        self._in_hand: DomainEvent | None = None  # read from the hub, not yet in its channel's queue

    async def start(self) -> None:
        if self._adapters and self._task is None:
            for channel in self._adapters:
                queue: asyncio.Queue[MessageAdded] = asyncio.Queue()
                self._queues[channel] = queue
                self._workers.append(asyncio.create_task(self._work(queue), name=f"outbound-{channel}"))
            # The node that stored the reply sends it: every node hears it, one must send it.
            sub = self._hub.subscribe(maxsize=10_000, wants=lambda e: isinstance(e, MessageAdded)
                                      and e.message.get("sender") == MessageSender.AGENT, local_only=True)
            self._sub = sub
            self._task = asyncio.create_task(self._run(sub), name="outbound")
            await self._recovery.start()

    async def aclose(self, *, drain: float = DRAIN_SECONDS) -> None:
        """Stop taking replies, give the ones already taken ``drain`` seconds to go out (a
        restart must not swallow what agents just sent), then stop."""
        if self._task is not None:
            await self._recovery.aclose()
        await stop_tasks([self._task])
        self._task = None
        # What the reader held or had not read yet when it stopped is taken all the same.
        held, self._in_hand = self._in_hand, None
        left = [held] if held is not None else []
        if self._sub is not None:
            while not self._sub.queue.empty():
                left.append(self._sub.queue.get_nowait())
            self._sub = None
        for event in left:
            await self._take(event)
        if self._workers:
            try:
                async with asyncio.timeout(drain):
                    for queue in self._queues.values():
                        await queue.join()
            except TimeoutError:
                waiting = sum(q.qsize() for q in self._queues.values())
                log.warning("outbound: stopping with %d replies not sent after %.0f s", waiting, drain)
        workers, self._workers = self._workers, []
        await stop_tasks(workers)

    async def _run(self, sub: Subscription) -> None:
        try:
            while True:
                event = await sub.get()
                self._in_hand = event
                await self._take(event)
                self._in_hand = None
        finally:
            sub.close()

    async def _take(self, event: DomainEvent) -> None:
        """Into its channel's queue (the reader never waits on a send)."""
        if not isinstance(event, MessageAdded) or event.message.get("sender") != MessageSender.AGENT:
            return
        try:
            interaction = await self._context.interaction(event.interaction_id)
        except Exception:
            log.exception("outbound: cannot load interaction=%s", event.interaction_id)
            return
        queue = self._queues.get(interaction.channel)
        if queue is not None:
            queue.put_nowait(event)

    async def _work(self, queue: asyncio.Queue[MessageAdded]) -> None:
        while True:
            event = await queue.get()
            try:
                with about(interaction=event.interaction_id, agent=event.agent_id):
                    await self.send(event)
            except Exception:  # the next reply must still go out
                log.exception("outbound: reply of interaction=%s not handled", event.interaction_id)
            finally:
                queue.task_done()

    async def send(self, event: MessageAdded) -> None:
        interaction = await self._context.interaction(event.interaction_id)
        adapter = self._adapters.get(interaction.channel)
        if adapter is None:
            return
        raw = event.message
        message = Message(id=str(raw["id"]), interaction_id=interaction.id, sender=MessageSender.AGENT,
                          body=str(raw["body"]), at=float(raw["at"]), agent_id=event.agent_id)
        if not await self._context.take_delivery(message.id):
            log.info("outbound: reply %s already taken (by recovery or another node)", message.id)
            return
        customer = await self._context.customer(interaction.customer_id)
        status, why, ref = "sent", None, None
        try:
            result = await adapter.send(interaction, message, customer)
            status, ref = result.status, result.message_ref
            if ref:
                await self._context.set_message_ref(message.id, ref)
        except SendFailed as exc:
            status, why = "failed", exc.why
            log.warning("reply failed channel=%s interaction=%s why=%s", interaction.channel.value,
                        interaction.id, exc.why)
        except SendRefused as exc:
            status, why = "refused", exc.why
            log.info("reply refused channel=%s interaction=%s why=%s", interaction.channel.value,
                     interaction.id, exc.why)
        except Exception as exc:  # one channel's outage must not stop the others' replies
            status, why = "failed", type(exc).__name__
            log.warning("reply failed channel=%s interaction=%s: %s", interaction.channel.value,
                        interaction.id, exc)
        if self._on_outcome is not None:
            self._on_outcome(interaction.channel.value, status, why)
        await self._context.set_delivery(message.id, status)
        await self._hub.publish(MessageStatus(
            at=self._clock.now(), interaction_id=interaction.id, agent_id=event.agent_id,
            message_id=message.id, status=status, why=why, channel_ref=ref))

    # ----- recovery: replies stored by a node that died before sending them -----------------

    async def recover_once(self) -> int:
        """Queue the replies no node took in time; how many were queued."""
        now = self._clock.now()
        found = await self._context.undelivered(since=now - RECOVER_WINDOW, before=now - self._recover_after,
                                                channels=list(self._queues))
        for channel, message in found:
            log.warning("outbound: reply %s of interaction=%s was never sent; sending it now",
                        message.id, message.interaction_id)
            self._queues[channel].put_nowait(MessageAdded(
                at=now, interaction_id=message.interaction_id, agent_id=message.agent_id,
                message=jsonable(message)))
        return len(found)

    async def _recover(self) -> None:
        every = max(1.0, min(60.0, self._recover_after))
        while True:
            try:
                await self.recover_once()
            except Exception:  # a database hiccup must not end recovery for good
                log.exception("outbound: recovery pass failed")
            await asyncio.sleep(every)

    async def _start_recovery(self) -> None:
        self._recovery_task = asyncio.create_task(self._recover(), name="outbound-recovery")

    async def _stop_recovery(self) -> None:
        task, self._recovery_task = self._recovery_task, None
        await stop_tasks([task])
