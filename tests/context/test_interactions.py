"""Interactions as whole snapshots, their references and context; messages and notes."""

from __future__ import annotations

import dataclasses

import pytest

from context.store import SqlContextStore
from cti.clock import ManualClock, SequentialIds
from cti.domain import Channel, Direction, Interaction, InteractionState, MessageSender
from cti.errors import InvalidInput, NotFound, StaleSnapshot
from tests.context.builders import T0, email, interaction, message, note, phone


async def _customer(store: SqlContextStore, number: str = "+15550001111") -> str:
    return (await store.resolve_customer([phone(number)], display_name=None, actor="s", reason="r")).id


async def test_a_snapshot_comes_back_whole(store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    full = Interaction(
        id="int-1", channel=Channel.VOICE, direction=Direction.INBOUND, customer_id=customer_id,
        queue="billing", state=InteractionState.ACTIVE, priority=2.5, skills={"billing": 3, "fr": 7},
        arrived_at=T0 + 0.125, queued_at=T0 + 1.5, offered_at=T0 + 2.25, answered_at=T0 + 3.0,
        ended_at=None, agent_id="a1", channel_refs={"uniqueid": "1700.12", "linkedid": "1700.11"},
        context={"ivr_account": "12345678", "ivr_menu": "2"}, disposition=None, subject="Invoice",
        customer_left=False)

    saved = await store.save_interaction(full)
    assert saved == dataclasses.replace(full, version=1)
    assert await store.interaction("int-1") == saved

    # A later snapshot replaces everything, references and context included.
    wrapped = dataclasses.replace(saved, state=InteractionState.CLOSED, ended_at=T0 + 99.0, agent_id=None,
                                  channel_refs={"uniqueid": "1700.12"}, context={"ivr_menu": "3"},
                                  disposition="resolved", customer_left=True, skills={})
    assert (await store.save_interaction(wrapped)).version == 2
    assert await store.interaction("int-1") == dataclasses.replace(wrapped, version=2)
    assert await store.find_interaction_by_ref("linkedid", "1700.11") is None


async def test_a_change_from_a_snapshot_someone_else_replaced_is_refused(
        store: SqlContextStore, db_url: str, clock: ManualClock, ids: SequentialIds) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-1", customer_id, at=T0, state=InteractionState.ACTIVE))
    # Two nodes on one database read the same snapshot...
    other_node = SqlContextStore(url=db_url, clock=clock, ids=ids)
    await other_node.start()
    try:
        mine, theirs = await store.interaction("int-1"), await other_node.interaction("int-1")
        # ...the recording arrives on one of them, the hang-up on the other.
        await other_node.save_interaction(dataclasses.replace(theirs, channel_refs={"recording": "RE1"}))
        with pytest.raises(StaleSnapshot) as stale:
            await store.save_interaction(dataclasses.replace(mine, state=InteractionState.WRAP_UP))
    finally:
        await other_node.aclose()
    assert (stale.value.status, stale.value.error_id) == (409, "stale-interaction")
    assert stale.value.details == {"interaction_id": "int-1", "expected": 1, "stored": 2}
    stored = await store.interaction("int-1")
    assert (stored.state, stored.channel_refs, stored.version) == (
        InteractionState.ACTIVE, {"recording": "RE1"}, 2)

    # A brand-new snapshot (version 0) cannot overwrite a stored one either.
    with pytest.raises(StaleSnapshot):
        await store.save_interaction(interaction("int-1", customer_id, at=T0))
    assert (await store.interaction("int-1")).channel_refs == {"recording": "RE1"}


async def test_unknown_ids(store: SqlContextStore) -> None:
    with pytest.raises(NotFound) as missing:
        await store.interaction("int-404")
    assert missing.value.error_id == "interaction-not-found"
    assert missing.value.details == {"interaction_id": "int-404"}
    with pytest.raises(NotFound) as orphan:
        await store.save_interaction(interaction("int-1", "cus-404", at=T0))
    assert orphan.value.error_id == "customer-not-found"
    with pytest.raises(NotFound) as no_message_home:
        await store.add_message(message("msg-1", "int-404", "hello", at=T0))
    assert no_message_home.value.error_id == "interaction-not-found"
    with pytest.raises(NotFound) as no_note_home:
        await store.add_note(note("not-1", "int-404", "hello", at=T0))
    assert no_note_home.value.error_id == "interaction-not-found"
    assert await store.messages("int-404") == []
    assert await store.notes("int-404") == []


async def test_find_by_channel_reference_takes_the_newest(store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-1", customer_id, at=T0, state=InteractionState.CLOSED,
                                             refs={"chat_visitor": "v-1", "chat_session": "s-1"}))
    await store.save_interaction(interaction("int-2", customer_id, at=T0 + 60,
                                             refs={"chat_visitor": "v-1", "chat_session": "s-2"}))

    assert (await store.find_interaction_by_ref("chat_session", "s-1")).id == "int-1"  # type: ignore[union-attr]
    assert (await store.find_interaction_by_ref("chat_visitor", "v-1")).id == "int-2"  # type: ignore[union-attr]
    assert await store.find_interaction_by_ref("chat_visitor", "v-2") is None
    assert await store.find_interaction_by_ref("chat_session", "v-1") is None


