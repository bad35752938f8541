"""Hostile mail through the real SMTP listener: each is stored safely or refused cleanly, and
nothing it does stops another customer's mail from being stored."""

from __future__ import annotations

import asyncio
import email.policy
import io
import zipfile
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import pytest

from adapters.email import submit_async
from cti.domain import Channel
from tests.adapters.center import Center, running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.mails import SUPPORT, mail, raw

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SENDER = "mallory@example.net"


async def send(port: int, data: bytes, *, mail_from: str = SENDER) -> Any:
    return await submit_async("127.0.0.1", port, data, mail_from=mail_from, rcpt_to=[SUPPORT])


def inbound_only(tmp_path: Path, smtp_port: int) -> dict[str, Any]:
    return email_channel(tmp_path, smtp_port=smtp_port, relay_port=None)


async def stored(center: Center) -> list[str]:
    """Every e-mail message body stored, oldest interaction first."""
    found = [i for i in await center.services.context.list_interactions(limit=1000)
             if i.channel is Channel.EMAIL]
    out: list[str] = []
    for interaction in sorted(found, key=lambda i: i.arrived_at):
        out.extend(m.body for m in await center.services.context.messages(interaction.id))
    return out


def nested_by_hand(depth: int) -> bytes:
    """Far deeper than the email package will build (its generator recurses)."""
    head = (b"From: mallory@example.net\r\nTo: support@acme.example\r\nSubject: deep\r\n"
            b"Message-ID: <deep-%d@example.net>\r\nMIME-Version: 1.0\r\n" % depth)
    parts = [b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth)]
    tail = [b"--b%d--\r\n" % i for i in reversed(range(depth))]
    return head + b"".join(parts) + b"Content-Type: text/plain\r\n\r\nthe bottom\r\n" + b"".join(tail)


def nested_with_email_package(depth: int) -> bytes:
    part: Any = MIMEText("the bottom")
    for _ in range(depth):
        outer = MIMEMultipart("mixed")
        outer.attach(part)
        part = outer
    part["From"] = SENDER
    part["To"] = SUPPORT
    part["Subject"] = "nested"
    part["Message-ID"] = f"<nested-{depth}@example.net>"
    return bytes(part.as_bytes(policy=email.policy.SMTP))


async def test_deeply_nested_mime_is_stored_without_the_parts_too_deep_or_refused(
        tmp_path: Path, smtp_port: int) -> None:
    async with running_center(tmp_path, inbound_only(tmp_path, smtp_port)) as center:
        assert (await send(smtp_port, nested_with_email_package(10))).accepted
        assert (await send(smtp_port, nested_with_email_package(60))).accepted
        refused = await send(smtp_port, nested_by_hand(3000))
        assert refused.code == 554 and "too complex" in refused.message
        shallow, deep = await stored(center)
        assert shallow == "the bottom"
        assert deep.startswith("(no text)") and "MIME part(s) not read" in deep
        # The listener is still there for everyone else.
        assert (await send(smtp_port, raw(mail(body="Still works")), mail_from="ann@example.com")).accepted
        assert (await stored(center))[-1] == "Still works"


async def test_wrong_and_unknown_charsets_are_decoded_or_replaced(tmp_path: Path, smtp_port: int) -> None:
    cases = [
        # A charset nobody knows, 8-bit body.
        b"From: mallory@example.net\r\nSubject: =?x-no-such-charset?q?caf=E9?=\r\nMessage-ID: <cs1@x>\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"caf\xe9 cr\xe8me\r\n",
        # UTF-8 declared, Latin-1 sent; raw 8-bit bytes in the header.
        b"From: Ren\xe9 <rene@example.net>\r\nSubject: r\xe9sum\xe9\r\nMessage-ID: <cs2@x>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nna\xefve\r\n",
        # A codec that is not a text encoding, and a broken base64 body.
        b"From: mallory@example.net\r\nSubject: =?zlib?b?eJw=?= =?utf-8?b?!!!?=\r\nMessage-ID: <cs3@x>\r\n"
        b"Content-Type: text/plain; charset=zlib\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"aGVsbG8g!!!d29ybGQ=\r\n",
        # UTF-16 declared on bytes that are not.
        b"From: mallory@example.net\r\nSubject: x\r\nMessage-ID: <cs4@x>\r\n"
        b"Content-Type: text/plain; charset=utf-16\r\n\r\nabc\r\n",
    ]
    async with running_center(tmp_path, inbound_only(tmp_path, smtp_port)) as center:
        for data in cases:
            assert (await send(smtp_port, data)).accepted
        bodies = await stored(center)
        assert len(bodies) == 4
        assert bodies[0] == "café crème"
        assert bodies[1].startswith("na") and "ve" in bodies[1]
        assert all(isinstance(b, str) and b for b in bodies)
        subjects = {i.subject for i in await center.services.context.list_interactions(limit=10)}
        assert "résumé" in subjects
        customers = [await center.services.context.customer(i.customer_id)
                     for i in await center.services.context.list_interactions(limit=10)]
        assert "René" in {c.display_name for c in customers}


async def test_a_huge_header_is_refused(tmp_path: Path, smtp_port: int) -> None:
    async with running_center(tmp_path, inbound_only(tmp_path, smtp_port)) as center:
        folded = mail(headers={"X-Junk": " ".join(["junk"] * 40_000)})
        result = await send(smtp_port, raw(folded))
        assert result.code == 552 and "header" in result.message.lower()
        one_line = (b"From: mallory@example.net\r\nSubject: " + b"A" * 5000 + b"\r\n\r\nbody\r\n")
        result = await send(smtp_port, one_line)
        assert result.code == 500 and "too long" in result.message.lower()
        assert await stored(center) == []


