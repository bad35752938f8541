"""The tweepy wrapper against the fake X API (credentials, errors, logs), and the poller's
cursor and rate-limit bookkeeping against a scripted API."""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import pytest

from adapters.x.api import Page, RateLimited, XApi, XApiError, XForbidden
from adapters.x.config import XConfig, parse_x_config
from adapters.x.events import XEvent
from adapters.x.poller import DMS, MAX_RATE_WAIT, MENTIONS, Poller, error_wait
from cti.clock import ManualClock
from tests.adapters.x.conftest import BEARER, KEYS, bearer_section, oauth1_section
from tests.adapters.x.fake_x import FakeX
from tests.adapters.x.payloads import ACCOUNT


def _config(section: dict[str, Any]) -> XConfig:
    return parse_x_config(section, queues={})


async def test_credentials_are_checked_by_the_fake_and_errors_typed(fake_x: FakeX) -> None:
    good = XApi(_config(oauth1_section(fake_x)))
    forged = XApi(_config(oauth1_section(fake_x, access_token_secret="wrong")))
    wrong_bearer = XApi(_config(bearer_section(fake_x, bearer_token="wrong")))
    try:
        assert (await good.mentions(since_id=None, pagination_token=None, max_results=10)).body == {
            "meta": {"result_count": 0}}
        assert fake_x.problems == []
        with pytest.raises(XApiError) as failed:
            await forged.reply("hi", "1")
        assert failed.value.status == 401 and fake_x.posted_tweets == []
        with pytest.raises(XApiError):
            await wrong_bearer.dm_events(pagination_token=None, max_results=10)
        assert fake_x.problems == ["POST /2/tweets: bad OAuth signature",
                                   "GET /2/dm_events: wrong bearer token"]

        fake_x.forbid_dms_to.add("1002")
        with pytest.raises(XForbidden) as forbidden:
            await good.send_dm("1002", "hello")
        assert forbidden.value.message == "You cannot send messages to this user."

        fake_x.rate_limit_once["/2/tweets"] = 1_900_000_000
        with pytest.raises(RateLimited) as limited:
            await good.reply("hi", "1")
        assert limited.value.reset_at == 1_900_000_000.0
    finally:
        for api in (good, forged, wrong_bearer):
            api.close()


async def test_unreachable_api_is_an_error_without_status() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    api = XApi(_config({"account_user_id": ACCOUNT, "bearer_token": BEARER,
                        "api_base_url": f"http://127.0.0.1:{port}", "request_timeout": 2}))
    try:
        with pytest.raises(XApiError) as failed:
            await api.mentions(since_id=None, pagination_token=None, max_results=10)
        assert failed.value.status is None
    finally:
        api.close()


