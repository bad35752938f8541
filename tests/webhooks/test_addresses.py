"""Without ``allow_private_addresses`` the server posts to public addresses only: a literal
private address is refused before any connection, and a name is refused when it resolves only
to such addresses, at the moment of connecting."""

from __future__ import annotations

import pytest

from cti.webhooks.addresses import AddressRefused, PublicOnlyResolver, is_public
from cti.webhooks.deliveries import Delivery, DeliveryStatus
from cti.webhooks.sender import Sender
from tests.webhooks.receiver import Receiver

DELIVERY = Delivery(id="whd-1", subscriber="crm", event_type="interaction.closed", interaction_id=None,
                    body=b"{}", status=DeliveryStatus.PENDING, created_at=0.0, series_started_at=0.0,
                    attempts=0, next_attempt_at=0.0)


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.215.14", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.0.0.1", False),
    ("172.16.5.4", False), ("192.168.0.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
    ("0.0.0.0", False), ("224.0.0.1", False), ("::1", False), ("fe80::1%eth0", False), ("fd00::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:93.184.215.14", True), ("not-an-address", False),
])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_a_name_resolving_to_this_machine_is_refused_when_connecting() -> None:
    resolver = PublicOnlyResolver()
    try:
        with pytest.raises(AddressRefused, match="localhost resolves only to addresses that are not public"):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


async def test_the_sender_refuses_a_private_address_without_connecting(receiver: Receiver) -> None:
    url = receiver.at("/crm")
    sender = Sender(timeout=2, allow_private=False)
    await sender.start()
    try:
        refused = await sender.send(DELIVERY, url=url, secret=b"s" * 40, now=1.0)
        assert not refused.ok and refused.error is not None and refused.error.startswith("refused-url: ")
        assert receiver.got == []
    finally:
        await sender.aclose()

    allowed = Sender(timeout=2, allow_private=True)
    await allowed.start()
    try:
        assert (await allowed.send(DELIVERY, url=url, secret=b"s" * 40, now=1.0)).ok
        assert len(receiver.got) == 1
    finally:
        await allowed.aclose()