async def test_a_zip_bomb_is_kept_as_sent_and_attachments_are_capped(tmp_path: Path, smtp_port: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (32 * 1024 * 1024))
    bomb = buffer.getvalue()
    assert len(bomb) < 100_000
    blob = bytes(range(256)) * 800  # 200 KiB; each attachment below differs by its first byte
    channels = email_channel(tmp_path, smtp_port=smtp_port, relay_port=None, max_attachment_bytes=300_000,
                             max_total_attachment_bytes=500_000, max_attachments=4)
    async with running_center(tmp_path, channels) as center:
        with_bomb = mail(subject="see attached", body="The archive.",
                         attachments=[("bomb.zip", "application/zip", bomb),
                                      ("../../etc/passwd", "text/plain", b"root:x:0:0"),
                                      ("invoice\u202efdp.exe", "application/octet-stream", b"MZ")])
        assert (await send(smtp_port, raw(with_bomb))).accepted
        capped = mail(subject="too much", body="Files.", message_id="<capped@example.net>",
                      attachments=[("a.bin", "application/octet-stream", b"a" + blob),
                                   ("b.bin", "application/octet-stream", b"b" + blob),
                                   ("c.bin", "application/octet-stream", b"c" + blob),
                                   ("big.bin", "application/octet-stream", blob * 2)])
        assert (await send(smtp_port, raw(capped))).accepted
        first, second = await stored(center)

    lines = first.splitlines()
    assert lines[0] == "The archive."
    bomb_line = next(line for line in lines if "bomb.zip" in line)
    ref = bomb_line.rsplit(" ", 1)[1]
    assert ref.startswith("sha256:")
    digest = ref.removeprefix("sha256:")
    on_disk = tmp_path / "attachments" / digest[:2] / digest[2:4] / digest
    assert on_disk.read_bytes() == bomb  # never unpacked
    files = [p for p in (tmp_path / "attachments").rglob("*") if p.is_file()]
    # Named by content only, two levels deep: nothing of the sender's names reaches the disk.
    assert len(files) == 5
    assert all(len(p.name) == 64 and p.name.startswith(p.parent.parent.name + p.parent.name) for p in files)
    assert "[attachment] passwd (text/plain, 10 B)" in first
    assert "[attachment] invoicefdp.exe (application/octet-stream, 2 B)" in first  # no RTL override
    assert not any(p.name in ("passwd", "bomb.zip") for p in files)

    assert second.count("[attachment] ") == 2
    assert "[attachment not kept] c.bin" in second and "exceed the 488.3 KB limit" in second
    assert "[attachment not kept] big.bin" in second and "larger than the 293.0 KB limit" in second


async def test_html_is_shown_as_text_without_anything_active(tmp_path: Path, smtp_port: int) -> None:
    html = ("<html><head><title>t</title><script>alert('head')</script><style>p{color:red}</style></head>"
            "<body onload=\"steal()\"><p>Hello <b>there</b>,</p><p>order&nbsp;42 &amp; more</p>"
            "<img src=\"https://evil.example/track.png\" alt=\"logo\" onerror=\"alert(2)\">"
            "<a href=\"javascript:alert(3)\">click me</a> <a href=\"https://shop.example/o/42\">the order</a>"
            "<iframe src=\"https://evil.example/frame\">frame text</iframe><form action=\"https://evil.example\">"
            "<input name=\"pw\"></form><script>document.cookie</script><svg><script>x()</script></svg>"
            "<blockquote>old quoted text</blockquote></body></html>")
    message = mail(subject="html")
    message.set_content(html, subtype="html")
    async with running_center(tmp_path, inbound_only(tmp_path, smtp_port)) as center:
        assert (await send(smtp_port, raw(message))).accepted
        [body] = await stored(center)
    assert body.startswith("Hello there,\n\norder 42 & more")
    assert "[image: logo]" in body and "click me" in body and "the order <https://shop.example/o/42>" in body
    for bad in ("alert", "javascript", "evil.example", "onload", "onerror", "cookie", "<script", "<p", "<img",
                "color:red",
                "frame text", "old quoted text"):
        assert bad not in body, bad


async def test_garbage_and_hostile_mail_at_once_do_not_drop_a_customer(tmp_path: Path,
                                                                       smtp_port: int) -> None:
    hostile = [
        nested_by_hand(3000),
        b"\x00\xff" * 5000,  # no header at all
        b"From: <>\r\nSubject: \r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n--x\r\n--x--",
        b"From: a@b.c\r\nContent-Type: text/plain; charset*=bogus''x\r\n"
        b"Content-Disposition: attachment; filename*=bogus''%FF%FE\r\n\r\nx",
        raw(mail(body="\u202e\x1b[31mred\x1b[0m \x00 nul", message_id="<ctl@example.net>")),
    ]
    normal = [raw(mail(sender=f"Customer {n} <c{n}@example.com>", body=f"Hello from {n}",
                       message_id=f"<normal-{n}@example.com>")) for n in range(5)]
    async with running_center(tmp_path, inbound_only(tmp_path, smtp_port)) as center:
        results = await asyncio.gather(*(send(smtp_port, data) for data in [*hostile, *normal]))
        assert all(r.accepted or r.code in (500, 550, 552, 554) for r in results), results
        assert all(r.accepted for r in results[len(hostile):])
        bodies = await stored(center)
        for n in range(5):
            assert f"Hello from {n}" in bodies
        control = next(b for b in bodies if "red" in b and "nul" in b)
        assert "\x1b" not in control and "\x00" not in control