async def test_tweepy_debug_log_never_shows_the_bearer_token(fake_x: FakeX,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    api = XApi(_config(bearer_section(fake_x)))
    try:
        with caplog.at_level(logging.DEBUG, logger="tweepy.client"):
            await api.mentions(since_id="1", pagination_token=None, max_results=10)
    finally:
        api.close()
    assert "Making API request" in caplog.text and "Bearer [redacted]" in caplog.text
    assert BEARER not in caplog.text and KEYS.consumer_secret not in caplog.text


# ----- the poller against a scripted API ----------------------------------------------------


class ScriptedApi:
    def __init__(self) -> None:
        self.mention_pages: list[Page | Exception] = []
        self.dm_pages: list[Page | Exception] = []
        self.mention_calls: list[tuple[str | None, str | None]] = []

    async def mentions(self, *, since_id: str | None, pagination_token: str | None, max_results: int) -> Page:
        self.mention_calls.append((since_id, pagination_token))
        return self._next(self.mention_pages)

    async def dm_events(self, *, pagination_token: str | None, max_results: int) -> Page:
        return self._next(self.dm_pages)

    @staticmethod
    def _next(pages: list[Page | Exception]) -> Page:
        empty = Page(body={"meta": {"result_count": 0}}, remaining=100, reset_at=None)
        item = pages.pop(0) if pages else empty
        if isinstance(item, Exception):
            raise item
        return item


def _tweets(*ids: str, next_token: str | None = None, remaining: int = 100) -> Page:
    meta: dict[str, Any] = {"result_count": len(ids)}
    if next_token:
        meta["next_token"] = next_token
    data = [{"id": i, "text": f"t{i}", "author_id": "1001", "conversation_id": i} for i in ids]
    return Page(body={"data": data, "meta": meta}, remaining=remaining, reset_at=2_000.0)


def _poller(api: ScriptedApi, clock: ManualClock, ok: list[bool], got: list[list[str]],
            **overrides: Any) -> Poller:
    base = _config({"account_user_id": ACCOUNT, "bearer_token": "b", "poll_seconds": 10})
    config = replace(base, **overrides)

    async def deliver(events: Sequence[XEvent]) -> bool:
        got.append([e.id for e in events])
        return ok.pop(0) if ok else True

    return Poller(api=cast(XApi, api), config=config, clock=clock, deliver=deliver)


async def test_poller_pages_moves_since_id_only_past_stored_events() -> None:
    api, clock = ScriptedApi(), ManualClock(1_000.0)
    got: list[list[str]] = []
    poller = _poller(api, clock, [False, True], got, poll_dms=False)
    api.mention_pages = [_tweets("30", "20", next_token="p2")]
    await poller.poll_once()  # first read: one page only, however many there are
    assert api.mention_calls == [(None, None)] and got == [["20", "30"]]
    assert poller.state.mention_since is None  # delivery failed: read again
    api.mention_pages = [_tweets("30", "20")]
    await poller.poll_once()
    assert poller.state.mention_since == "30"
    api.mention_pages = [_tweets("50", "45", next_token="p2"), _tweets("40")]
    await poller.poll_once()
    assert api.mention_calls[-2:] == [("30", None), ("30", "p2")] and got[-1] == ["40", "45", "50"]
    assert poller.state.mention_since == "50"


async def test_poller_closes_an_endpoint_until_its_reset() -> None:
    api, clock = ScriptedApi(), ManualClock(1_000.0)
    got: list[list[str]] = []
    poller = _poller(api, clock, [], got)
    api.mention_pages = [RateLimited("Too Many Requests", reset_at=1_100.0)]
    api.dm_pages = [Page(body={"meta": {"result_count": 0}}, remaining=0, reset_at=1_050.0)]
    await poller.poll_once()
    assert poller.state.closed_until == {MENTIONS: 1_101.0, DMS: 1_051.0}
    assert poller.next_delay() == 51.0  # both closed: sleep until the first opens
    clock.advance(60)
    await poller.poll_once()  # DMs open again, mentions still closed
    assert poller.state.closed_until == {MENTIONS: 1_101.0} and len(api.mention_calls) == 1
    assert poller.next_delay() == 10.0
    clock.advance(50)
    await poller.poll_once()
    assert poller.state.closed_until == {} and len(api.mention_calls) == 2


async def test_poller_backs_off_an_endpoint_that_fails_and_keeps_reading_the_other() -> None:
    api, clock = ScriptedApi(), ManualClock(1_000.0)
    got: list[list[str]] = []
    poller = _poller(api, clock, [], got)
    api.dm_pages = [XForbidden("the app may not read DMs"), XForbidden("again")]
    api.mention_pages = [_tweets("20")]
    await poller.poll_once()
    assert got == [["20"]] and poller.state.closed_until == {DMS: 1_020.0}
    clock.advance(20)
    await poller.poll_once()
    assert poller.state.closed_until == {DMS: 1_060.0} and poller.state.failures == {DMS: 2}
    clock.advance(40)
    await poller.poll_once()  # DMs answer again: the count starts over
    assert poller.state.failures == {} and poller.state.closed_until == {}
    assert error_wait(30, 10.0) == MAX_RATE_WAIT
