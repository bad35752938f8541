"""Customer resolution, merges on a proving identity, links and unlinks by hand."""

from __future__ import annotations

import pytest

from context.store import SqlContextStore
from cti.clock import ManualClock
from cti.domain import Identity, IdentityKind
from cti.errors import Conflict, InvalidInput, NotFound
from tests.context.builders import chat, email, phone

ALICE_PHONE = phone("+15550001111")
ALICE_MAIL = email("alice@example.com")
ALICE_CHAT = chat("visitor-1")


async def test_new_identities_create_one_customer(store: SqlContextStore, clock: ManualClock) -> None:
    customer = await store.resolve_customer([ALICE_PHONE, ALICE_MAIL, ALICE_PHONE], display_name="Alice",
                                            actor="system", reason="inbound call")

    assert customer.id == "cus-1"
    assert customer.display_name == "Alice"
    assert customer.identities == (ALICE_MAIL, ALICE_PHONE)  # added together: by kind, then value
    assert customer.created_at == clock.now()
    assert await store.customer("cus-1") == customer
    assert await store.find_customer(ALICE_MAIL) == customer
    assert await store.find_customer(email("bob@example.com")) is None
    assert await store.merges(customer.id) == []


async def test_known_identity_attaches_the_new_ones(store: SqlContextStore, clock: ManualClock) -> None:
    first = await store.resolve_customer([ALICE_PHONE], display_name=None, actor="system", reason="call")
    clock.advance(10)
    again = await store.resolve_customer([ALICE_MAIL, ALICE_PHONE], display_name="Alice", actor="system",
                                         reason="e-mail")

    assert again.id == first.id
    assert again.identities == (ALICE_PHONE, ALICE_MAIL)  # oldest first
    assert again.display_name == "Alice"  # it had none
    renamed = await store.resolve_customer([ALICE_PHONE], display_name="Someone else", actor="system",
                                           reason="call")
    assert renamed.display_name == "Alice"  # a name is never overwritten
    assert (await store.find_customer(ALICE_MAIL)) == again
    assert await store.audit_log() == []  # nothing merged, nothing audited


async def test_a_proving_identity_merges_customers_into_the_oldest(store: SqlContextStore,
                                                                   clock: ManualClock) -> None:
    older = await store.resolve_customer([ALICE_PHONE], display_name="Alice", actor="system", reason="call")
    clock.advance(60)
    newer = await store.resolve_customer([ALICE_MAIL], display_name=None, actor="system", reason="mail")
    clock.advance(60)
    merged = await store.resolve_customer([ALICE_MAIL, ALICE_PHONE, ALICE_CHAT], display_name=None,
                                          actor="agent-7", reason="chat form gave phone and e-mail")

    assert merged.id == older.id
    assert merged.display_name == "Alice"
    assert merged.identities == (ALICE_PHONE, ALICE_MAIL, ALICE_CHAT)
    # The merged customer's id still leads to the survivor.
    assert await store.customer(newer.id) == merged
    for identity in (ALICE_PHONE, ALICE_MAIL, ALICE_CHAT):
        assert await store.find_customer(identity) == merged

    (record,) = await store.merges(older.id)
    assert (record.survivor_id, record.merged_id, record.actor, record.reason, record.at,
            record.undone_at) == (older.id, newer.id, "agent-7", "chat form gave phone and e-mail",
                                  clock.now(), None)
    assert await store.merges(newer.id) == [record]

    (entry,) = await store.audit_log()
    assert (entry.action, entry.actor, entry.target, entry.at) == ("customer.merge", "agent-7", older.id,
                                                                    clock.now())
    assert entry.details == {"merge_id": record.id, "survivor_id": older.id, "merged_id": newer.id,
                             "reason": "chat form gave phone and e-mail",
                             "identity": {"kind": "email", "value": "alice@example.com"}}


