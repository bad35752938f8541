"""The SMTP listener's ingest queue, through the real listener: mails from every session are
stored in batches, each once, threaded as they would be one by one; a bad mail in a batch is
refused alone; a full queue answers ``451`` (the sender keeps the mail and tries again)."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from adapters.email import EmailAdapter, submit_async
from adapters.email.inbound import Disposition, Received
from adapters.email.planned import Incoming
from cti.domain import Channel
from cti.ports import InboundWrite, InboundWritten
from tests.adapters.center import Center, running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.mails import SUPPORT, mail, raw
from tests.adapters.email.test_hostile import nested_by_hand

pytestmark = [pytest.mark.integration]


def channel(tmp_path: Path, smtp_port: int, **smtp: Any) -> dict[str, Any]:
    config = email_channel(tmp_path, smtp_port=smtp_port, relay_port=None)
    config["email"]["smtp"].update(smtp)
    return config


def adapter_of(center: Center) -> EmailAdapter:
    adapter = center.adapters[Channel.EMAIL]
    assert isinstance(adapter, EmailAdapter)
    return adapter


async def where_stored(center: Center) -> dict[str, list[str]]:
    """Each stored customer message's Message-ID (bare) -> the interactions holding it."""
    context = center.services.context
    found: dict[str, list[str]] = {}
    for interaction in await context.list_interactions(limit=1000):
        if interaction.channel is not Channel.EMAIL:
            continue
        for message in await context.messages(interaction.id):
            if message.channel_ref:
                found.setdefault(message.channel_ref, []).append(interaction.id)
    return found