async def test_open_interactions_of_a_customer(store: SqlContextStore) -> None:
    mine = await _customer(store)
    other = await _customer(store, "+15550002222")
    await store.save_interaction(interaction("int-1", mine, at=T0, state=InteractionState.CLOSED))
    await store.save_interaction(interaction("int-2", mine, at=T0 + 1, state=InteractionState.ABANDONED))
    await store.save_interaction(interaction("int-3", mine, at=T0 + 2, state=InteractionState.ACTIVE))
    await store.save_interaction(interaction("int-4", mine, at=T0 + 3, channel=Channel.EMAIL))
    await store.save_interaction(interaction("int-5", mine, at=T0 + 4, state=InteractionState.WRAP_UP))
    await store.save_interaction(interaction("int-6", other, at=T0 + 5))

    assert [i.id for i in await store.open_interactions(mine)] == ["int-5", "int-4", "int-3"]
    assert [i.id for i in await store.open_interactions(mine, Channel.EMAIL)] == ["int-4"]
    assert [i.id for i in await store.open_interactions(mine, Channel.SMS)] == []
    assert [i.id for i in await store.open_interactions(other)] == ["int-6"]


async def test_list_interactions(store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-1", customer_id, at=T0, state=InteractionState.CLOSED,
                                             agent_id="a1"))
    await store.save_interaction(interaction("int-2", customer_id, at=T0 + 1, state=InteractionState.ACTIVE,
                                             agent_id="a1", refs={"k": "v"}))
    await store.save_interaction(interaction("int-3", customer_id, at=T0 + 2))

    assert [i.id for i in await store.list_interactions()] == ["int-3", "int-2", "int-1"]
    assert [i.id for i in await store.list_interactions(limit=2)] == ["int-3", "int-2"]
    assert [i.id for i in await store.list_interactions(open_only=True)] == ["int-3", "int-2"]
    assert [i.id for i in await store.list_interactions(agent_id="a1")] == ["int-2", "int-1"]
    listed = await store.list_interactions(states=[InteractionState.ACTIVE, InteractionState.CLOSED],
                                           agent_id="a1", open_only=True)
    assert listed == [await store.interaction("int-2")]
    assert listed[0].channel_refs == {"k": "v"}
    with pytest.raises(InvalidInput):
        await store.list_interactions(limit=0)


