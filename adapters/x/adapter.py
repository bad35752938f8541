"""The X channel: inbound by webhook or polling, replies as tweets or direct messages."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from adapters.channel import AdapterDeps, SendRefused, SendResult
from adapters.x.api import XApi, XForbidden
from adapters.x.config import Mode, XConfig
from adapters.x.ingest import Inbound
from adapters.x.poller import Poller
from adapters.x.replies import DirectMessage, plan_reply
from adapters.x.threads import dm_ref, tweet_ref
from adapters.x.webhook import XWebhook
from cti.domain import Channel, Customer, Interaction, Message
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)


class XAdapter:
    channel = Channel.X

    def __init__(self, *, config: XConfig, deps: AdapterDeps, api: XApi | None = None) -> None:
        self.config = config
        self._deps = deps
        self._api = api or XApi(config)
        self.inbound = Inbound(deps, config)
        self.poller = Poller(api=self._api, config=config, clock=deps.clock, deliver=self.inbound.deliver_all,
                             cursors=deps.context)
        self._webhook = XWebhook(config=config, clock=deps.clock, ingest=self.inbound)
        self._task: asyncio.Task[None] | None = None
        # With several nodes, one polls: each would spend the same rate limit on the same events.
        self._polling = deps.leases.one_node("x-poll", start=self._start_polling, stop=self._stop_polling)

    def mount(self, app: web.Application) -> None:
        if self.config.mode is Mode.WEBHOOK:
            self._webhook.mount(app)

    @property
    def polling_here(self) -> bool:
        """This node reads X (polling mode, and the poll lease is ours when nodes share Redis)."""
        return self._task is not None

    async def start(self) -> None:
        if self.config.mode is Mode.POLLING:
            await self._polling.start()
        log.info("x channel started mode=%s account=%s", self.config.mode.value, self.config.account_user_id)

    async def aclose(self) -> None:
        if self.config.mode is Mode.POLLING:
            await self._polling.aclose()
        self._api.close()

    async def _start_polling(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.poller.run(), name="x-poller")

    async def _stop_polling(self) -> None:
        task, self._task = self._task, None
        await stop_tasks([task])

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        messages = await self._deps.context.messages(interaction.id)
        plan = plan_reply(interaction, messages, message.body, mention_in_reply=self.config.mention_in_reply)
        try:
            if isinstance(plan, DirectMessage):
                return SendResult(message_ref=dm_ref(await self._api.send_dm(plan.participant_id, plan.text)))
            return SendResult(message_ref=tweet_ref(await self._api.reply(plan.text, plan.in_reply_to)))
        except XForbidden as exc:
            # X's own words ("You cannot send messages to this user") are what the agent needs.
            raise SendRefused("x-forbidden", exc.message) from exc
