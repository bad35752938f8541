"""The Web API wrapper with the real ``AsyncWebClient`` against the fake Slack on loopback, and
the Events endpoint's acknowledgement rules with a stand-in for storing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.slack import web_api
from adapters.slack.config import SlackConfig, parse_slack_config
from adapters.slack.payloads import CustomerPost
from adapters.slack.web_api import SlackSendError, SlackWebApi
from adapters.slack.webhook import EVENTS_PATH, EventsEndpoint
from cti.clock import ManualClock, SystemClock
from tests.adapters.slack.fake_slack import (
    BOT_USER,
    SIGNING_SECRET,
    TOKEN,
    FakeSlack,
    body_of,
    message_event,
    serve,
    signed_headers,
    slack_user,
    url_verification,
)

CHANNEL = "C0SHARED01"
JANE = "U0JANE0001"


def slack_config(api_url: str, *, token: str = TOKEN) -> SlackConfig:
    return parse_slack_config({"bot_token": token, "signing_secret": SIGNING_SECRET, "bot_user_id": BOT_USER,
                               "channels": [CHANNEL], "api_base_url": api_url, "timeout": 5},
                              queues=["support"])


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlack, str]]:
    fake = FakeSlack(users={JANE: slack_user(JANE, "Jane D", "Jane Doe")})
    async with serve(fake) as url:
        yield fake, url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def started(cfg: SlackConfig, clock: ManualClock) -> SlackWebApi:
    api = SlackWebApi(cfg, clock)
    await api.start()
    return api


async def test_post_reply_and_errors(slack: tuple[FakeSlack, str], clock: ManualClock) -> None:
    fake, url = slack
    api = await started(slack_config(url), clock)
    try:
        ts = await api.post_reply(channel=CHANNEL, thread_ts="1700000000.000100", text="*Ann*: hi")
        assert fake.posts == [{"channel": CHANNEL, "thread_ts": "1700000000.000100", "text": "*Ann*: hi",
                               "ts": ts}]

        fake.post_errors[CHANNEL] = (200, {"ok": False, "error": "not_in_channel"}, {})
        with pytest.raises(SlackSendError) as caught:
            await api.post_reply(channel=CHANNEL, thread_ts="1700000000.000100", text="again")
        assert caught.value.code == "not_in_channel" and caught.value.retry_after is None

        fake.post_errors[CHANNEL] = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "20"})
        with pytest.raises(SlackSendError) as caught:
            await api.post_reply(channel=CHANNEL, thread_ts="1700000000.000100", text="again")
        assert (caught.value.code, caught.value.retry_after) == ("ratelimited", 20.0)
        del fake.post_errors[CHANNEL]
        calls = len(fake.posts)
        clock.advance(15)
        with pytest.raises(SlackSendError) as caught:  # Slack asked for 20 s of quiet
            await api.post_reply(channel=CHANNEL, thread_ts="1700000000.000100", text="too soon")
        assert caught.value.retry_after == pytest.approx(5.0)
        assert len(fake.posts) == calls
        clock.advance(6)
        await api.post_reply(channel=CHANNEL, thread_ts="1700000000.000100", text="now")
        assert fake.posts[-1]["text"] == "now"
    finally:
        await api.aclose()
    assert fake.problems == []


async def test_wrong_token_and_unreachable_slack(slack: tuple[FakeSlack, str], clock: ManualClock) -> None:
    fake, url = slack
    api = await started(slack_config(url, token="xoxb-revoked"), clock)
    try:
        with pytest.raises(SlackSendError, match="invalid_auth"):
            await api.post_reply(channel=CHANNEL, thread_ts="1700000000.000100", text="hi")
        assert await api.display_name(JANE) is None
    finally:
        await api.aclose()
    fake.problems.clear()  # the wrong token was the point

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = await started(slack_config(f"http://127.0.0.1:{port}/api/"), clock)
    try:
        with pytest.raises(SlackSendError, match="unreachable"):
            await api.post_reply(channel=CHANNEL, thread_ts="1700000000.000100", text="hi")
        assert await api.display_name(JANE) is None
    finally:
        await api.aclose()


async def test_display_names_are_cached_and_failures_tolerated(
        slack: tuple[FakeSlack, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    fake, url = slack
    api = await started(slack_config(url), clock)
    try:
        assert await api.display_name(JANE) == "Jane D"
        assert await api.display_name(JANE) == "Jane D"
        assert await api.display_name("U0NOBODY01") is None
        assert await api.display_name("U0NOBODY01") is None
        assert fake.lookups == [JANE, "U0NOBODY01"]
        clock.advance(web_api.NAME_FAILURE_TTL + 1)
        assert await api.display_name("U0NOBODY01") is None
        assert fake.lookups == [JANE, "U0NOBODY01", "U0NOBODY01"]

        monkeypatch.setattr(web_api, "NAME_TIMEOUT", 0.05)
        fake.user_delay = 1.0
        fake.users["U0SLOW0001"] = slack_user("U0SLOW0001", "Slow", "Slow Poke")
        assert await api.display_name("U0SLOW0001") is None  # the message does not wait for it
    finally:
        await api.aclose()


# ----- the Events endpoint's acknowledgement ---------------------------------------------------

class Storing:
    """Stands in for storing a message: counts, can be slow, can fail."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.stored: list[str] = []
        self.delay = 0.0
        self.fail_next = False

    async def __call__(self, post: CustomerPost) -> None:
        self.calls.append(post.event_id)
        await asyncio.sleep(self.delay)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database unavailable")
        self.stored.append(post.event_id)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[EventsEndpoint, Storing, str, aiohttp.ClientSession]]:
    storing = Storing()
    ep = EventsEndpoint(slack_config("http://127.0.0.1:9/api/"), SystemClock(), storing, ack_budget=0.2)
    app = web.Application()
    ep.mount(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield ep, storing, str(server.make_url(EVENTS_PATH)), http
    finally:
        await ep.aclose()
        await server.close()


async def post(http: aiohttp.ClientSession, url: str, payload: dict[str, Any], **signing: Any) -> int:
    body = body_of(payload)
    async with http.post(url, data=body, headers=signed_headers(body, **signing)) as r:
        return r.status


async def test_slow_storing_is_acknowledged_in_time_and_retries_dropped(
        endpoint: tuple[EventsEndpoint, Storing, str, aiohttp.ClientSession]) -> None:
    ep, storing, url, http = endpoint
    storing.delay = 1.0
    payload = message_event(CHANNEL, JANE, "slow one", "1700000000.000100")
    started = asyncio.get_running_loop().time()
    assert await post(http, url, payload) == 200
    assert asyncio.get_running_loop().time() - started < 0.9  # answered before storing finished
    assert await post(http, url, payload, retry=1) == 200  # arrives while the first is being stored
    await ep.aclose()  # lets the one in hand finish
    assert storing.calls == storing.stored == [payload["event_id"]]


async def test_failed_storing_answers_500_and_the_retry_gets_in(
        endpoint: tuple[EventsEndpoint, Storing, str, aiohttp.ClientSession]) -> None:
    _, storing, url, http = endpoint
    storing.fail_next = True
    payload = message_event(CHANNEL, JANE, "unlucky", "1700000000.000200")
    assert await post(http, url, payload) == 500
    assert await post(http, url, payload, retry=1) == 200
    assert storing.stored == [payload["event_id"]]


async def test_shutdown_refuses_new_deliveries(
        endpoint: tuple[EventsEndpoint, Storing, str, aiohttp.ClientSession]) -> None:
    ep, storing, url, http = endpoint
    storing.delay = 10
    assert await post(http, url, message_event(CHANNEL, JANE, "late", "1700000000.000300")) == 200
    await ep.aclose(grace=0.05)  # the slow one is cancelled rather than holding up the shutdown
    assert storing.stored == []
    assert await post(http, url, url_verification("c")) == 503