async def test_inbound_delivery_is_idempotent(store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-1", customer_id, at=T0, channel=Channel.SMS))
    await store.save_interaction(interaction("int-2", customer_id, at=T0, channel=Channel.SMS))

    assert await store.add_message(message("msg-1", "int-1", "hello", at=T0 + 1, ref="SM123")) is True
    # The same webhook again, with a new message id: nothing stored.
    assert await store.add_message(message("msg-2", "int-1", "again", at=T0 + 2, ref="SM123")) is False
    # The same message id again.
    assert await store.add_message(message("msg-1", "int-1", "hello", at=T0 + 1, ref="SM999")) is False
    # No reference: never a duplicate. Another interaction: its own namespace.
    assert await store.add_message(message("msg-3", "int-1", "typed", at=T0 + 3)) is True
    assert await store.add_message(message("msg-4", "int-1", "typed", at=T0 + 4)) is True
    assert await store.add_message(message("msg-5", "int-2", "hello", at=T0 + 5, ref="SM123")) is True

    stored = await store.messages("int-1")
    assert [(m.id, m.body, m.channel_ref) for m in stored] == [
        ("msg-1", "hello", "SM123"), ("msg-3", "typed", None), ("msg-4", "typed", None)]
    assert [m.id for m in await store.messages("int-2")] == ["msg-5"]


async def test_messages_oldest_first_and_bounded(store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-1", customer_id, at=T0))
    for n in (3, 1, 4, 2, 5):  # stored out of order
        await store.add_message(message(f"msg-{n}", "int-1", f"body {n}", at=T0 + n,
                                        sender=MessageSender.AGENT if n % 2 else MessageSender.CUSTOMER))

    everything = await store.messages("int-1")
    assert [m.id for m in everything] == ["msg-1", "msg-2", "msg-3", "msg-4", "msg-5"]
    assert everything[0] == message("msg-1", "int-1", "body 1", at=T0 + 1, sender=MessageSender.AGENT)
    assert [m.id for m in await store.messages("int-1", limit=2)] == ["msg-4", "msg-5"]  # the latest two


async def test_notes(store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-1", customer_id, at=T0))
    await store.add_note(note("not-2", "int-1", "second", at=T0 + 2, author="a2"))
    await store.add_note(note("not-1", "int-1", "first", at=T0 + 1))
    await store.add_note(note("not-1", "int-1", "first", at=T0 + 1))  # a retry stores nothing new

    assert await store.notes("int-1") == [note("not-1", "int-1", "first", at=T0 + 1),
                                          note("not-2", "int-1", "second", at=T0 + 2, author="a2")]


async def test_interactions_of_a_merged_customer_stay_reachable(store: SqlContextStore) -> None:
    older = await _customer(store)
    newer = (await store.resolve_customer([email("a@example.com")], display_name=None, actor="s",
                                          reason="r")).id
    await store.save_interaction(interaction("int-1", newer, at=T0, channel=Channel.EMAIL))
    await store.link_identities(phone("+15550001111"), email("a@example.com"), actor="s", reason="r")
    # Saved after the merge under the merged id: still the survivor's.
    await store.save_interaction(interaction("int-2", newer, at=T0 + 1, channel=Channel.EMAIL))

    assert [i.id for i in await store.open_interactions(older)] == ["int-2", "int-1"]
    assert [i.id for i in await store.open_interactions(newer, Channel.EMAIL)] == ["int-2", "int-1"]
    assert (await store.interaction("int-2")).customer_id == newer


async def test_oversized_references_are_refused(store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    with pytest.raises(InvalidInput) as caught:
        await store.save_interaction(interaction("int-1", customer_id, at=T0, refs={"k" * 65: "v"}))
    assert caught.value.error_id == "bad-channel-ref"
    with pytest.raises(InvalidInput):
        await store.save_interaction(interaction("int-1", customer_id, at=T0, context={"": "v"}))
    with pytest.raises(NotFound):
        await store.interaction("int-1")


async def test_find_by_a_messages_channel_reference_threads_across_the_history(
        store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-old", customer_id, at=T0))
    await store.save_interaction(interaction("int-new", customer_id, at=T0 + 50))
    await store.add_message(dataclasses.replace(message("msg-1", "int-old", "first", at=T0),
                                                channel_ref="<a@mail.example>"))
    await store.add_message(dataclasses.replace(message("msg-2", "int-new", "reply", at=T0 + 60),
                                                channel_ref="<b@mail.example>"))
    found = await store.find_interaction_by_message_ref(["<nope@x>", "<a@mail.example>"])
    assert found is not None and found.id == "int-old"
    # Several match: the newest message's interaction.
    both = await store.find_interaction_by_message_ref(["<a@mail.example>", "<b@mail.example>"])
    assert both is not None and both.id == "int-new"
    assert await store.find_interaction_by_message_ref([]) is None
    assert await store.find_interaction_by_message_ref(["x" * 2000]) is None


async def test_the_ref_of_a_sent_message_is_recorded_once(store: SqlContextStore) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-1", customer_id, at=T0))
    await store.add_message(message("msg-1", "int-1", "our reply", at=T0, sender=MessageSender.AGENT))
    await store.set_message_ref("msg-1", "<reply-1@support.example>")
    await store.set_message_ref("msg-1", "<overwritten@x>")  # the first one stands
    [stored] = await store.messages("int-1")
    assert stored.channel_ref == "<reply-1@support.example>"
    found = await store.find_interaction_by_message_ref(["<reply-1@support.example>"])
    assert found is not None and found.id == "int-1"
    with pytest.raises(InvalidInput):
        await store.set_message_ref("msg-1", "")


async def test_an_inbound_ref_is_claimed_once_until_released(store: SqlContextStore) -> None:
    assert await store.claim_inbound("sms:SM123") is True
    assert await store.claim_inbound("sms:SM123") is False  # a retry, or another node
    assert await store.claim_inbound("sms:SM124") is True
    await store.release_inbound("sms:SM123")  # the first delivery failed before storing anything
    assert await store.claim_inbound("sms:SM123") is True


async def test_channel_cursors_are_kept_and_replaced(store: SqlContextStore) -> None:
    assert await store.cursor("x:42:mentions") is None
    await store.set_cursor("x:42:mentions", "1700000000000000001")
    await store.set_cursor("x:42:mentions", "1700000000000000009")
    await store.set_cursor("x:42:dm_events", "77")
    assert await store.cursor("x:42:mentions") == "1700000000000000009"
    assert await store.cursor("x:42:dm_events") == "77"
    with pytest.raises(InvalidInput):
        await store.set_cursor("", "1")
    with pytest.raises(InvalidInput):
        await store.set_cursor("x:42:mentions", "9" * 1001)
    assert await store.cursor("x:42:mentions") == "1700000000000000009"


async def test_claims_older_than_a_day_are_purged_and_recent_ones_kept(
        store: SqlContextStore, clock: ManualClock) -> None:
    assert await store.claim_inbound("sms:SM-old")
    clock.advance(2 * 86400)
    assert await store.claim_inbound("sms:SM-new")
    assert await store.purge_claims(86400) == 1
    assert await store.claim_inbound("sms:SM-old")  # free again: its message is found by its ref
    assert not await store.claim_inbound("sms:SM-new")  # still in flight, still held


async def test_a_reply_is_taken_to_send_once_and_untaken_ones_are_found(
        store: SqlContextStore, clock: ManualClock) -> None:
    customer_id = await _customer(store)
    await store.save_interaction(interaction("int-s", customer_id, at=T0, channel=Channel.SMS,
                                             state=InteractionState.ACTIVE))
    await store.save_interaction(interaction("int-c", customer_id, at=T0, channel=Channel.CHAT,
                                             state=InteractionState.ACTIVE))
    for mid, iid, sender, at in (("m-cust", "int-s", MessageSender.CUSTOMER, T0 + 1),
                                 ("m-old", "int-s", MessageSender.AGENT, T0 + 2),
                                 ("m-new", "int-s", MessageSender.AGENT, T0 + 50),
                                 ("m-chat", "int-c", MessageSender.AGENT, T0 + 3)):
        await store.add_message(message(mid, iid, "text", at=at, sender=sender))

    found = await store.undelivered(since=T0, before=T0 + 10, channels=[Channel.SMS])
    assert [(c, m.id) for c, m in found] == [(Channel.SMS, "m-old")]  # not the customer's, not chat
    assert await store.take_delivery("m-old")
    assert not await store.take_delivery("m-old")  # another node, or the recovery pass: not again
    await store.set_delivery("m-old", "queued")
    assert await store.undelivered(since=T0, before=T0 + 100, channels=[Channel.SMS]) == [
        (Channel.SMS, (await store.messages("int-s", limit=5))[-1])]  # only the new one is left
