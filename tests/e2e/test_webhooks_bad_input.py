"""Garbage on every webhook: a clear 4xx, nothing stored, and the server goes on serving.

The channels' own tests check forged, stale and replayed deliveries one by one; this one sends
what no provider would (no body, broken JSON, the wrong content type, a body too large) to all of
them on one server, and checks a real customer's message still gets through afterwards.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.adapters.center import running_center

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DUMMY_API = "http://127.0.0.1:9"  # never called: nothing here is answered
CHANNELS = {
    "sms": {"account_sid": "AC" + "0" * 32, "auth_token": "t" * 32, "public_url": "https://cc.example",
            "from_number": "+15550100000", "api_base_url": DUMMY_API},
    "slack": {"bot_token": "xoxb-test", "signing_secret": "s" * 32, "bot_user_id": "UBOT00001",
              "channels": ["C0SHARED01"], "api_base_url": DUMMY_API + "/api/"},
    "x": {"account_user_id": "1000", "mode": "webhook", "consumer_key": "k", "consumer_secret": "c" * 32,
          "access_token": "a", "access_token_secret": "b", "api_base_url": DUMMY_API},
    "twilio_voice": {"account_sid": "AC" + "1" * 32, "auth_token": "v" * 32,
                     "public_url": "https://cc.example", "api_base_url": DUMMY_API,
                     "numbers": {"+15550100001": "support"}},
}
HOOKS = ["/webhooks/twilio/sms", "/webhooks/twilio/sms/status", "/webhooks/slack/events",
         "/webhooks/x", "/webhooks/twilio/voice", "/webhooks/twilio/voice/status"]
BODIES: list[tuple[str, bytes | str]] = [
    ("application/json", b""),
    ("application/json", b"{not json"),
    ("application/json", b"[1, 2, 3]"),
    ("application/x-www-form-urlencoded", "From=%2B1555&Body=" + "x" * 10),
    ("text/plain", "\x00\xff garbage"),
    ("application/json", b"{" + b'"a":"' + b"x" * 2_000_000 + b'"}'),
]


async def test_garbage_on_every_webhook_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    async with running_center(tmp_path, CHANNELS) as center:
        for path in HOOKS:
            for content_type, body in BODIES:
                data = body.encode("latin-1") if isinstance(body, str) else body
                async with center.http.post(center.url + path, data=io.BytesIO(data),
                                            headers={"Content-Type": content_type}) as r:
                    assert 400 <= r.status < 500, (path, content_type, r.status, await r.text())
        assert await center.services.context.list_interactions(limit=10) == []
        # The server still serves: an agent logs in and a visitor's chat is queued.
        agent = await center.agent_socket("alice")
        chat = await center.http.ws_connect(center.url.replace("http", "ws", 1) + "/ws/chat")
        await chat.send_json({"type": "hello", "name": "After the storm"})
        await chat.send_json({"type": "message", "body": "hello?"})
        offer = await agent.expect("interaction.offered")
        assert offer["screen_pop"]["messages"][0]["body"] == "hello?"
        await chat.close()
        await agent.close()
