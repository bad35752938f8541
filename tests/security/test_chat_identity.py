"""Who a chat visitor is: proven by the embedding site's signature, only claimed when typed.

A website that embeds the widget signs the identifier of its logged-in user with a per-site
secret (HMAC-SHA256, as Intercom and Chatwoot do); such a visitor is that customer. What a
visitor types into the pre-chat form is a claim: it never attaches the chat to an existing
customer and never merges two customers. A signature that does not check is refused, never
quietly downgraded to a claim.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from cti.domain import Channel, Direction, Identity, IdentityKind, Interaction, InteractionState
from tests.adapters.center import Center, running_center
from tests.security.chat_support import take_offer, visitor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SITE_SECRET = "shop-widget-secret-0123456789abcdefghijklmnop"
SITES = {"identity": {"sites": {"shop": {"secret": SITE_SECRET}}}}
ANN = "ann.lee@example.com"
BEN_PHONE = "+14155550123"


def sign(identifier: str, secret: str = SITE_SECRET) -> str:
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


async def seed(center: Center, identity: Identity, name: str) -> str:
    """A customer with a closed e-mail conversation: the history a wrong attach would show."""
    context = center.services.context
    customer = await context.resolve_customer([identity], display_name=name, actor="test", reason="seed")
    await context.save_interaction(Interaction(
        id=f"int-seed-{customer.id}", channel=Channel.EMAIL, direction=Direction.INBOUND,
        customer_id=customer.id, queue="support", state=InteractionState.CLOSED, arrived_at=1.0))
    return customer.id


def identities(pop: dict[str, Any]) -> set[tuple[str, str]]:
    return {(i["kind"], i["value"]) for i in pop["customer"]["identities"]}


async def test_a_signed_identifier_is_the_sites_user(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}, **SITES) as center:
        ann_id = await seed(center, Identity(IdentityKind.EMAIL, ANN), "Ann Lee")
        alice = await center.agent_socket("alice")

        # An e-mail address signed by the site: the chat is Ann's, with her history.
        chat, welcome = await visitor(center, site="shop", identifier=ANN, identifier_hash=sign(ANN))
        assert welcome["type"] == "welcome", welcome
        await chat.send({"type": "message", "body": "signed in as Ann"})
        offer = await take_offer(alice)
        assert offer["screen_pop"]["customer"]["id"] == ann_id
        assert ("chat", welcome["visitor_id"]) in identities(offer["screen_pop"])
        await chat.send({"type": "leave"})

        # A site user id (no "@") is the identity ``site`` "<site>:<id>"; upper-case hex is fine.
        first, _ = await visitor(center, site="shop", identifier="u-1042",
                                 identifier_hash=sign("u-1042").upper())
        await first.send({"type": "message", "body": "user 1042 here"})
        offer = await take_offer(alice)
        assert ("site", "shop:u-1042") in identities(offer["screen_pop"])
        await first.send({"type": "leave"})
        # From another browser later: the same customer.
        second, _ = await visitor(center, site="shop", identifier="u-1042", identifier_hash=sign("u-1042"))
        await second.send({"type": "message", "body": "user 1042 again"})
        again = await take_offer(alice)
        assert again["screen_pop"]["customer"]["id"] == offer["screen_pop"]["customer"]["id"]
        await second.close()
        await alice.close()


BAD = "bad-identity-signature"


@pytest.mark.parametrize(("hello", "error_id"), [
    ({"site": "shop", "identifier": ANN, "identifier_hash": sign(ANN, "guessed-secret")}, BAD),
    ({"site": "shop", "identifier": ANN, "identifier_hash": sign("someone@example.com")}, BAD),
    ({"site": "shop", "identifier": ANN}, BAD),
    ({"site": "shop", "identifier": ANN, "identifier_hash": "not hex"}, BAD),
    ({"identifier": ANN, "identifier_hash": sign(ANN)}, BAD),
    ({"site": "elsewhere", "identifier": ANN, "identifier_hash": sign(ANN)}, "unknown-site"),
])
async def test_a_bad_signature_is_refused_not_downgraded(tmp_path: Path, hello: dict[str, str],
                                                        error_id: str) -> None:
    async with running_center(tmp_path, {}, **SITES) as center:
        await seed(center, Identity(IdentityKind.EMAIL, ANN), "Ann Lee")
        chat, answer = await visitor(center, name="Mallory", **hello)
        assert answer["type"] == "error" and answer["error_id"] == error_id, answer
        # No conversation was started under that hello.
        await chat.send({"type": "message", "body": "let me in"})
        assert (await chat.expect("error"))["error_id"] == "hello-first"
        status, found = await center.api("sam", "GET", "/api/interactions?limit=50")
        assert status == 200 and [i["id"] for i in found] == [f"int-seed-{i['customer_id']}" for i in found]
        await chat.close()


async def test_typed_details_are_claims_that_neither_attach_nor_merge(tmp_path: Path) -> None:
    async with running_center(tmp_path, {}) as center:
        ann_id = await seed(center, Identity(IdentityKind.EMAIL, ANN), "Ann Lee")
        ben_id = await seed(center, Identity(IdentityKind.PHONE, BEN_PHONE), "Ben Ray")
        alice = await center.agent_socket("alice")

        chat, _ = await visitor(center, name="Ann Lee", email=ANN, phone="415 555 0123")
        await chat.send({"type": "message", "body": "read me my last invoice"})
        offer = await take_offer(alice)
        pop = offer["screen_pop"]
        assert pop["customer"]["id"] not in (ann_id, ben_id)
        assert not any(e["interaction_id"].startswith("int-seed-") for e in pop["timeline"])
        for customer_id, identity in ((ann_id, ("email", ANN)), (ben_id, ("phone", BEN_PHONE))):
            status, profile = await center.api("sam", "GET", f"/api/customers/{customer_id}")
            assert status == 200 and profile["id"] == customer_id, profile
            assert {(i["kind"], i["value"]) for i in profile["identities"]} == {identity}
            assert profile["merges"] == []
        await chat.close()
        await alice.close()


async def test_a_visitor_who_signs_in_on_the_site_mid_chat_becomes_that_customer(tmp_path: Path) -> None:
    grace = {"queue": "support", "reconnect_grace": 60}
    async with running_center(tmp_path, {}, chat=grace, **SITES) as center:
        ann_id = await seed(center, Identity(IdentityKind.EMAIL, ANN), "Ann Lee")
        alice = await center.agent_socket("alice")
        chat, welcome = await visitor(center, name="Anonymous")
        await chat.send({"type": "message", "body": "hello before logging in"})
        offer = await take_offer(alice)
        assert offer["screen_pop"]["customer"]["id"] != ann_id
        await chat.close()

        # The page reloads after she logs in on the shop: same session, now signed.
        for _ in range(2):  # twice: the second reconnect changes nothing more
            again, resumed = await visitor(center, visitor_id=welcome["visitor_id"],
                                           session_secret=welcome["session_secret"], site="shop",
                                           identifier=ANN, identifier_hash=sign(ANN))
            assert resumed["interaction_id"] == offer["interaction_id"]
            await again.close()
        status, body = await center.api("alice", "GET", f"/api/interactions/{offer['interaction_id']}")
        assert status == 200, body
        status, customer = await center.api("sam", "GET", f"/api/customers/{body['customer_id']}")
        assert status == 200 and customer["id"] == ann_id, customer
        pop_path = f"/api/interactions/{offer['interaction_id']}/screen-pop"
        status, pop = await center.api("alice", "GET", pop_path)
        assert status == 200, pop
        signed = [i for i in pop["identities"] if (i["kind"], i["value"]) == ("email", ANN)]
        assert [(i["level"], i["source"]) for i in signed] == [("verified", "hmac")]
        # Without the secret, the signature alone does not open her conversation either.
        thief, stolen = await visitor(center, visitor_id=welcome["visitor_id"], site="shop",
                                      identifier=ANN, identifier_hash=sign(ANN))
        assert stolen["interaction_id"] is None and stolen["messages"] == []
        await thief.close()
        await alice.close()


@pytest.mark.parametrize(("sites", "problem"), [
    ({"shop": {"secret": "short"}}, "identity.sites.shop.secret: Value error, must be at least 32"),
    ({"sh:op": {"secret": SITE_SECRET}}, "identity.sites.sh:op.[key]"),
    ({"shop": {"secret": SITE_SECRET, "algo": "md5"}}, "identity.sites.shop.algo"),
])
def test_site_secrets_are_checked_at_start_up_and_never_shown(sites: dict[str, Any], problem: str) -> None:
    from cti.config import ConfigError, parse_config
    from tests.adapters.center import center_config

    with pytest.raises(ConfigError) as refused:
        parse_config(center_config({}, identity={"sites": sites}))
    assert problem in str(refused.value)
    assert SITE_SECRET not in str(refused.value)
    config = parse_config(center_config({}, **SITES))
    assert SITE_SECRET not in repr(config) and SITE_SECRET not in str(config.identity)
