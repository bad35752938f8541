"""Files customers send by e-mail, opened from the desktop: served only through an interaction
that lists them, to whoever may see it, always as a download. The last test clicks it in Chromium."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.adapters.center import Center, running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.mails import mail
from tests.adapters.email.test_email_flow import send
from tests.browser import go_available, launch, log_in
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECEIPT = b"%PDF-1.4\n% a receipt\n" + bytes(range(256)) * 4
FILENAME = 'reçu "mai".pdf'


def ref_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def fetch(center: Center, agent: str, interaction_id: str,
                ref: str) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Authorization": f"Bearer {await center.token(agent)}"}
    async with center.http.get(f"{center.url}/api/interactions/{interaction_id}/attachments/{ref}",
                               headers=headers) as r:
        return r.status, await r.read(), dict(r.headers)


async def offered_mail(center: Center, alice: JsonSocket, smtp_port: int, *, sender: str, data: bytes,
                       filename: str) -> str:
    await send(smtp_port, mail(sender=sender, subject=f"From {sender}", body="See the file.",
                               attachments=[(filename, "application/pdf", data)]), mail_from=sender)
    offer = await alice.expect("interaction.offered")
    return str(offer["interaction_id"])


async def test_an_attachment_is_served_to_who_may_see_the_interaction_only(
        tmp_path: Path, smtp_port: int) -> None:
    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=None)
    async with running_center(tmp_path, channels) as center:
        alice = await center.agent_socket("alice")
        ann = await offered_mail(center, alice, smtp_port, sender="ann.lee@example.com", data=RECEIPT,
                                 filename=FILENAME)
        assert (await alice.command({"type": "accept", "interaction_id": ann}))["type"] == "ack"

        status, body, headers = await fetch(center, "alice", ann, ref_of(RECEIPT))
        assert status == 200 and body == RECEIPT
        assert headers["Content-Type"] == "application/pdf"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Disposition"] == (
            f"attachment; filename=\"re?u _mai_.pdf\"; filename*=UTF-8''{quote(FILENAME, safe='')}")
        status, body, _ = await fetch(center, "sam", ann, ref_of(RECEIPT))  # her supervisor
        assert status == 200 and body == RECEIPT

        status, body, _ = await fetch(center, "bob", ann, ref_of(RECEIPT))  # not his
        assert status == 403
        status, _, _ = await fetch(center, "alice", ann, ref_of(b"never sent"))
        assert status == 404
        status, _, _ = await fetch(center, "alice", ann, "sha256:..%2F..%2Fetc%2Fpasswd")
        assert status in (400, 404)
        status, _, _ = await fetch(center, "alice", ann, "md5:0123")
        assert status == 400

        # Another customer's file is stored too, but not reachable through Ann's interaction.
        other = b"%PDF-1.4\n% someone else's contract\n"
        raj = await offered_mail(center, alice, smtp_port, sender="raj@example.org", data=other,
                                 filename="contract.pdf")
        status, _, _ = await fetch(center, "alice", ann, ref_of(other))
        assert status == 404
        assert (await alice.command({"type": "accept", "interaction_id": raj}))["type"] == "ack"
        status, body, _ = await fetch(center, "alice", raj, ref_of(other))
        assert status == 200 and body == other
        await alice.close()


async def test_the_agent_downloads_an_attachment_from_the_desktop(
        tmp_path: Path, smtp_port: int, chromium: str) -> None:
    from playwright.async_api import async_playwright, expect

    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=None)
    async with running_center(tmp_path, channels) as center, async_playwright() as pw:
        browser = await launch(pw, chromium)
        page = await log_in(browser, center.url, "alice", accept_downloads=True)
        await go_available(page)

        await send(smtp_port, mail(subject="My receipt", body="Here it is.",
                                   attachments=[(FILENAME, "application/pdf", RECEIPT)]))
        await page.locator("[data-testid=accept]").first.click()
        button = page.locator("[data-testid=conversation] [data-testid=attachment]")
        await expect(button).to_have_text(f"📎 {FILENAME}")
        async with page.expect_download() as waiting:
            await button.click()
        download = await waiting.value
        assert download.suggested_filename == "reçu _mai_.pdf"  # Chromium's own, without the quotes
        saved = tmp_path / "downloaded"
        await download.save_as(saved)
        assert saved.stat().st_size == len(RECEIPT)
        assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(RECEIPT).digest()
        await expect(page.locator("[data-testid=error]")).to_have_count(0)
        await browser.close()


async def test_without_a_kept_file_there_is_nothing_to_serve(tmp_path: Path, smtp_port: int) -> None:
    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=None)
    del channels["email"]["attachments_dir"]  # attachments listed, not kept
    async with running_center(tmp_path, channels) as center:
        alice = await center.agent_socket("alice")
        ann = await offered_mail(center, alice, smtp_port, sender="ann.lee@example.com", data=RECEIPT,
                                 filename="receipt.pdf")
        assert (await alice.command({"type": "accept", "interaction_id": ann}))["type"] == "ack"
        status, _, _ = await fetch(center, "alice", ann, ref_of(RECEIPT))
        assert status == 404
        await alice.close()

