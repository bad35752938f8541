"""Undoing merges restores both customers exactly, chains included."""

from __future__ import annotations

from dataclasses import replace

import pytest

from context.store import SqlContextStore
from cti.clock import ManualClock
from cti.domain import Channel, Customer, InteractionState
from cti.errors import Conflict
from tests.context.builders import T0, chat, email, interaction, message, note, phone

PHONE = phone("+15550001111")
MAIL = email("alice@example.com")
CHAT = chat("visitor-1")


async def _history(store: SqlContextStore, customer_id: str) -> list[tuple[str, str, str]]:
    page = await store.timeline(customer_id, limit=200)
    assert page.next_cursor is None
    return [(e.kind, e.id, e.customer_id) for e in page.entries]


async def _two_customers(store: SqlContextStore, clock: ManualClock) -> tuple[Customer, Customer]:
    """Alice on the phone (older) and 'someone' by e-mail, each with some history."""
    alice = await store.resolve_customer([PHONE], display_name="Alice", actor="s", reason="call")
    await store.save_interaction(interaction("int-v1", alice.id, at=T0 + 1, channel=Channel.VOICE,
                                             state=InteractionState.CLOSED))
    await store.add_note(note("not-v1", "int-v1", "called about invoice", at=T0 + 2))
    clock.advance(10)
    mail = await store.resolve_customer([MAIL], display_name="A. Smith", actor="s", reason="mail")
    await store.save_interaction(interaction("int-e1", mail.id, at=T0 + 11, channel=Channel.EMAIL))
    await store.add_message(message("msg-e1", "int-e1", "Where is my refund?", at=T0 + 12, ref="<m1@x>"))
    await store.add_note(note("not-e1", "int-e1", "refund pending", at=T0 + 13))
    clock.advance(10)
    return alice, mail


async def test_unmerge_restores_both_customers_exactly(store: SqlContextStore, clock: ManualClock) -> None:
    alice, mail = await _two_customers(store, clock)
    alice_before = await store.timeline(alice.id)
    mail_before = await store.timeline(mail.id)
    assert await _history(store, mail.id) == [
        ("note", "not-e1", mail.id), ("message", "msg-e1", mail.id), ("interaction", "int-e1", mail.id)]

    merged = await store.resolve_customer([PHONE, MAIL], display_name=None, actor="bot", reason="form")
    assert merged.id == alice.id
    # One timeline for both, each entry still saying whom it was recorded for.
    assert await _history(store, alice.id) == [
        ("note", "not-e1", mail.id), ("message", "msg-e1", mail.id), ("interaction", "int-e1", mail.id),
        ("note", "not-v1", alice.id), ("interaction", "int-v1", alice.id)]
    assert await store.timeline(mail.id) == await store.timeline(alice.id)
    assert [i.id for i in await store.open_interactions(alice.id)] == ["int-e1"]

    # After the merge: a chat identity and a chat interaction for the survivor, and an update of
    # the e-mail interaction that still names the merged customer.
    clock.advance(10)
    with_chat = await store.resolve_customer([PHONE, CHAT], display_name=None, actor="s", reason="chat")
    assert with_chat.id == alice.id
    await store.save_interaction(interaction("int-c1", alice.id, at=T0 + 31))
    await store.add_message(message("msg-c1", "int-c1", "hi again", at=T0 + 32))
    await store.save_interaction(replace(await store.interaction("int-e1"), state=InteractionState.CLOSED))
    assert [e.id for e in (await store.timeline(mail.id)).entries][:2] == ["msg-c1", "int-c1"]

    (record,) = await store.merges(alice.id)
    survivor, restored = await store.unmerge(record.id, actor="sup-1")

    assert restored == Customer(id=mail.id, display_name="A. Smith", identities=(MAIL,),
                                created_at=mail.created_at)
    assert survivor == Customer(id=alice.id, display_name="Alice", identities=(PHONE, CHAT),
                                created_at=alice.created_at)
    assert await store.customer(mail.id) == restored
    assert await store.find_customer(MAIL) == restored
    assert await store.find_customer(CHAT) == survivor
    mail_after = await store.timeline(mail.id)
    # The e-mail interaction was closed meanwhile; otherwise the history is what it was.
    assert [(e.kind, e.id) for e in mail_after.entries] == [(e.kind, e.id) for e in mail_before.entries]
    assert mail_after.entries[2].state == "closed"
    assert mail_after.entries[:2] == mail_before.entries[:2]
    assert await _history(store, alice.id) == [
        ("message", "msg-c1", alice.id), ("interaction", "int-c1", alice.id),
        *[(e.kind, e.id, e.customer_id) for e in alice_before.entries]]
    assert await store.open_interactions(mail.id) == []
    assert [i.id for i in await store.open_interactions(alice.id)] == ["int-c1"]

    (undone,) = await store.merges(mail.id)
    assert (undone.id, undone.undone_at) == (record.id, clock.now())
    entry = (await store.audit_log(limit=1))[0]
    assert (entry.action, entry.actor, entry.target) == ("customer.unmerge", "sup-1", mail.id)
    assert entry.details["merge_id"] == record.id
    assert entry.details["survivor_id"] == alice.id


