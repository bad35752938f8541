"""The ``channels.email`` section, the mail we compose, the attachment files and the relay client."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest

from adapters.email.attachments import AttachmentStore
from adapters.email.compose import compose, new_message_id
from adapters.email.config import DEFAULT_ACK_TEXT, RelayConfig, parse_email_config
from adapters.email.relay import RelayRefused, RelayUnavailable, SmtpRelay
from cti.config import ConfigError
from cti.domain import QueueConfig
from tests.adapters.email.peers import SmtpSink, free_port

QUEUES = {"support": QueueConfig(name="support", skills={}, service_targets={},
                                 address="Support@Acme.Example"),
          "billing": QueueConfig(name="billing", skills={}, service_targets={})}


def parse(raw: dict[str, Any]) -> Any:
    return parse_email_config(raw, queues=QUEUES)


def test_defaults_come_from_the_queues() -> None:
    config = parse({})
    assert config.domain == "acme.example"
    assert config.addresses == {"support@acme.example": "support"}
    assert config.listener is None and config.relay is None and config.mailboxes == ()
    assert config.acknowledge and config.ack_text == DEFAULT_ACK_TEXT and config.automatic == "drop"
    assert config.limits.message_bytes == 10 * 1024 * 1024


def test_a_full_section() -> None:
    config = parse({
        "domain": "mail.acme.example", "addresses": {"Billing@Acme.Example": "billing"},
        "default_queue": "billing", "smtp": {"host": "0.0.0.0", "port": 25, "hostname": "mx.acme.example"},
        "relay": {"host": "smtp.acme.example", "port": 587, "security": "starttls", "username": "u",
                  "password": "relay-password"},
        "imap": [{"host": "imap.acme.example", "ssl": True, "username": "u", "password": "imap-password",
                  "queue": "billing", "move_to": "Archive/Done"}],
        "max_message_bytes": 2048, "automatic": "store", "ack_limit_per_hour": 0})
    assert config.queue_for(["nobody@x.org", "BILLING@acme.example"]) == ("billing", "billing@acme.example")
    assert config.address_of("billing") == "billing@acme.example"
    assert config.listener is not None and config.listener.port == 25
    assert config.relay is not None and config.relay.security == "starttls"
    [box] = config.mailboxes
    assert box.port == 993 and box.mailbox == "INBOX" and box.name == "u@imap.acme.example/INBOX"
    for secret in ("relay-password", "imap-password"):
        assert secret not in repr(config)


@pytest.mark.parametrize(("raw", "message"), [
    ({"bogus": 1}, "unknown keys ['bogus']"),
    ({"default_queue": "sales"}, "unknown default_queue 'sales'"),
    ({"addresses": {"x@acme.example": "sales"}}, "unknown queue 'sales'"),
    ({"addresses": {"not-an-address": "support"}}, "is not an e-mail address"),
    ({"smtp": {"port": 70000}}, "port must be an integer from 0 to 65535"),
    ({"relay": {"port": 25}}, "host is required"),
    ({"relay": {"host": "h", "username": "u"}}, "give both username and password"),
    ({"relay": {"host": "h", "security": "tls"}}, "security must be"),
    ({"imap": [{"host": "h", "username": "u"}]}, "host, username and password are required"),
    ({"imap": [{"host": "h", "username": "u", "password": "p", "mailbox": 'IN"BOX'}]}, "mailbox names"),
    ({"imap": {"host": "h"}}, "a list of mailboxes"),
    ({"automatic": "keep"}, "automatic must be 'drop' or 'store'"),
    ({"max_message_bytes": True}, "max_message_bytes must be an integer"),
    ({"acknowledge": "yes"}, "acknowledge must be true or false"),
])
def test_bad_sections_are_refused_naming_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"channels\.email") as error:
        parse(raw)
    assert message in str(error.value)


def test_a_listener_needs_an_address_and_message_ids_need_a_domain() -> None:
    no_address = {"support": QueueConfig(name="support", skills={}, service_targets={})}
    with pytest.raises(ConfigError, match="domain is required"):
        parse_email_config({}, queues=no_address)
    with pytest.raises(ConfigError, match="needs at least one address"):
        parse_email_config({"domain": "acme.example", "smtp": {}}, queues=no_address)


def test_composed_mail_threads_and_marks_what_is_automatic() -> None:
    mail = compose(from_addr="support@acme.example", from_name="ACME\r\nBcc: evil@x",
                   to_addr="ann@example.com",
                   subject="Re: Hi\r\nBcc: evil@x [#ABCDEFGH]", body="Hello\r\nAnn \ud800",
                   message_id="m1@acme.example", in_reply_to="c1@example.com",
                   references=["c0@example.com", "c1@example.com"], now=1_800_000_000.0,
                   loop_token="acme.example", automatic=True)
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<m1@acme.example>" and parsed["In-Reply-To"] == "<c1@example.com>"
    assert parsed["References"] == "<c0@example.com> <c1@example.com>"
    assert parsed["Subject"] == "Re: Hi Bcc: evil@x [#ABCDEFGH]" and parsed["Bcc"] is None
    assert parsed["Auto-Submitted"] == "auto-replied" and parsed["X-CTI-Loop"] == "acme.example"
    assert parsed.get_content().replace("\r\n", "\n") == "Hello\nAnn ?\n"
    assert new_message_id("acme.example") != new_message_id("acme.example")


def test_attachments_are_stored_by_content(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path)
    ref = store.save(b"data")
    assert ref == store.save(b"data")
    assert store.path_of(ref).read_bytes() == b"data"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [ref.removeprefix("sha256:")]
    with pytest.raises(ValueError):
        store.path_of("sha256:../../etc/passwd")


async def test_the_relay_client_tells_refusals_from_outages(sink: SmtpSink) -> None:
    relay = SmtpRelay(RelayConfig(host="127.0.0.1", port=sink.port, timeout=5))
    mail = compose(from_addr="support@acme.example", from_name=None, to_addr="ann@example.com", subject="s",
                   body="b", message_id="m2@acme.example", in_reply_to=None, references=[], now=0.0,
                   loop_token="acme.example")
    try:
        await relay.send(mail, sender="", recipients=["ann@example.com"])
        assert sink.received[0].mail_from == "" and sink.received[0].rcpt_tos == ["ann@example.com"]
        with pytest.raises(RelayRefused) as refused:
            await relay.send(mail, sender="support@acme.example", recipients=["gone@refused.example"])
        assert refused.value.code == 550
        with pytest.raises(RelayUnavailable, match="451"):
            await relay.send(mail, sender="support@acme.example", recipients=["later@deferred.example"])
    finally:
        relay.close()
    nowhere = SmtpRelay(RelayConfig(host="127.0.0.1", port=free_port(), timeout=2))
    try:
        with pytest.raises(RelayUnavailable, match="ConnectionRefusedError"):
            await nowhere.send(mail, sender="support@acme.example", recipients=["ann@example.com"])
    finally:
        nowhere.close()
