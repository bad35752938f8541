"""Who may read /metrics: an allow-listed address, or whoever holds the metrics token."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.config import ConfigError, parse_config
from tests.operations.inprocess import config_with, serving
from tests.operations.scrape import parse

pytestmark = pytest.mark.integration

TOKEN = "scrape-token-for-the-tests-0123456789"


async def test_loopback_may_scrape_by_default_and_two_servers_keep_their_own_figures(
        tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with serving(tmp_path / "a", config_with()) as a, serving(tmp_path / "b", config_with()) as b:
        for _ in range(3):
            await a.get("/healthz")
        status, body, headers = await a.get("/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = parse(body)
        assert ("cti_sockets", frozenset({("kind", "agent")})) in samples
        status, other, _ = await b.get("/metrics")
        assert status == 200 and parse(other)  # a second registry in the same process


async def test_an_address_off_the_list_is_refused_without_a_token_configured(tmp_path: Path) -> None:
    async with serving(tmp_path, config_with(metrics={"allow": ["10.0.0.0/8"]})) as node:
        status, body, _ = await node.get("/metrics")
        assert status == 403 and body["error_id"] == "metrics-not-allowed"
        status, body, _ = await node.get("/metrics", Authorization=f"Bearer {TOKEN}")
        assert status == 401 and body["error_id"] == "bad-metrics-token"  # no token opens it


async def test_the_token_opens_it_from_anywhere_and_nothing_else_does(tmp_path: Path) -> None:
    async with serving(tmp_path, config_with(metrics={"token": TOKEN, "allow": []})) as node:
        status, body, headers = await node.get("/metrics")
        assert status == 401 and body["error_id"] == "metrics-token-required"
        assert headers["WWW-Authenticate"].startswith("Bearer")
        for wrong in (f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "):
            status, body, _ = await node.get("/metrics", Authorization=wrong)
            assert status == 401 and body["error_id"] == "bad-metrics-token", wrong
        status, body, _ = await node.get("/metrics", Authorization=f"Bearer {TOKEN}")
        assert status == 200 and "cti_offers" in body
        assert TOKEN not in body


async def test_a_forwarded_address_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    allow = {"allow": ["203.0.113.0/24"]}
    async with serving(tmp_path, config_with(metrics=allow)) as node:
        status, _, _ = await node.get("/metrics", **{"X-Forwarded-For": "203.0.113.9"})
        assert status == 403  # anyone can write the header: not believed from an untrusted peer
    (tmp_path / "proxied").mkdir()
    async with serving(tmp_path / "proxied", config_with(
            metrics=allow, traffic={"trusted_proxies": ["127.0.0.1/32"]})) as node:
        status, _, _ = await node.get("/metrics", **{"X-Forwarded-For": "203.0.113.9"})
        assert status == 200
        status, _, _ = await node.get("/metrics", **{"X-Forwarded-For": "203.0.113.9, 198.51.100.7"})
        assert status == 403  # the right-most address not a proxy is the client


@pytest.mark.parametrize(("section", "expected"), [
    ({"token": "short"}, "metrics.token"),
    ({"allow": ["not-a-network"]}, "metrics.allow"),
    ({"tokn": TOKEN}, "metrics.tokn"),
])
def test_a_bad_metrics_section_is_refused_with_its_path(section: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        parse_config(config_with(metrics=section))


def test_the_token_never_shows_in_the_configuration_repr() -> None:
    config = parse_config(config_with(metrics={"token": TOKEN}))
    assert TOKEN not in repr(config) and TOKEN not in str(config.metrics)
