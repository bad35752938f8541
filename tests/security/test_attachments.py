"""Files are served only when the channel recorded them on the message at receive time: a line a
chat visitor types that looks like an attachment listing opens nothing. Messages stored before the
records existed keep their files (the migration reads e-mail and SMS bodies, never chat's)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from adapters.email.attachments import AttachmentStore
from adapters.sms.adapter import WEBHOOK_PATH
from context.migrate import sync_url, upgrade
from cti.app import ServerSettings
from tests.adapters.center import Center, running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.mails import mail
from tests.adapters.email.test_email_flow import send
from tests.adapters.sms.fake_twilio import FakeTwilio, inbound_sms, post_webhook, sms_section
from tests.security.scoping import TEAMS, chat, take

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONTRACT = b"%PDF-1.4\n% Raj's signed contract\n" + bytes(range(256))


def ref_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def fetch(center: Center, agent: str, interaction_id: str, ref: str) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {await center.token(agent)}"}
    async with center.http.get(f"{center.url}/api/interactions/{interaction_id}/attachments/{ref}",
                               headers=headers) as r:
        return r.status, await r.read()


async def test_a_chat_line_naming_another_customers_file_opens_nothing(
        tmp_path: Path, smtp_port: int) -> None:
    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=None)
    async with running_center(tmp_path, channels, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        await send(smtp_port, mail(sender="raj@example.org", subject="Contract", body="Signed.",
                                   attachments=[("contract.pdf", "application/pdf", CONTRACT)]),
                   mail_from="raj@example.org")
        raj = await take(alice)
        status, body = await fetch(center, "alice", raj["id"], ref_of(CONTRACT))
        assert status == 200 and body == CONTRACT

        # A visitor who learnt the reference types the listing line into the chat.
        visitor = await chat(center, "Mallory")
        await visitor.send({"type": "message", "body": "see the file\n[attachment] contract.pdf "
                            f"(application/pdf, 300 B) {ref_of(CONTRACT)}"})
        await visitor.expect("message")
        bait = await take(alice)
        status, _ = await fetch(center, "alice", bait["id"], ref_of(CONTRACT))
        assert status == 404


async def test_files_open_to_whoever_may_read_the_customer(tmp_path: Path, smtp_port: int) -> None:
    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=None)
    async with running_center(tmp_path, channels, **TEAMS) as center:
        alice = await center.agent_socket("alice")
        await send(smtp_port, mail(sender="raj@example.org", subject="Contract", body="Signed.",
                                   attachments=[("contract.pdf", "application/pdf", CONTRACT)]),
                   mail_from="raj@example.org")
        raj = await take(alice)
        for who, expected in (("alice", 200), ("sam", 200), ("bob", 403), ("carol", 403), ("sue", 403)):
            assert (await fetch(center, who, raj["id"], ref_of(CONTRACT)))[0] == expected, who
        # Shared with Bob: the file on Raj's timeline opens for him too, the interaction does not.
        status, body = await center.api("sam", "POST", f"/api/customers/{raj['customer_id']}/share",
                                        {"agent_id": "bob", "days": 1})
        assert status == 200, body
        status, data = await fetch(center, "bob", raj["id"], ref_of(CONTRACT))
        assert status == 200 and data == CONTRACT
        assert (await center.api("bob", "GET", f"/api/interactions/{raj['id']}"))[0] == 403


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_files_of_messages_stored_before_the_upgrade_are_still_served(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    url = (f"sqlite+aiosqlite:///{tmp_path / 'old.db'}" if backend == "sqlite"
           else str(request.getfixturevalue("pg_schema")))
    upgrade(url, "0007")
    channels = email_channel(tmp_path, smtp_port=None, relay_port=None)
    store = AttachmentStore(Path(channels["email"]["attachments_dir"]))
    ref = store.save(CONTRACT)
    line = f"Signed.\n\n[attachment] contract.pdf (application/pdf, 300 B) {ref}"
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (id, created_at, root_id) VALUES ('cus-1', 1, 'cus-1')"))
        for interaction, channel in (("int-mail", "email"), ("int-sms", "sms"), ("int-chat", "chat")):
            conn.execute(text(
                "INSERT INTO interactions (id, customer_id, root_customer_id, channel, direction, queue, "
                "state, priority, skills, arrived_at, agent_id, customer_left, version) VALUES "
                "(:id, 'cus-1', 'cus-1', :channel, 'inbound', 'support', 'closed', 1, '{}', 1, 'alice', "
                "false, 1)"), {"id": interaction, "channel": channel})
            conn.execute(text("INSERT INTO messages (id, interaction_id, sender, body, at) VALUES "
                              "(:id, :interaction, 'customer', :body, 2)"),
                         {"id": f"msg-{channel}", "interaction": interaction, "body": line})
    engine.dispose()

    async with running_center(tmp_path, channels, settings=ServerSettings(db_url=url, node_id="t"),
                              **TEAMS) as center:
        status, body = await fetch(center, "alice", "int-mail", ref)
        assert status == 200 and body == CONTRACT
        status, _ = await fetch(center, "alice", "int-chat", ref)
        assert status == 404


async def test_mms_media_are_recorded_as_twilio_sent_them_and_typed_links_are_not(tmp_path: Path) -> None:
    media = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME"
    twilio = FakeTwilio()
    await twilio.start()
    try:
        async with running_center(tmp_path, {"sms": sms_section(twilio)}) as center:
            for sid, body, extra in (
                    ("MM" + "1" * 32, "Photo of the damage", {
                        "NumMedia": "1", "MediaUrl0": media + "1", "MediaContentType0": "image/jpeg"}),
                    # The customer types what looks like a media line: it stays text.
                    ("SM" + "2" * 32, f"and this one\n[image/jpeg] {media}9", {})):
                status, _, answer = await post_webhook(center.http, center.url, WEBHOOK_PATH,
                                                       inbound_sms(sid, "+15551230001", body, **extra))
                assert status == 200, answer
            found = await center.services.context.find_interaction_by_message_ref(["MM" + "1" * 32])
            assert found is not None
            recorded = await center.services.context.attachments(found.id)
            assert [(a.ref, a.content_type) for a in recorded] == [(media + "1", "image/jpeg")]
    finally:
        await twilio.close()
