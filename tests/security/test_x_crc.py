"""X webhooks: the unauthenticated CRC challenge must never sign something a delivery could be.

The CRC answer and a delivery's signature are the same HMAC under the same consumer secret, so
an endpoint that signs any token was an oracle: ask it to sign a JSON body, then post that body
with the answer as its signature. Only tokens of the shape X sends (short, base64url) are signed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.adapters.center import Center, running_center
from tests.adapters.x.conftest import ANN, fake_x, oauth1_section
from tests.adapters.x.fake_x import FakeX
from tests.adapters.x.payloads import delivery, tweet_v11, user_v11

__all__ = ["fake_x"]

pytestmark = [pytest.mark.integration]


async def crc(center: Center, token: str) -> tuple[int, dict[str, str]]:
    async with center.http.get(f"{center.url}/webhooks/x", params={"crc_token": token}) as r:
        return r.status, await r.json()


async def post(center: Center, body: bytes, signature: str) -> tuple[int, object]:
    headers = {"Content-Type": "application/json", "x-twitter-webhooks-signature": signature}
    async with center.http.post(f"{center.url}/webhooks/x", data=body, headers=headers) as r:
        return r.status, await r.json()


async def x_messages(center: Center) -> int:
    found = await center.services.context.list_interactions(states=None, agent_id=None, limit=100)
    return sum(1 for i in found if i.channel.value == "x")


async def test_a_json_body_signed_through_the_crc_endpoint_is_never_a_valid_delivery(
        tmp_path: Path, fake_x: FakeX) -> None:
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        forged = delivery(tweets=[tweet_v11("6001", user_v11(*ANN),
                                            "@AcmeHelp forged: refund me now")])
        status, answer = await crc(center, forged.decode())
        if "response_token" in answer:  # what an attacker does with a signed body
            accepted, _ = await post(center, forged, answer["response_token"])
            assert accepted == 403, "a CRC answer forged a delivery"
        assert await x_messages(center) == 0
        assert status == 400 and "response_token" not in answer  # a JSON body is no CRC token


@pytest.mark.parametrize("token", [
    "a" * 65,                                # longer than any token X sends
    '{"for_user_id":"1"}',                   # JSON
    "abc def",                               # outside base64url
    "Zm9v/YmFy+",                            # standard base64's alphabet, not base64url
    "\u00e9t\u00e9",                         # not ASCII
])
async def test_crc_tokens_not_shaped_like_xs_are_refused(tmp_path: Path, fake_x: FakeX, token: str) -> None:
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        status, answer = await crc(center, token)
        assert status == 400 and "response_token" not in answer
        assert answer.get("error_id") == "bad-crc-token"


async def test_a_valid_crc_answer_used_as_a_delivery_signature_is_refused(
        tmp_path: Path, fake_x: FakeX) -> None:
    async with running_center(tmp_path, {"x": oauth1_section(fake_x, mode="webhook")}) as center:
        token = "Ml5ecGVCMmMHqMJPa1b2c3d4e5f6g7h8i9j0k_-xyzQ"
        status, answer = await crc(center, token)
        assert status == 200
        signature = answer["response_token"]
        # The only body this answer signs is the token itself, which is no delivery ...
        status, refused = await post(center, token.encode(), signature)
        assert status in (400, 403), refused
        # ... and it signs no real delivery either.
        body = delivery(tweets=[tweet_v11("6002", user_v11(*ANN), "@AcmeHelp hi")])
        assert (await post(center, body, signature))[0] == 403
        assert await x_messages(center) == 0
        assert json.loads(body)  # sanity: the refused body was a well-formed delivery