async def test_three_customers_merge_at_once(store: SqlContextStore, clock: ManualClock) -> None:
    ids = []
    for identity in (ALICE_CHAT, ALICE_MAIL, ALICE_PHONE):
        ids.append((await store.resolve_customer([identity], display_name=None, actor="s", reason="r")).id)
        clock.advance(1)
    merged = await store.resolve_customer([ALICE_PHONE, ALICE_MAIL, ALICE_CHAT], display_name=None,
                                          actor="s", reason="all three")

    assert merged.id == ids[0]
    assert set(merged.identities) == {ALICE_PHONE, ALICE_MAIL, ALICE_CHAT}
    records = await store.merges(merged.id)
    assert sorted(r.merged_id for r in records) == sorted(ids[1:])
    assert {r.survivor_id for r in records} == {ids[0]}
    assert [e.action for e in await store.audit_log()] == ["customer.merge", "customer.merge"]


async def test_merged_away_ids_follow_chains(store: SqlContextStore, clock: ManualClock) -> None:
    a = await store.resolve_customer([phone("+15550000001")], display_name=None, actor="s", reason="r")
    clock.advance(1)
    b = await store.resolve_customer([phone("+15550000002")], display_name=None, actor="s", reason="r")
    clock.advance(1)
    c = await store.resolve_customer([phone("+15550000003")], display_name=None, actor="s", reason="r")
    # b and c are one person (b survives), then a and b are (a survives): c -> b -> a.
    await store.resolve_customer([phone("+15550000002"), phone("+15550000003")], display_name=None,
                                 actor="s", reason="r")
    top = await store.resolve_customer([phone("+15550000001"), phone("+15550000002")], display_name=None,
                                       actor="s", reason="r")

    assert top.id == a.id
    assert [i.value for i in top.identities] == ["+15550000001", "+15550000002", "+15550000003"]
    assert (await store.customer(c.id)).id == a.id
    assert (await store.customer(b.id)).id == a.id
    assert (await store.find_customer(phone("+15550000003"))) == top
    assert len(await store.merges(a.id)) == 2


async def test_link_by_hand_merges_and_audits(store: SqlContextStore, clock: ManualClock) -> None:
    one = await store.resolve_customer([ALICE_PHONE], display_name="Alice", actor="s", reason="r")
    clock.advance(5)
    two = await store.resolve_customer([ALICE_MAIL], display_name=None, actor="s", reason="r")
    clock.advance(5)

    linked = await store.link_identities(ALICE_MAIL, ALICE_PHONE, actor="sup-1", reason="same voice")

    assert linked.id == one.id
    assert linked.identities == (ALICE_PHONE, ALICE_MAIL)
    assert await store.customer(two.id) == linked
    link, merge = await store.audit_log()
    assert (link.action, link.actor, link.target) == ("identity.link", "sup-1", one.id)
    assert link.details["reason"] == "same voice"
    assert link.details["merged_id"] == two.id
    assert (merge.action, merge.details["reason"], merge.details["identity"]) == (
        "customer.merge", "same voice", {"kind": "email", "value": "alice@example.com"})
    # Linking two identities of one customer changes nothing.
    assert await store.link_identities(ALICE_MAIL, ALICE_PHONE, actor="sup-1", reason="again") == linked
    assert len(await store.audit_log()) == 2


async def test_link_needs_known_identities(store: SqlContextStore) -> None:
    await store.resolve_customer([ALICE_PHONE], display_name=None, actor="s", reason="r")
    with pytest.raises(NotFound) as caught:
        await store.link_identities(ALICE_PHONE, ALICE_MAIL, actor="sup", reason="r")
    assert caught.value.error_id == "identity-not-found"
    assert caught.value.details["identity"] == {"kind": "email", "value": "alice@example.com"}


