"""The Slack channel: customers' messages in shared channels in, agents' replies out in thread.

Threading: a top-level message starts an interaction whose replies go in a new thread under
it; a message in a thread continues the newest open interaction of that thread (or starts one
that answers in the same thread, when the last one is closed). Messages of one channel are
stored one at a time, in the order they arrived, so a thread reply never overtakes its root.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from adapters.channel import AdapterDeps, SendRefused, SendResult, deliver
from adapters.slack.config import SlackConfig
from adapters.slack.payloads import (
    REF_CHANNEL,
    REF_FIRST_MESSAGE,
    REF_THREAD,
    REF_THREAD_TS,
    CustomerPost,
    inbound_message,
    message_ref,
)
from adapters.slack.text import reply_text
from adapters.slack.web_api import SlackWebApi
from adapters.slack.webhook import ACK_BUDGET, EventsEndpoint
from cti.domain import Channel, Customer, Interaction, Message

log = logging.getLogger(__name__)

DEFAULT_AGENT_NAME = "Support"


class SlackAdapter:
    channel = Channel.SLACK

    def __init__(self, cfg: SlackConfig, deps: AdapterDeps, *, ack_budget: float = ACK_BUDGET) -> None:
        self._cfg = cfg
        self._deps = deps
        self._api = SlackWebApi(cfg, deps.clock)
        self._endpoint = EventsEndpoint(cfg, deps.clock, self._store, ack_budget=ack_budget)
        self._locks = {channel_id: asyncio.Lock() for channel_id in cfg.channels}

    def mount(self, app: web.Application) -> None:
        self._endpoint.mount(app)

    async def start(self) -> None:
        await self._api.start()

    async def aclose(self) -> None:
        await self._endpoint.aclose()
        await self._api.aclose()

    async def _store(self, post: CustomerPost) -> None:
        async with self._locks[post.channel]:
            d = self._deps
            name = await self._api.display_name(post.user)
            refs = await self._thread_refs(post)
            msg = inbound_message(post, self._cfg, display_name=name, thread_refs=refs,
                                  max_chars=d.config.max_message_chars)
            delivery = await deliver(d.interactions, d.context, d.clock, msg)
        log.info("slack message event=%s channel=%s interaction=%s new=%s duplicate=%s", post.event_id,
                 post.channel, delivery.interaction.id, delivery.new_interaction, delivery.message is None)

    async def _thread_refs(self, post: CustomerPost) -> list[str]:
        """Refs that find the thread's newest interaction: its root, and the first message of the
        newest interaction started in it. The root alone would keep finding the first interaction
        after it was closed; and Slack does not promise order, so a reply may have started the
        thread's interaction before its top-level message arrives."""
        refs = [] if post.thread_ts is None else [message_ref(post.channel, post.thread_ts)]
        latest = await self._deps.context.find_interaction_by_ref(REF_THREAD, post.thread_key)
        first = latest.channel_refs.get(REF_FIRST_MESSAGE) if latest is not None else None
        if first and first not in refs:
            refs.append(first)
        return refs

    async def send(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        channel = interaction.channel_refs.get(REF_CHANNEL)
        root = interaction.channel_refs.get(REF_THREAD_TS)
        if not channel or not root:
            raise SendRefused("no-slack-thread", "this interaction has no Slack thread to answer in")
        agent = self._deps.config.agents.get(message.agent_id or "")  # live: renamed agents count
        name = agent.name if agent is not None else DEFAULT_AGENT_NAME
        ts = await self._api.post_reply(channel=channel, thread_ts=root, text=reply_text(name, message.body))
        log.info("slack reply posted interaction=%s channel=%s ts=%s", interaction.id, channel, ts)
        return SendResult(message_ref=message_ref(channel, ts))
