"""Identity levels in the store, on SQLite and on PostgreSQL: claims find nobody, only verified
identities merge, suggestions wait for a person, one-time codes are single-use and limited."""

from __future__ import annotations

import pytest

from context.store import SqlContextStore
from cti.clock import ManualClock
from cti.domain import Identity, IdentityKind, IdentityLevel, InboundIdentity
from cti.errors import Conflict, InvalidInput
from tests.context.conftest import backend, blank_url, clock, db_url, ids, sqlite_template, store

__all__ = ["backend", "blank_url", "clock", "db_url", "ids", "sqlite_template", "store"]  # fixtures

ANN_MAIL = Identity(IdentityKind.EMAIL, "ann@example.com")
BEN_PHONE = Identity(IdentityKind.PHONE, "+14155550177")
VISITOR = Identity(IdentityKind.CHAT, "vis-0001")


def at(identity: Identity, level: IdentityLevel) -> InboundIdentity:
    return InboundIdentity(identity, level, "test")


def both(ben: IdentityLevel, ann: IdentityLevel) -> list[InboundIdentity]:
    """Ben's phone and Ann's address on one interaction, at these levels."""
    return [at(BEN_PHONE, ben), at(ANN_MAIL, ann)]


async def two_customers(store: SqlContextStore, clock: ManualClock) -> tuple[str, str]:
    ann = await store.resolve_inbound([at(ANN_MAIL, IdentityLevel.ASSERTED)], display_name="Ann",
                                      actor="system", reason="mail")
    clock.advance(10)
    ben = await store.resolve_inbound([at(BEN_PHONE, IdentityLevel.ASSERTED)], display_name="Ben",
                                      actor="system", reason="sms")
    clock.advance(10)
    return ann.id, ben.id


async def test_claims_find_attach_and_merge_nobody(store: SqlContextStore, clock: ManualClock) -> None:
    ann, ben = await two_customers(store, clock)
    visitor = await store.resolve_inbound(
        [at(VISITOR, IdentityLevel.ASSERTED), at(ANN_MAIL, IdentityLevel.CLAIMED),
         at(BEN_PHONE, IdentityLevel.CLAIMED)], display_name="Ann Lee", actor="system", reason="chat")
    assert visitor.id not in (ann, ben)
    assert visitor.identities == (VISITOR,)
    assert await store.merges(ann) == [] and await store.merges(ben) == []
    assert await store.suggestions(ann) == []
    # Only claims: a customer of its own, with no identity at all.
    nobody = await store.resolve_inbound([at(ANN_MAIL, IdentityLevel.CLAIMED)], display_name=None,
                                         actor="system", reason="mail")
    assert nobody.id not in (ann, ben, visitor.id) and nobody.identities == ()
    # A claimed address never becomes a customer identity: it still finds Ann alone.
    assert (await store.find_customer(ANN_MAIL)).id == ann  # type: ignore[union-attr]


async def test_a_claim_first_does_not_capture_the_address(store: SqlContextStore, clock: ManualClock) -> None:
    squatter = await store.resolve_inbound([at(VISITOR, IdentityLevel.ASSERTED),
                                            at(ANN_MAIL, IdentityLevel.CLAIMED)],
                                           display_name=None, actor="system", reason="chat")
    clock.advance(5)
    real = await store.resolve_inbound([at(ANN_MAIL, IdentityLevel.ASSERTED)], display_name="Ann",
                                       actor="system", reason="mail")
    assert real.id != squatter.id
    assert await store.merges(real.id) == []


async def test_asserted_matches_of_two_customers_suggest_and_a_person_confirms(
        store: SqlContextStore, clock: ManualClock) -> None:
    ann, ben = await two_customers(store, clock)
    got = await store.resolve_inbound(both(IdentityLevel.ASSERTED, IdentityLevel.ASSERTED),
                                      display_name=None, actor="system", reason="inbound voice")
    assert got.id == ben
    assert await store.merges(ann) == []
    [suggestion] = await store.suggestions(ann)
    assert suggestion.customer_ids == (ben, ann) and suggestion.identity == ANN_MAIL
    assert await store.suggestions(ben) == [suggestion]
    # The same match again does not pile up suggestions.
    await store.resolve_inbound(both(IdentityLevel.ASSERTED, IdentityLevel.ASSERTED),
                                display_name=None, actor="system", reason="inbound voice")
    assert len(await store.suggestions(ann)) == 1
    merged = await store.decide_suggestion(suggestion.id, confirm=True, actor="sam", reason="same person")
    assert merged is not None and merged.id == ann  # the older survives
    [record] = await store.merges(ann)
    assert (record.actor, record.reason) == ("sam", "same person")
    assert await store.suggestions(ann) == []
    with pytest.raises(Conflict) as caught:
        await store.decide_suggestion(suggestion.id, confirm=False, actor="sam", reason="again")
    assert caught.value.error_id == "suggestion-decided"


