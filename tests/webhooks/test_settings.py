"""The ``webhooks:`` section: a bad subscription is refused at start-up with a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cti.config import ConfigError, load_config, parse_config
from cti.retry import Backoff
from cti.webhooks.events import WEBHOOK_EVENTS
from tests.webhooks.conftest import CONFIG, SECRET


def config(**webhooks: Any) -> dict[str, Any]:
    return {**CONFIG, "webhooks": webhooks}


def one(url: str = "https://crm.example.com/hooks", **over: Any) -> dict[str, Any]:
    return {"name": "crm", "url": url, "secret": SECRET, "events": ["interaction.closed"], **over}


def refused(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return str(caught.value)


def test_a_subscriber_is_read_with_its_secret_hidden() -> None:
    loaded = parse_config(config(subscribers=[one(events=["interaction.closed", "interaction.abandoned"])]))
    [crm] = loaded.webhooks.subscribers
    assert (crm.name, crm.url, crm.events) == ("crm", "https://crm.example.com/hooks",
                                               ("interaction.closed", "interaction.abandoned"))
    assert crm.secret.get_secret_value() == SECRET
    assert SECRET not in repr(loaded) and SECRET not in str(loaded.webhooks)
    assert parse_config(CONFIG).webhooks.subscribers == ()  # none configured: none sent


def test_the_event_list_is_an_allow_list_of_the_lifecycle_events() -> None:
    assert set(WEBHOOK_EVENTS) == {"interaction.queued", "interaction.offered", "interaction.accepted",
                                   "interaction.transferred", "interaction.wrap_up", "interaction.closed",
                                   "interaction.abandoned"}
    message = refused(config(subscribers=[one(events=["interaction.closed", "survey.answerd"])]))
    assert "webhooks.subscribers[0].events" in message and "'survey.answerd'" in message
    assert "interaction.closed" in message  # the known ones are listed
    # Events exist on the hub that are not for other systems (agents' states, message bodies).
    assert "message.added" in refused(config(subscribers=[one(events=["message.added"])]))
    assert "webhooks.subscribers[0].events" in refused(config(subscribers=[one(events=[])]))


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://crm.example.com/x", "the scheme must be http or https, not 'ftp'"),
    ("crm.example.com/hooks", "the scheme must be http or https"),
    ("https:///hooks", "the URL has no host"),
    ("https://user:pw@crm.example.com/x", "no user or password in the URL"),
    ("https://crm.example.com:99999/x", "not a URL"),
    ("http://127.0.0.1:8080/x", "127.0.0.1 is not a public address"),
    ("http://10.1.2.3/x", "10.1.2.3 is not a public address"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is not a public address"),
    ("http://[::1]/x", "::1 is not a public address"),
    ("http://[::ffff:192.168.1.1]/x", "is not a public address"),
    ("http://localhost:8080/x", "localhost is this machine"),
    ("http://api.localhost/x", "api.localhost is this machine"),
])
def test_a_bad_url_is_refused_with_the_reason(url: str, why: str) -> None:
    message = refused(config(subscribers=[one(url)]))
    assert "subscriber 'crm': url:" in message and why in message, message


def test_private_addresses_are_allowed_only_when_the_flag_says_so() -> None:
    raw = config(subscribers=[one("http://127.0.0.1:8080/x")], allow_private_addresses=True)
    assert parse_config(raw).webhooks.subscribers[0].url == "http://127.0.0.1:8080/x"
    still = config(subscribers=[one("file:///etc/passwd")], allow_private_addresses=True)
    assert "the scheme must be http or https" in refused(still)


def test_other_mistakes_name_the_key() -> None:
    assert "webhooks.subscribers[0].secret: Value error, must be at least 32 bytes" in refused(
        config(subscribers=[one(secret="short-secret")]))
    assert "short-secret" not in refused(config(subscribers=[one(secret="short-secret")]))
    assert "webhooks.subscribers[0].evnts: unknown key, did you mean events?" in refused(
        config(subscribers=[{**one(), "evnts": ["interaction.closed"]}]))
    assert "webhooks.retries: unknown key" in refused(config(retries=3))
    assert "subscriber names used twice: ['crm']" in refused(config(subscribers=[one(), one()]))
    assert "webhooks.subscribers[0].name" in refused(config(subscribers=[one(name="CRM system")]))
    assert "webhooks.timeout_seconds" in refused(config(timeout_seconds=0))
    assert "max_retry_seconds must not be less than first_retry_seconds" in refused(
        config(first_retry_seconds=60, max_retry_seconds=10))


def test_a_configuration_file_with_a_bad_subscription_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "cti.yaml"
    path.write_text(yaml.safe_dump(config(subscribers=[one(events=["interaction.closd"])])), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"webhooks\.subscribers\[0\]\.events: .*'interaction\.closd'"):
        load_config(path)


def test_the_back_off_doubles_to_its_ceiling_and_gives_up_at_the_deadline() -> None:
    backoff = parse_config(config(first_retry_seconds=10, max_retry_seconds=40, give_up_after_seconds=200,
                                  retry_jitter_seconds=0)).webhooks.backoff()
    assert backoff == Backoff(first=10, ceiling=40, give_up_after=200, jitter=0)
    assert [backoff.next_wait(n, since) for n, since in [(1, 0), (2, 10), (3, 30), (4, 70), (5, 110)]] == [
        10, 20, 40, 40, 40]
    assert backoff.next_wait(6, 150) == 40  # starts at 190: still within the 200 s
    assert backoff.next_wait(7, 165) is None  # would start at 205: given up
    jittered = Backoff(first=10, ceiling=40, give_up_after=200, jitter=2)
    assert all(10 <= (jittered.next_wait(1, 0) or 0) <= 12 for _ in range(50))