async def eventually(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Until ``condition`` holds (the listener's own state, which signals nothing), with a deadline."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class HeldBatches:
    """Wraps ``InboundMail.receive_batch``: records each batch's size and holds the first one
    until released, so the mails sent meanwhile wait in the ingest queue."""

    def __init__(self, adapter: EmailAdapter) -> None:
        self.sizes: list[int] = []
        self.release = asyncio.Event()
        self._inner = adapter.inbound.receive_batch
        adapter.inbound.receive_batch = self._receive  # type: ignore[method-assign]

    async def _receive(self, mails: Sequence[Incoming]) -> list[Received]:
        self.sizes.append(len(mails))
        await self.release.wait()
        return await self._inner(mails)


def send_in_one_session(port: int, messages: Sequence[tuple[str, bytes]]) -> list[tuple[int, str]]:
    """Every message on one connection, as a busy sending server does; each answer kept."""
    answers: list[tuple[int, str]] = []
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.example.net", timeout=30) as client:
        for sender, data in messages:
            try:
                client.sendmail(sender, [SUPPORT], data)
                answers.append((250, "OK"))
            except smtplib.SMTPResponseException as exc:
                error = exc.smtp_error
                answers.append((exc.smtp_code, error.decode() if isinstance(error, bytes) else str(error)))
    return answers


async def test_a_burst_in_one_session_is_stored_once_each_and_threaded(tmp_path: Path,
                                                                       smtp_port: int) -> None:
    firsts = [f"<first-{n}@example.com>" for n in range(8)]
    burst: list[tuple[str, bytes]] = []
    for n, first in enumerate(firsts):
        burst.append((f"c{n}@example.com", raw(mail(sender=f"c{n}@example.com", subject=f"Order {n}",
                                                    body=f"Where is order {n}?", message_id=first))))
    for n, first in enumerate(firsts):
        burst.append((f"c{n}@example.com", raw(mail(
            sender=f"c{n}@example.com", subject=f"Re: Order {n}", body=f"Any news on {n}?",
            message_id=f"<reply-{n}@example.com>", in_reply_to=first, references=[first]))))
    burst.append(burst[0])  # the first mail again: its server did not hear our answer
    async with running_center(tmp_path, channel(tmp_path, smtp_port)) as center:
        answers = await asyncio.to_thread(send_in_one_session, smtp_port, burst)
        assert [code for code, _ in answers] == [250] * len(burst)
        stored = await where_stored(center)
        assert sorted(stored) == sorted([f"first-{n}@example.com" for n in range(8)]
                                        + [f"reply-{n}@example.com" for n in range(8)])
        assert all(len(held) == 1 for held in stored.values())  # each once, the resent one too
        for n in range(8):
            assert stored[f"reply-{n}@example.com"] == stored[f"first-{n}@example.com"]
        assert len({stored[f"first-{n}@example.com"][0] for n in range(8)}) == 8


async def test_mails_from_many_sessions_share_batches_and_a_bad_one_loses_no_other(
        tmp_path: Path, smtp_port: int) -> None:
    # A thread per client (``submit_async`` runs smtplib in the default executor), all at once.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=12))
    async with running_center(tmp_path, channel(tmp_path, smtp_port, batch=16)) as center:
        held = HeldBatches(adapter_of(center))
        ingest = adapter_of(center).ingest
        assert ingest is not None
        good = [raw(mail(sender=f"d{n}@example.com", body=f"Mail {n}", message_id=f"<many-{n}@example.com>"))
                for n in range(6)]
        def send(data: bytes, sender: str) -> asyncio.Future[Any]:
            return asyncio.ensure_future(submit_async("127.0.0.1", smtp_port, data, mail_from=sender,
                                                      rcpt_to=[SUPPORT]))

        sends = [send(good[0], "d0@example.com")]
        # The first mail's batch is held: everything sent now waits in the queue, together.
        await eventually(lambda: held.sizes == [1])
        sends += [send(data, f"d{n}@example.com") for n, data in enumerate(good[1:], start=1)]
        sends.append(send(nested_by_hand(3000), "m@example.net"))
        sends.append(send(good[3], "d3@example.com"))  # the same mail twice in one batch
        await eventually(lambda: ingest.pending == len(sends))
        held.release.set()
        results = await asyncio.gather(*sends)
        assert held.sizes == [1, len(sends) - 1]  # one batch for all that waited
        assert [r.code for r in results] == [250] * 6 + [554, 250]
        assert "too complex" in results[6].message
        stored = await where_stored(center)
        assert sorted(stored) == sorted(f"many-{n}@example.com" for n in range(6))
        assert all(len(held_by) == 1 for held_by in stored.values())


async def test_a_reply_in_the_same_batch_as_its_first_mail_is_threaded_onto_it(
        tmp_path: Path, smtp_port: int) -> None:
    first = "<batch-first@example.com>"
    mails = [Incoming(raw(mail(sender="e@example.com", body="Hello", message_id=first)),
                      envelope_sender="e@example.com", recipients=(SUPPORT,)),
             Incoming(raw(mail(sender="e@example.com", subject="Re: Order 42", body="Me again",
                               message_id="<batch-reply@example.com>", in_reply_to=first,
                               references=[first])),
                      envelope_sender="e@example.com", recipients=(SUPPORT,)),
             Incoming(b"x" * 100, envelope_sender="", recipients=(SUPPORT,))]  # no sender: refused alone
    async with running_center(tmp_path, channel(tmp_path, smtp_port)) as center:
        received = await adapter_of(center).inbound.receive_batch(mails)
        assert [r.disposition for r in received] == [Disposition.STORED, Disposition.THREADED,
                                                     Disposition.REFUSED]
        assert received[0].interaction_id == received[1].interaction_id


async def test_a_full_ingest_queue_answers_451_and_the_mail_is_taken_when_sent_again(
        tmp_path: Path, smtp_port: int) -> None:
    async with running_center(tmp_path, channel(tmp_path, smtp_port, queue=2)) as center:
        held = HeldBatches(adapter_of(center))
        data = [raw(mail(sender=f"f{n}@example.com", body=f"Mail {n}", message_id=f"<full-{n}@example.com>"))
                for n in range(4)]

        def send(n: int) -> Awaitable[Any]:
            return asyncio.ensure_future(submit_async("127.0.0.1", smtp_port, data[n],
                                                      mail_from=f"f{n}@example.com", rcpt_to=[SUPPORT]))

        first = send(0)
        await eventually(lambda: held.sizes == [1])  # taken by the worker, held
        second = send(1)  # queued: two mails pending, the queue is full
        ingest = adapter_of(center).ingest
        assert ingest is not None
        await eventually(lambda: ingest.pending == 2)
        third, fourth = await send(2), await send(3)
        assert (third.code, fourth.code) == (451, 451)
        assert "4.3.2" in third.message
        held.release.set()
        assert (await first).code == 250 and (await second).code == 250
        # The sending server tries again later: nothing was lost.
        assert (await send(2)).code == 250 and (await send(3)).code == 250
        assert sorted(await where_stored(center)) == [f"full-{n}@example.com" for n in range(4)]


async def test_closing_the_listener_answers_what_waits_451(tmp_path: Path, smtp_port: int) -> None:
    async with running_center(tmp_path, channel(tmp_path, smtp_port)) as center:
        adapter = adapter_of(center)
        held = HeldBatches(adapter)
        ingest = adapter.ingest
        assert ingest is not None
        answer = ingest.submit(Incoming(raw(mail()), envelope_sender="ann.lee@example.com"))
        assert answer is not None
        await eventually(lambda: held.sizes == [1])
        waiting = ingest.submit(Incoming(raw(mail(message_id="<second@example.com>")),
                                         envelope_sender="ann.lee@example.com"))
        assert waiting is not None
        await ingest.aclose()
        assert (await answer).reply.startswith("451") and (await waiting).reply.startswith("451")
        assert ingest.submit(Incoming(raw(mail()), envelope_sender="")) is None


class CountedWrites:
    """Wraps the context store's ``store_inbound``: records each batch written (its size), and
    fails the first ``failing`` of them as a database error would."""

    def __init__(self, center: Center, *, failing: int = 0) -> None:
        self.sizes: list[int] = []
        self._failing = failing
        context = center.services.context
        self._inner = context.store_inbound
        context.store_inbound = self._write  # type: ignore[method-assign]

    async def _write(self, items: Sequence[InboundWrite]) -> Sequence[InboundWritten]:
        self.sizes.append(len(items))
        if len(self.sizes) <= self._failing:
            raise ConnectionResetError("the database went away")
        return await self._inner(items)


def mixed_batch() -> list[Incoming]:
    """New threads, replies to a stored thread and to a new one of the same batch, a mail
    already stored, one twice in the batch, and one that cannot be read."""
    def one(sender: str, message_id: str, body: str, *, answers: str | None = None) -> Incoming:
        data = raw(mail(sender=sender, subject="Re: Order" if answers else "Order", body=body,
                        message_id=message_id, in_reply_to=answers, references=[answers] if answers else []))
        return Incoming(data, envelope_sender=sender, recipients=(SUPPORT,))

    old, new = "<mix-old@example.com>", "<mix-new@example.com>"
    return [
        one("new@example.com", new, "A new thread"),
        one("old@example.com", "<mix-old-reply@example.com>", "On the old one", answers=old),
        one("new@example.com", "<mix-new-reply@example.com>", "Same new thread", answers=new),
        one("old@example.com", old, "The old one resent"),
        one("new@example.com", new, "A new thread"),  # twice in the batch
        Incoming(nested_by_hand(3000), envelope_sender="m@example.net", recipients=(SUPPORT,)),
        one("other@example.com", "<mix-other@example.com>", "Another new thread"),
    ]


MIXED_ANSWERS = [Disposition.STORED, Disposition.THREADED, Disposition.THREADED, Disposition.DUPLICATE,
                 Disposition.DUPLICATE, Disposition.REFUSED, Disposition.STORED]


async def test_a_mixed_batch_is_written_at_once_and_each_mail_answered_on_its_own(
        tmp_path: Path, smtp_port: int) -> None:
    async with running_center(tmp_path, channel(tmp_path, smtp_port)) as center:
        inbound = adapter_of(center).inbound
        old = await inbound.receive(raw(mail(sender="old@example.com", message_id="<mix-old@example.com>")),
                                    envelope_sender="old@example.com")
        writes = CountedWrites(center)
        received = await inbound.receive_batch(mixed_batch())
        assert [r.disposition for r in received] == MIXED_ANSWERS
        assert writes.sizes == [4]  # the four stored: one write for the batch
        assert received[1].interaction_id == old.interaction_id
        assert received[2].interaction_id == received[0].interaction_id != received[6].interaction_id
        stored = await where_stored(center)
        assert sorted(stored) == sorted(f"mix-{name}@example.com"
                                        for name in ("old", "old-reply", "new", "new-reply", "other"))
        assert all(len(held) == 1 for held in stored.values())


async def test_a_batch_the_database_fails_is_stored_mail_by_mail_and_nothing_is_lost(
        tmp_path: Path, smtp_port: int) -> None:
    async with running_center(tmp_path, channel(tmp_path, smtp_port)) as center:
        inbound = adapter_of(center).inbound
        old = await inbound.receive(raw(mail(sender="old@example.com", message_id="<mix-old@example.com>")),
                                    envelope_sender="old@example.com")
        writes = CountedWrites(center, failing=1)
        received = await inbound.receive_batch(mixed_batch())
        # Then each alone, the one-by-one way (a new thread's start is itself one write).
        assert writes.sizes == [4, 1, 1]
        assert [r.disposition for r in received] == MIXED_ANSWERS
        assert received[1].interaction_id == old.interaction_id
        assert received[2].interaction_id == received[0].interaction_id
        stored = await where_stored(center)
        assert len(stored) == 5 and all(len(held) == 1 for held in stored.values())