async def test_verified_identities_merge(store: SqlContextStore, clock: ManualClock) -> None:
    ann, ben = await two_customers(store, clock)
    got = await store.resolve_inbound(both(IdentityLevel.VERIFIED, IdentityLevel.VERIFIED),
                                      display_name=None, actor="system", reason="signed")
    assert got.id == ann
    assert {r.merged_id for r in await store.merges(ann)} == {ben}


async def test_a_verified_identity_wins_over_an_asserted_one(store: SqlContextStore,
                                                             clock: ManualClock) -> None:
    ann, ben = await two_customers(store, clock)
    got = await store.resolve_inbound(both(IdentityLevel.ASSERTED, IdentityLevel.VERIFIED),
                                      display_name=None, actor="system", reason="mixed")
    assert got.id == ann
    assert await store.merges(ann) == []
    [suggestion] = await store.suggestions(ben)
    assert set(suggestion.customer_ids) == {ann, ben}


async def test_proving_an_identity_merges_with_its_owner(store: SqlContextStore, clock: ManualClock) -> None:
    ann, _ = await two_customers(store, clock)
    visitor = await store.resolve_inbound([at(VISITOR, IdentityLevel.ASSERTED)], display_name=None,
                                          actor="system", reason="chat")
    proven = await store.prove_identity(visitor.id, ANN_MAIL, actor="alice", reason="code", how="verified")
    assert proven.id == ann and VISITOR in proven.identities
    # An unknown identity is attached.
    other = Identity(IdentityKind.EMAIL, "new@example.com")
    again = await store.prove_identity(visitor.id, other, actor="alice", reason="code", how="verified")
    assert again.id == ann and other in again.identities


async def test_one_time_codes_are_single_use_expire_and_lock(store: SqlContextStore,
                                                             clock: ManualClock) -> None:
    from cti.settings.identity import CodeSettings

    codes = store.code_store(CodeSettings(ttl_seconds=600, max_attempts=3, max_sends_per_hour=3))
    code = await codes.issue_code(ANN_MAIL, "int-1")
    assert len(code) == 6 and code.isdigit()
    with pytest.raises(Conflict):  # another interaction's code does not exist for this one
        await codes.check_code("int-2", code)
    assert await codes.check_code("int-1", code) == ANN_MAIL
    with pytest.raises(Conflict) as caught:
        await codes.check_code("int-1", code)
    assert caught.value.error_id == "code-expired"

    code = await codes.issue_code(ANN_MAIL, "int-1")
    clock.advance(601)
    with pytest.raises(Conflict) as caught:
        await codes.check_code("int-1", code)
    assert caught.value.error_id == "code-expired"

    code = await codes.issue_code(BEN_PHONE, "int-3")
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(InvalidInput) as wrong_once:
        await codes.check_code("int-3", wrong)
    assert (wrong_once.value.error_id, wrong_once.value.details["attempts_left"]) == ("code-wrong", 2)
    with pytest.raises(InvalidInput):
        await codes.check_code("int-3", wrong)
    with pytest.raises(Conflict) as locked:
        await codes.check_code("int-3", wrong)
    assert locked.value.error_id == "code-locked"
    # A fresh code does not buy more guesses, and the right one no longer works.
    fresh = await codes.issue_code(BEN_PHONE, "int-3")
    with pytest.raises(Conflict) as still:
        await codes.check_code("int-3", fresh)
    assert still.value.error_id == "code-locked"
    await codes.issue_code(BEN_PHONE, "int-3")  # the third this hour: the limit
    with pytest.raises(Conflict) as limited:
        await codes.issue_code(BEN_PHONE, "int-3")
    assert limited.value.error_id == "code-send-limit"


async def test_a_code_from_someone_else_suggests_rather_than_merges(store: SqlContextStore,
                                                                   clock: ManualClock) -> None:
    ann, ben = await two_customers(store, clock)
    # Ben (by his phone) reads a code sent to Ann's address: a household, perhaps; a person decides.
    kept = await store.prove_identity(ben, ANN_MAIL, actor="alice", reason="code", how="verified")
    assert kept.id == ben and await store.merges(ben) == []
    [suggestion] = await store.suggestions(ben)
    assert set(suggestion.customer_ids) == {ann, ben}
    # A person who checked may link them.
    linked = await store.prove_identity(ben, ANN_MAIL, actor="alice", reason="checked", how="linked")
    assert linked.id == ann and len(await store.merges(ann)) == 1
