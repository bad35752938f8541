"""Mail out: an agent's reply on its thread, and the acknowledgement of a new thread.

A reply goes to the address the thread's first mail asked answers to go to (Reply-To, else
From), from the queue's address, answering the customer's latest mail and referencing the
thread's messages, ours included. The acknowledgement goes once per new thread, from the address
the customer wrote to, with the null envelope sender of an automatic reply and a subject of our
own, only to the envelope sender aligned with ``From`` (``ack_policy``), never to an address that
received more than ``ack_limit_per_hour`` of them in the last hour, and never beyond
``ack_limit_total_per_hour`` in all.
"""

from __future__ import annotations

import logging

from adapters.channel import AdapterDeps, SendRefused, SendResult
from adapters.email.compose import compose, new_message_id
from adapters.email.config import EmailConfig
from adapters.email.finders import REF_TAG
from adapters.email.inbound import AckRequest
from adapters.email.loops import AckLimiter, is_robot_address
from adapters.email.relay import RelayRefused, SmtpRelay
from adapters.email.threads import reply_subject, reply_threading
from cti.domain import Customer, IdentityKind, Interaction, Message, MessageSender

log = logging.getLogger(__name__)

THREAD_MESSAGES = 200  # the thread's messages read to build References


class Replies:
    def __init__(self, *, config: EmailConfig, deps: AdapterDeps, relay: SmtpRelay | None) -> None:
        self._config = config
        self._deps = deps
        self._relay = relay
        self._limiter = AckLimiter(limit=config.ack_limit_per_hour, window=3600.0)
        self._all_acks = AckLimiter(limit=config.ack_limit_total_per_hour, window=3600.0)

    def new_id(self) -> str:
        return new_message_id(self._config.domain)

    async def reply(self, interaction: Interaction, message: Message, customer: Customer) -> SendResult:
        if self._relay is None:
            raise SendRefused("no-relay", "e-mail replies are not configured on this server (no relay)")
        to_addr = _reply_address(interaction, customer)
        if to_addr is None:
            raise SendRefused("no-address", "the customer has no e-mail address to answer")
        from_addr = self._from_address(interaction)
        if from_addr is None:
            raise SendRefused("no-from-address", f"queue {interaction.queue!r} has no e-mail address")
        thread = await self._deps.context.messages(interaction.id, limit=THREAD_MESSAGES)
        refs = [m.channel_ref for m in thread if m.channel_ref and m.id != message.id]
        latest = next((m.channel_ref for m in reversed(thread)
                       if m.sender is MessageSender.CUSTOMER and m.channel_ref), None)
        in_reply_to, references = reply_threading(refs, latest)
        message_id = self.new_id()
        mail = compose(
            from_addr=from_addr, from_name=self._config.from_name, to_addr=to_addr,
            subject=reply_subject(interaction.subject, interaction.channel_refs.get(REF_TAG)),
            body=message.body, message_id=message_id, in_reply_to=in_reply_to, references=references,
            now=self._deps.clock.now(), loop_token=self._config.domain)
        try:
            await self._relay.send(mail, sender=from_addr, recipients=[to_addr])
        except RelayRefused as exc:
            raise SendRefused("recipient-refused", str(exc)) from None
        log.info("email reply sent interaction=%s message=%s", interaction.id, message.id)
        return SendResult(message_ref=message_id)

    async def code(self, to_addr: str, text: str, *, queue: str) -> None:
        """A one-time code to a claimed address, on no thread (raise on failure: the agent is told)."""
        if self._relay is None:
            raise SendRefused("no-relay", "e-mail is not configured to send (no relay)")
        if to_addr in self._config.addresses or is_robot_address(to_addr):
            raise SendRefused("no-address", "codes are not sent to this address")
        from_addr = self._config.address_of(queue) or next(iter(self._config.addresses), None)
        if from_addr is None:
            raise SendRefused("no-from-address", "no e-mail address of ours to send from")
        mail = compose(from_addr=from_addr, from_name=self._config.from_name, to_addr=to_addr,
                       subject="Your verification code", body=text, message_id=self.new_id(),
                       in_reply_to=None, references=(), now=self._deps.clock.now(),
                       loop_token=self._config.domain, automatic=True)
        try:
            await self._relay.send(mail, sender=from_addr, recipients=[to_addr])
        except RelayRefused as exc:
            raise SendRefused("recipient-refused", str(exc)) from None

    async def acknowledge(self, ack: AckRequest) -> None:
        """Send one acknowledgement; failures are logged, never raised (nobody waits for it)."""
        if self._relay is None:
            return
        to_addr = ack.to_addr
        if to_addr in self._config.addresses or is_robot_address(to_addr):
            return
        if not self._limiter.allow(to_addr):
            log.warning("email acknowledgement withheld interaction=%s reason=rate-limit", ack.interaction.id)
            return
        if not self._all_acks.allow("*"):
            log.warning("email acknowledgement withheld interaction=%s reason=hourly-total",
                        ack.interaction.id)
            return
        from_addr = ack.from_addr or self._from_address(ack.interaction)
        if from_addr is None:
            log.warning("email acknowledgement skipped interaction=%s reason=no-from-address",
                        ack.interaction.id)
            return
        body = self._config.ack_text.replace("{tag}", ack.tag)
        _, references = reply_threading(ack.references, ack.in_reply_to)
        mail = compose(
            from_addr=from_addr, from_name=self._config.from_name, to_addr=to_addr,
            subject=self._config.ack_subject.replace("{tag}", ack.tag), body=body, message_id=ack.ack_id,
            in_reply_to=ack.in_reply_to, references=references, now=self._deps.clock.now(),
            loop_token=self._config.domain, automatic=True)
        sender = "" if self._config.ack_null_sender else from_addr
        try:
            await self._relay.send(mail, sender=sender, recipients=[to_addr])
        except Exception as exc:  # a lost acknowledgement must not touch the mail stored
            log.warning("email acknowledgement failed interaction=%s error=%s: %s", ack.interaction.id,
                        type(exc).__name__, exc)
            return
        log.info("email acknowledgement sent interaction=%s", ack.interaction.id)

    def _from_address(self, interaction: Interaction) -> str | None:
        queue = self._deps.config.queues.get(interaction.queue)
        if queue is not None and queue.address:
            return queue.address.lower()
        return self._config.address_of(interaction.queue) or interaction.context.get("email.to")


def _reply_address(interaction: Interaction, customer: Customer) -> str | None:
    for key in ("email.reply_to", "email.from"):
        value = interaction.context.get(key)
        if value:
            return value
    return next((i.value for i in customer.identities if i.kind is IdentityKind.EMAIL), None)
