"""Agent replies out on their interaction's own channel, with the outcome told to the agent.

The interaction service stores a reply and publishes ``MessageAdded``; this dispatcher sends it
through the adapter of the interaction's channel and publishes ``MessageStatus`` (sent, refused
with the reason, or failed), so the desktop shows whether the customer will see it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from adapters.channel import ChannelAdapter, SendFailed, SendRefused
from cti.clock import Clock
from cti.domain import Channel, Message, MessageSender
from cti.events import MessageAdded, MessageStatus
from cti.hub import EventHub, Subscription
from cti.ports import ContextStore
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)


class OutboundDispatcher:
    def __init__(self, *, adapters: Mapping[Channel, ChannelAdapter], context: ContextStore,
                 hub: EventHub, clock: Clock) -> None:
        self._adapters = dict(adapters)
        self._context = context
        self._hub = hub
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        # One queue and worker per channel: replies keep their order within a channel, and a
        # slow provider (Slack rate-limiting, an SMTP relay timing out) holds up only its own.
        self._queues: dict[Channel, asyncio.Queue[MessageAdded]] = {}
        self._workers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if self._adapters and self._task is None:
            for channel in self._adapters:
                queue: asyncio.Queue[MessageAdded] = asyncio.Queue()
                self._queues[channel] = queue
                self._workers.append(asyncio.create_task(self._work(queue), name=f"outbound-{channel}"))
            # The node that stored the reply sends it: every node hears it, one must send it.
            sub = self._hub.subscribe(maxsize=10_000, wants=lambda e: isinstance(e, MessageAdded)
                                      and e.message.get("sender") == MessageSender.AGENT, local_only=True)
            self._task = asyncio.create_task(self._run(sub), name="outbound")

    async def aclose(self) -> None:
        tasks = [t for t in (self._task, *self._workers) if t is not None]
        self._task, self._workers = None, []
        await stop_tasks(tasks)

    async def _run(self, sub: Subscription) -> None:
        try:
            while True:
                event = await sub.get()
                if not isinstance(event, MessageAdded) or event.message.get("sender") != MessageSender.AGENT:
                    continue
                try:
                    interaction = await self._context.interaction(event.interaction_id)
                except Exception:
                    log.exception("outbound: cannot load interaction=%s", event.interaction_id)
                    continue
                queue = self._queues.get(interaction.channel)
                if queue is not None:
                    queue.put_nowait(event)
        finally:
            sub.close()

    async def _work(self, queue: asyncio.Queue[MessageAdded]) -> None:
        while True:
            event = await queue.get()
            try:
                await self.send(event)
            except Exception:  # the next reply must still go out
                log.exception("outbound: reply of interaction=%s not handled", event.interaction_id)

    async def send(self, event: MessageAdded) -> None:
        interaction = await self._context.interaction(event.interaction_id)
        adapter = self._adapters.get(interaction.channel)
        if adapter is None:
            return
        raw = event.message
        message = Message(id=str(raw["id"]), interaction_id=interaction.id, sender=MessageSender.AGENT,
                          body=str(raw["body"]), at=float(raw["at"]), agent_id=event.agent_id)
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
        await self._hub.publish(MessageStatus(
            at=self._clock.now(), interaction_id=interaction.id, agent_id=event.agent_id,
            message_id=message.id, status=status, why=why, channel_ref=ref))