async def test_unmerge_twice_is_a_conflict(store: SqlContextStore, clock: ManualClock) -> None:
    alice, _ = await _two_customers(store, clock)
    await store.link_identities(PHONE, MAIL, actor="sup", reason="same person")
    (record,) = await store.merges(alice.id)
    await store.unmerge(record.id, actor="sup")

    with pytest.raises(Conflict) as caught:
        await store.unmerge(record.id, actor="sup")

    assert caught.value.error_id == "merge-already-undone"
    assert [e.action for e in await store.audit_log()] == ["customer.unmerge", "identity.link",
                                                           "customer.merge"]


async def test_merge_again_after_undo(store: SqlContextStore, clock: ManualClock) -> None:
    alice, _ = await _two_customers(store, clock)
    first = await store.link_identities(PHONE, MAIL, actor="sup", reason="one")
    (record,) = await store.merges(alice.id)
    await store.unmerge(record.id, actor="sup")
    clock.advance(1)

    again = await store.link_identities(MAIL, PHONE, actor="sup", reason="two")

    assert again == first
    records = await store.merges(alice.id)
    assert [(r.reason, r.undone_at is None) for r in records] == [("two", True), ("one", False)]


async def _chain(store: SqlContextStore, clock: ManualClock) -> tuple[str, str, str]:
    """a <- b <- c: c merged into b first, then b into a. Each has one interaction."""
    made = []
    for n in range(3):
        one = await store.resolve_customer([phone(f"+1555000000{n}")], display_name=None, actor="s",
                                           reason="r")
        await store.save_interaction(interaction(f"int-{n}", one.id, at=T0 + n))
        made.append(one.id)
        clock.advance(1)
    await store.link_identities(phone("+15550000001"), phone("+15550000002"), actor="s", reason="b=c")
    clock.advance(1)
    await store.link_identities(phone("+15550000000"), phone("+15550000001"), actor="s", reason="a=b")
    a, b, c = made
    assert [e.id for e in (await store.timeline(c)).entries] == ["int-2", "int-1", "int-0"]
    return a, b, c


async def test_undo_the_lower_merge_of_a_chain(store: SqlContextStore, clock: ManualClock) -> None:
    a, b, c = await _chain(store, clock)
    _, earlier = await store.merges(a)
    assert (earlier.survivor_id, earlier.merged_id) == (b, c)

    survivor, restored = await store.unmerge(earlier.id, actor="sup")

    # c comes out alone; a keeps b.
    assert (survivor.id, restored.id) == (a, c)
    assert [i.value for i in survivor.identities] == ["+15550000000", "+15550000001"]
    assert [i.value for i in restored.identities] == ["+15550000002"]
    assert [e.id for e in (await store.timeline(a)).entries] == ["int-1", "int-0"]
    assert [e.id for e in (await store.timeline(c)).entries] == ["int-2"]
    assert (await store.customer(b)).id == a


async def test_undo_the_upper_merge_of_a_chain(store: SqlContextStore, clock: ManualClock) -> None:
    a, b, c = await _chain(store, clock)
    later, earlier = await store.merges(a)
    assert (later.survivor_id, later.merged_id) == (a, b)

    survivor, restored = await store.unmerge(later.id, actor="sup")

    # b comes out with c, which stays merged into it.
    assert (survivor.id, restored.id) == (a, b)
    assert [i.value for i in survivor.identities] == ["+15550000000"]
    assert [i.value for i in restored.identities] == ["+15550000001", "+15550000002"]
    assert (await store.customer(c)).id == b
    assert [e.id for e in (await store.timeline(a)).entries] == ["int-0"]
    assert [e.id for e in (await store.timeline(c)).entries] == ["int-2", "int-1"]
    assert await store.merges(b) == await store.merges(c)

    # Then the lower one too: three customers again.
    await store.unmerge(earlier.id, actor="sup")
    for customer_id, expected in ((a, ["int-0"]), (b, ["int-1"]), (c, ["int-2"])):
        assert (await store.customer(customer_id)).id == customer_id
        assert [e.id for e in (await store.timeline(customer_id)).entries] == expected
