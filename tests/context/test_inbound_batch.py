"""A batch of inbound customer messages in one transaction (``store_inbound``), and the batch
lookups threading uses: the same rows the one-by-one way writes, each item answered on its own."""

from __future__ import annotations

import pytest

from context.store import SqlContextStore
from cti.domain import (
    Channel,
    IdentityLevel,
    InboundIdentity,
    Interaction,
    InteractionState,
    Message,
    MessageSender,
)
from cti.ports import InboundWrite, RecordedAttachment
from tests.context.builders import T0, email, interaction, message, phone

ASSERTED = IdentityLevel.ASSERTED


def said(address: str, level: IdentityLevel = ASSERTED) -> list[InboundIdentity]:
    return [InboundIdentity(email(address), level, "email-sender")]


def new(iid: str, mid: str, body: str, ref: str, sender: str, *, level: IdentityLevel = ASSERTED,
        name: str | None = None, files: tuple[RecordedAttachment, ...] = ()) -> InboundWrite:
    start = interaction(iid, "", at=T0, channel=Channel.EMAIL, refs={"email_root": ref},
                        context={"email.from": sender})
    return InboundWrite(claim=f"email:{ref}", message=customer(mid, iid, body, ref), start=start,
                        identities=said(sender, level), display_name=name, reason="inbound email",
                        attachments=files)


def more(iid: str, mid: str, body: str, ref: str) -> InboundWrite:
    return InboundWrite(claim=f"email:{ref}", message=customer(mid, iid, body, ref))


def customer(mid: str, iid: str, body: str, ref: str) -> Message:
    return Message(id=mid, interaction_id=iid, sender=MessageSender.CUSTOMER, body=body, at=T0,
                   channel_ref=ref)


async def existing(store: SqlContextStore, iid: str, address: str, *, ref: str,
                   state: InteractionState = InteractionState.QUEUED,
                   agent_id: str | None = None) -> Interaction:
    owner = await store.resolve_customer([email(address)], display_name=None, actor="s", reason="r")
    saved = await store.save_interaction(interaction(iid, owner.id, at=T0 - 100, channel=Channel.EMAIL,
                                                     state=state, agent_id=agent_id))
    await store.add_message(message(f"msg-{iid}", iid, "earlier", at=T0 - 100, ref=ref))
    return saved


async def test_a_mixed_batch_is_stored_as_one_by_one_would(store: SqlContextStore) -> None:
    old = await existing(store, "int-old", "ann@example.com", ref="old@x")
    pdf = RecordedAttachment(ref="sha256:" + "a" * 64, filename="a.pdf", content_type="application/pdf")
    written = await store.store_inbound([
        new("int-a", "msg-a1", "A starts", "a1@x", "bob@example.com", name="Bob", files=(pdf,)),
        more("int-old", "msg-o2", "Ann again", "o2@x"),  # on an interaction stored before
        more("int-a", "msg-a2", "A again", "a2@x"),  # on the batch's own new interaction
        new("int-b", "msg-b1", "B starts", "b1@x", "bob@example.com"),  # the same sender: one customer
        new("int-c", "msg-c1", "C starts", "c1@x", "ann@example.com", name="Ann"),  # a known customer
        more("int-old", "msg-dup", "Ann resent", "old@x"),  # already stored there: a duplicate
    ])
    assert [w.why for w in written] == [None] * 6
    assert [w.message_stored for w in written] == [True, True, True, True, True, False]
    a, b, c = [await store.interaction(i) for i in ("int-a", "int-b", "int-c")]
    assert written[0].interaction == a and written[2].interaction == a and written[1].interaction is None
    assert a.customer_id == b.customer_id != old.customer_id == c.customer_id
    assert a.state is InteractionState.QUEUED and a.channel_refs == {"email_root": "a1@x"}
    assert a.context == {"email.from": "bob@example.com"} and a.version == 1
    bob = await store.customer(a.customer_id)
    assert bob.display_name == "Bob" and [i.value for i in bob.identities] == ["bob@example.com"]
    assert (await store.customer(old.customer_id)).display_name == "Ann"  # was none: as resolve_inbound
    assert [m.body for m in await store.messages("int-a")] == ["A starts", "A again"]
    assert [m.body for m in await store.messages("int-old")] == ["earlier", "Ann again"]
    assert await store.attachments("int-a") == [pdf]
    (shown,) = await store.presented("int-a")
    assert (shown.identity, shown.level, shown.display_name) == (email("bob@example.com"), ASSERTED, "Bob")
    timeline = await store.timeline(a.customer_id)
    assert {e.id for e in timeline.entries} >= {"int-a", "int-b", "msg-a1", "msg-a2", "msg-b1"}


