"""The fake X API and the channel's configuration for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.adapters.x.fake_x import FakeX, OAuth1Keys
from tests.adapters.x.payloads import ACCOUNT
from tests.wsclient import JsonSocket

KEYS = OAuth1Keys(consumer_key="ck-test-key", consumer_secret="cs-test-consumer-secret",
                  access_token="4000000001-at-test", access_token_secret="ats-test-secret")
BEARER = "bearer-test-user-context-token"

ANN = ("1001", "ann_lee", "Ann Lee")
BEA = ("1002", "bea_n", "Bea Novak")


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    async with FakeX(account_id=ACCOUNT, oauth1=KEYS, bearer=BEARER) as fake:
        for user_id, username, name in (ANN, BEA):
            fake.user(user_id, username, name)
        yield fake


def oauth1_section(fake: FakeX, **extra: Any) -> dict[str, Any]:
    return {"account_user_id": ACCOUNT,
            "consumer_key": KEYS.consumer_key, "consumer_secret": KEYS.consumer_secret,
            "access_token": KEYS.access_token, "access_token_secret": KEYS.access_token_secret,
            "api_base_url": fake.url, **extra}


def bearer_section(fake: FakeX, **extra: Any) -> dict[str, Any]:
    return {"account_user_id": ACCOUNT, "bearer_token": BEARER, "api_base_url": fake.url, **extra}


async def first_message(agent: JsonSocket, offer: dict[str, Any]) -> str:
    """The customer's first message on the offered interaction: stored before the interaction
    is queued, so it is in the offer's screen pop."""
    messages = offer["screen_pop"]["messages"]
    assert messages, offer
    return str(messages[0]["body"])
