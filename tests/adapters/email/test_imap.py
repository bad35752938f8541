"""Polling a real IMAP server: Debian's Dovecot, started by the test, filled with ``imaplib``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.email.adapter import EmailAdapter
from adapters.email.imap import MailboxPoller
from cti.app import ServerSettings
from cti.domain import Channel
from tests.adapters.center import Center, running_center
from tests.adapters.email.mails import mail, raw
from tests.adapters.email.peers import Dovecot

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def imap_channel(dovecot: Dovecot, **mailbox: Any) -> dict[str, Any]:
    return {"email": {"max_message_bytes": 20_000, "imap": [{
        "name": "support-inbox", "host": "127.0.0.1", "port": dovecot.port, "username": dovecot.user,
        "password": dovecot.password, "poll_interval": 0.2, "timeout": 5, "queue": "support", **mailbox}]}}


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def email_messages(center: Center) -> dict[str, list[str]]:
    """Subject -> bodies, for every e-mail interaction."""
    out: dict[str, list[str]] = {}
    for i in await center.services.context.list_interactions(limit=100):
        if i.channel is Channel.EMAIL:
            out[i.subject or ""] = [m.body for m in await center.services.context.messages(i.id)]
    return out


async def test_polled_mail_is_stored_once_marked_seen_and_not_imported_again(
        tmp_path: Path, dovecot: Dovecot) -> None:
    first = mail(subject="Via IMAP", body="Polled, not pushed.", message_id="<imap-1@example.com>")
    await asyncio.to_thread(dovecot.append, raw(first))
    await asyncio.to_thread(dovecot.append, raw(first))  # the same message in the mailbox twice
    await asyncio.to_thread(dovecot.append, raw(mail(sender="Bob <bob@example.org>", subject="Second",
                                                     body="Hi there", message_id="<imap-2@example.org>")))
    too_big = mail(subject="Huge", message_id="<imap-big@example.org>", body="x" * 70 + "\n" * 500)
    too_big.add_attachment(b"\0" * 30_000, maintype="application", subtype="octet-stream", filename="big")
    await asyncio.to_thread(dovecot.append, raw(too_big))

    async with running_center(tmp_path, imap_channel(dovecot)) as center:
        alice = await center.agent_socket("alice")
        offer = await alice.expect("interaction.offered")
        assert offer["screen_pop"]["interaction"]["channel"] == "email"
        assert offer["screen_pop"]["context"]["email.source"] == "imap:support-inbox"

        async def all_seen() -> bool:
            flags = await asyncio.to_thread(dovecot.flags)
            return len(flags) == 4 and all("\\Seen" in f for f in flags)

        await eventually(all_seen)
        await asyncio.sleep(1.0)  # several more polls: nothing is imported again
        assert await email_messages(center) == {"Via IMAP": ["Polled, not pushed."], "Second": ["Hi there"]}

        # Mail arriving later is picked up by the next poll, threaded by its headers.
        answer = mail(subject="Re: Via IMAP", body="One more thing.", message_id="<imap-3@example.com>",
                      in_reply_to="<imap-1@example.com>", references=["<imap-1@example.com>"])
        await asyncio.to_thread(dovecot.append, raw(answer))

        async def threaded() -> bool:
            found = (await email_messages(center)).get("Via IMAP")
            return found == ["Polled, not pushed.", "One more thing."]

        await eventually(threaded)

        # The server goes away and comes back: the poller reconnects by itself.
        await asyncio.to_thread(dovecot.stop)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(dovecot.start)
        later = mail(sender="Cy <cy@example.org>", subject="After restart", message_id="<imap-4@example.org>")
        await asyncio.to_thread(dovecot.append, raw(later))

        async def after_restart() -> bool:
            return "After restart" in await email_messages(center)

        await eventually(after_restart, timeout=30)
        await alice.close()


async def test_polled_mail_can_be_moved_away_once_stored(tmp_path: Path, dovecot: Dovecot) -> None:
    for n in range(3):
        each = mail(sender=f"C{n} <c{n}@example.org>", subject=f"Move {n}",
                    message_id=f"<move-{n}@example.org>")
        await asyncio.to_thread(dovecot.append, raw(each))
    async with running_center(tmp_path, imap_channel(dovecot, move_to="Done", batch=2)) as center:
        async def moved() -> bool:
            inbox = await asyncio.to_thread(dovecot.count, "INBOX")
            done = await asyncio.to_thread(dovecot.count, "Done")
            return inbox == 0 and done == 3

        await eventually(moved)
        assert sorted(await email_messages(center)) == ["Move 0", "Move 1", "Move 2"]


async def test_with_two_nodes_one_polls_the_mailbox_and_the_other_takes_over(
        tmp_path: Path, dovecot: Dovecot, cluster_node: Callable[[str], ServerSettings]) -> None:
    def pollers(center: Center) -> list[MailboxPoller]:
        adapter = center.adapters[Channel.EMAIL]
        assert isinstance(adapter, EmailAdapter)
        return adapter.pollers

    await asyncio.to_thread(dovecot.append, raw(mail(subject="First", body="one",
                                                     message_id="<n-1@example.com>")))
    first_run = running_center(tmp_path, imap_channel(dovecot), cluster_node("node-a"))
    first = await first_run.__aenter__()
    first_open = True
    try:
        async with running_center(tmp_path, imap_channel(dovecot), cluster_node("node-b")) as second:
            async def stored(*subjects: str) -> bool:
                return sorted(await email_messages(second)) == sorted(subjects)

            await eventually(lambda: stored("First"))
            await asyncio.sleep(1.0)  # five polls' time: the second node never logs in
            [polling], [standing_by] = pollers(first), pollers(second)
            assert polling.polls >= 3 and standing_by.polls == 0

            await first_run.__aexit__(None, None, None)
            first_open = False
            polls_before_stop = polling.polls
            await asyncio.to_thread(dovecot.append, raw(mail(sender="Bob <bob@example.org>", subject="Second",
                                                             body="two", message_id="<n-2@example.com>")))
            await eventually(lambda: stored("First", "Second"))

            async def standby_polled() -> bool:  # (its count goes up just after it stores)
                return standing_by.polls > 0

            await eventually(standby_polled, timeout=5)
            assert polling.polls == polls_before_stop  # the stopped node's poller stays stopped
            assert await email_messages(second) == {"First": ["one"], "Second": ["two"]}
    finally:
        if first_open:
            await first_run.__aexit__(None, None, None)