async def test_a_claimed_sender_finds_nobody_and_is_recorded_as_a_claim(store: SqlContextStore) -> None:
    await existing(store, "int-old", "ann@example.com", ref="old@x")
    (written,) = await store.store_inbound([
        new("int-a", "msg-a1", "Hi", "a1@x", "ann@example.com", level=IdentityLevel.CLAIMED, name="Ann")])
    assert written.interaction is not None
    nobody = await store.customer(written.interaction.customer_id)
    assert nobody.identities == () and nobody.display_name is None
    (shown,) = await store.presented("int-a")
    assert shown.level is IdentityLevel.CLAIMED and shown.display_name == "Ann"


async def test_what_the_batch_cannot_store_is_left_out_with_its_reason(store: SqlContextStore) -> None:
    await existing(store, "int-done", "ann@example.com", ref="done@x", state=InteractionState.CLOSED)
    await existing(store, "int-busy", "cy@example.com", ref="busy@x", state=InteractionState.ACTIVE,
                   agent_id="a1")
    assert await store.claim_inbound("email:taken@x")  # being stored by another request
    written = await store.store_inbound([
        new("int-t", "msg-t1", "Taken", "taken@x", "t@example.com"),
        more("int-t", "msg-t2", "After the taken one", "t2@x"),
        more("int-done", "msg-d2", "On a closed one", "d2@x"),
        more("int-gone", "msg-g2", "On none", "g2@x"),
        new("int-x", "msg-x1", "Too long a ref", "x" * 1001, "x@example.com"),
        more("int-busy", "msg-b2", "Fine", "b2@x"),
        new("int-cy", "msg-c1", "Cy again", "c1@x", "cy@example.com"),
    ])
    assert [w.why for w in written] == ["claimed", "after", "closed", "closed", "invalid", None, None]
    assert written[5].agent_id == "a1"  # told to the agent working it
    assert written[6].working_agent == "a1"  # the customer's other open interaction is theirs
    for gone in ("int-t", "int-x"):
        with pytest.raises(Exception, match="no interaction"):
            await store.interaction(gone)
    assert [m.body for m in await store.messages("int-done")] == ["earlier"]
    # Left-out claims stay free for the one-by-one way.
    assert await store.claim_inbound("email:d2@x") and await store.claim_inbound("email:t2@x")


async def test_batch_lookups_answer_as_the_one_by_one_ones(store: SqlContextStore) -> None:
    await existing(store, "int-1", "ann@example.com", ref="m1@x")
    await existing(store, "int-2", "bob@example.com", ref="m2@x")
    await store.save_interaction(interaction("int-3", (await store.interaction("int-1")).customer_id,
                                             at=T0, channel=Channel.EMAIL, refs={"email_ack": "ack@x"}))
    groups = [["m1@x"], ["m2@x", "m1@x"], ["nothing@x"], []]
    one_by_one = [await store.find_interaction_by_message_ref(g) for g in groups]
    assert await store.find_interactions_by_message_refs(groups) == one_by_one
    assert [i.id if i else None for i in one_by_one] == ["int-1", "int-2", None, None]
    found = await store.find_interactions_by_ref("email_ack", ["ack@x", "other@x"])
    assert found == {"ack@x": await store.find_interaction_by_ref("email_ack", "ack@x")}


async def test_a_new_interaction_without_a_first_message_or_claim(store: SqlContextStore) -> None:
    call = interaction("int-call", "", at=T0, channel=Channel.VOICE, refs={"uniqueid": "1700.1"})
    (written,) = await store.store_inbound([InboundWrite(
        claim=None, message=None, start=call, identities=[InboundIdentity(phone("+15550001111"), ASSERTED,
                                                                           "caller-id")])])
    assert written.interaction is not None and not written.message_stored
    assert await store.interaction("int-call") == written.interaction
    assert await store.messages("int-call") == []
    owner = await store.find_customer(phone("+15550001111"))
    assert owner is not None and owner.id == written.interaction.customer_id


async def test_the_same_message_twice_in_a_batch_is_stored_once(store: SqlContextStore) -> None:
    written = await store.store_inbound([new("int-a", "msg-a1", "Hi", "a1@x", "ann@example.com"),
                                         new("int-b", "msg-b1", "Hi", "a1@x", "ann@example.com")])
    assert [w.why for w in written] == [None, "claimed"]
    assert await store.find_interaction_by_message_ref(["a1@x"]) == written[0].interaction