async def test_unlink_moves_the_identity_to_a_new_customer(store: SqlContextStore,
                                                           clock: ManualClock) -> None:
    alice = await store.resolve_customer([ALICE_PHONE, ALICE_MAIL], display_name="Alice", actor="s",
                                         reason="r")
    clock.advance(3)

    split = await store.unlink_identity(alice.id, ALICE_MAIL, actor="sup-2")

    assert split.id != alice.id
    assert split.identities == (ALICE_MAIL,)
    assert split.display_name is None
    assert split.created_at == clock.now()
    assert (await store.customer(alice.id)).identities == (ALICE_PHONE,)
    assert await store.find_customer(ALICE_MAIL) == split
    (entry,) = await store.audit_log()
    assert (entry.action, entry.actor, entry.target) == ("identity.unlink", "sup-2", alice.id)
    assert entry.details == {"identity": {"kind": "email", "value": "alice@example.com"},
                             "new_customer_id": split.id}


async def test_unlink_refuses_the_only_identity_and_foreign_ones(store: SqlContextStore) -> None:
    alice = await store.resolve_customer([ALICE_PHONE], display_name=None, actor="s", reason="r")
    bob = await store.resolve_customer([email("bob@example.com"), phone("+15559990000")], display_name=None,
                                       actor="s", reason="r")

    with pytest.raises(Conflict) as only:
        await store.unlink_identity(alice.id, ALICE_PHONE, actor="sup")
    assert only.value.error_id == "only-identity"
    with pytest.raises(Conflict) as foreign:
        await store.unlink_identity(bob.id, ALICE_PHONE, actor="sup")
    assert foreign.value.error_id == "identity-owned-elsewhere"
    with pytest.raises(NotFound) as unknown:
        await store.unlink_identity(bob.id, ALICE_MAIL, actor="sup")
    assert unknown.value.error_id == "identity-not-found"
    with pytest.raises(NotFound) as nobody:
        await store.unlink_identity("cus-404", ALICE_PHONE, actor="sup")
    assert nobody.value.error_id == "customer-not-found"
    assert await store.customer(alice.id) == alice
    assert await store.audit_log() == []


async def test_unlink_through_a_merged_away_id(store: SqlContextStore, clock: ManualClock) -> None:
    alice = await store.resolve_customer([ALICE_PHONE], display_name=None, actor="s", reason="r")
    clock.advance(1)
    other = await store.resolve_customer([ALICE_MAIL], display_name=None, actor="s", reason="r")
    await store.link_identities(ALICE_PHONE, ALICE_MAIL, actor="sup", reason="r")

    split = await store.unlink_identity(other.id, ALICE_MAIL, actor="sup")

    assert (await store.customer(alice.id)).identities == (ALICE_PHONE,)
    assert await store.find_customer(ALICE_MAIL) == split


async def test_unknown_ids_are_not_found(store: SqlContextStore) -> None:
    with pytest.raises(NotFound) as customer:
        await store.customer("cus-404")
    assert customer.value.error_id == "customer-not-found"
    assert customer.value.status == 404
    with pytest.raises(NotFound) as merges:
        await store.merges("cus-404")
    assert merges.value.error_id == "customer-not-found"
    with pytest.raises(NotFound) as merge:
        await store.unmerge("mrg-404", actor="sup")
    assert merge.value.error_id == "merge-not-found"


async def test_bad_input_is_refused(store: SqlContextStore) -> None:
    with pytest.raises(InvalidInput) as empty:
        await store.resolve_customer([], display_name=None, actor="s", reason="r")
    assert empty.value.error_id == "no-identities"
    with pytest.raises(InvalidInput) as long_value:
        await store.resolve_customer([Identity(IdentityKind.X, "x" * 300)], display_name=None, actor="s",
                                     reason="r")
    assert long_value.value.error_id == "invalid-identity"
    with pytest.raises(InvalidInput):
        await store.resolve_customer([ALICE_PHONE], display_name="n" * 201, actor="s", reason="r")
    assert await store.find_customer(ALICE_PHONE) is None
