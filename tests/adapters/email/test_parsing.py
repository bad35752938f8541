"""The pure parts that turn bytes into what an agent reads: charsets, HTML, quotes, MIME."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from adapters.email.body import Listed, message_body
from adapters.email.config import Limits
from adapters.email.html import html_to_text
from adapters.email.loops import Automatic
from adapters.email.mime import MailRefused, Skipped, parse_mail, safe_filename
from adapters.email.quotes import trim_quoted
from adapters.email.text import decode_bytes, decode_header
from adapters.email.threads import SYNTHETIC_DOMAIN
from tests.adapters.email.mails import mail, raw

# ----- charsets and headers -------------------------------------------------------------------


@pytest.mark.parametrize(("data", "charset", "expected"), [
    ("café".encode(), "utf-8", "café"),
    ("café".encode("latin-1"), "iso-8859-1", "café"),
    ("café".encode("latin-1"), None, "café"),  # undeclared: UTF-8 fails, Windows-1252 reads it
    ("café".encode(), "x-no-such-charset", "café"),
    ("café".encode("latin-1"), "x-no-such-charset", "café"),
    (b"caf\xe9", "utf-8", "caf\ufffd"),  # declared UTF-8 but not: replaced, not guessed
    (b"abc", "zlib", "abc"),  # not a text codec
    (b"abc", "idna", "abc"),
    ("日本".encode("shift_jis"), "shift_jis", "日本"),
    (b"\x81\x8d\x8f", "cp1252", "\ufffd\ufffd\ufffd"),
])
def test_bytes_are_decoded_or_replaced(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


def test_headers_are_decoded_on_one_line() -> None:
    assert decode_header("=?utf-8?q?J=C3=B6rg?= M\u00fcller") == "Jörg Müller"
    assert decode_header("=?iso-8859-1?b?Y2Fm6Q==?= ok") == "café ok"
    assert decode_header("=?x-unknown?q?caf=E9?=") == "café"
    assert decode_header("a\r\n\tb\x00c\x1bd") == "a b c d"
    assert decode_header("x" * 5000, limit=10) == "x" * 10
    assert decode_header(None) == ""
    assert decode_header("invoice\u202efdp.exe") == "invoicefdp.exe"


def test_filenames_lose_directories_and_tricks() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Windows\\evil.bat") == "evil.bat"
    assert safe_filename("..") == "attachment"
    assert safe_filename("=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=") == "résumé.pdf"
    assert len(safe_filename("a" * 1000)) == 100


# ----- HTML -------------------------------------------------------------------------------------


def test_html_becomes_text_with_nothing_active() -> None:
    html = ("<html><head><style>x{}</style><script>alert(1)</script></head><body onload=x()>"
            "<h1>Order</h1><p>Line one<br>line two</p><ul><li>first</li><li>second</li></ul>"
            "<p><a href='https://shop.example/o/1'>your order</a> <a href='javascript:evil()'>js</a> "
            "<a href='mailto:help@acme.example'>help@acme.example</a></p>"
            "<img src='https://tracker.example/p.gif'><img src=x alt='chart'>"
            "<table><tr><td>a</td><td>b</td></tr></table><pre>  keep\n  spacing</pre>"
            "<!-- comment --><iframe>in frame</iframe><noscript>ns</noscript>"
            "<blockquote>earlier<blockquote>much earlier</blockquote></blockquote>")
    text = html_to_text(html)
    assert text.splitlines() == [
        "Order", "", "Line one", "line two", "", "- first", "- second", "",
        "your order <https://shop.example/o/1> js help@acme.example", "", "[image: chart]", "",
        "a b", "", "  keep", "  spacing", "", "> earlier", ">", "> > much earlier"]
    for gone in ("alert", "tracker", "javascript", "comment", "in frame", "ns", "x{}"):
        assert gone not in text


def test_unclosed_script_hides_the_rest_and_entities_decode() -> None:
    assert html_to_text("<p>a &amp; b &lt;c&gt;</p><script>never shown") == "a & b <c>"
    assert html_to_text("") == ""
    assert html_to_text("<<<>>>&&&;;") is not None  # malformed, still text


# ----- quoted history ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "shown"), [
    ("Thanks!\n\nOn Mon, 1 Dec 2026 at 10:00, Support <s@x> wrote:\n> old\n> older", "Thanks!"),
    ("Thanks!\nOn Mon, 1 Dec 2026 at 10:00 Support <\ns@acme.example> wrote:\n> old", "Thanks!"),
    ("Merci\n\nLe lun. 1 déc. 2026, Support a écrit :\n> vieux", "Merci"),
    ("Danke\n\nAm 01.12.2026 um 10:00 schrieb Support <s@x>:\n> alt", "Danke"),
    ("Yes.\n\n-----Original Message-----\nFrom: s@x\nSent: Monday\nTo: me\n\nold", "Yes."),
    ("Yes.\n\n________________________________\nFrom: Support\nSent: Monday\nTo: Ann\nSubject: x\nold",
     "Yes."),
    ("Top answer\n\n> quoted at the end\n> more\n\n", "Top answer"),
    ("> question one\nanswer one\n> question two\nanswer two",
     "> question one\nanswer one\n> question two\nanswer two"),  # interleaved: kept
    ("See below\n\n---------- Forwarded message ---------\nFrom: x\nOn Mon x wrote:\n> y",
     "See below\n\n---------- Forwarded message ---------\nFrom: x\nOn Mon x wrote:\n> y"),
    ("> only a quote", "> only a quote"),  # nothing would be left: kept as is
    ("From: the start of my own text\nis not a header block", "From: the start of my own text\n"
                                                              "is not a header block"),
])
def test_quoted_history_is_trimmed(text: str, shown: str) -> None:
    assert trim_quoted(text)[0] == shown


# ----- MIME ---------------------------------------------------------------------------------------

LIMITS = Limits()


def test_a_plain_mail_parses_into_what_the_channel_needs() -> None:
    m = mail(sender="=?utf-8?q?J=C3=B6rg?= <Joerg@Example.COM>", to="Support <SUPPORT@acme.example>",
             subject="Re: Fwd: Hello", message_id="<abc@host>", in_reply_to="<prev@host>",
             references=["<root@host>", "<prev@host>"],
             headers={"Reply-To": "other@example.com", "Cc": "x@example.org, bad address",
                      "Return-Path": "<bounces@example.com>", "Auto-Submitted": "no"})
    parsed = parse_mail(raw(m), LIMITS)
    assert parsed.message_id == "abc@host" and not parsed.synthetic_id
    assert parsed.in_reply_to == ("prev@host",) and parsed.references == ("root@host", "prev@host")
    assert parsed.from_addr == "joerg@example.com" and parsed.from_name == "Jörg"
    assert parsed.reply_to == "other@example.com"
    assert parsed.recipients == ("support@acme.example", "x@example.org")
    assert parsed.return_path == "bounces@example.com"
    assert parsed.headers == {"auto-submitted": "no", "return-path": "<bounces@example.com>"}
    assert parsed.subject == "Re: Fwd: Hello" and parsed.text == "My order 42 has not arrived."


def test_alternatives_prefer_plain_text_and_html_alone_is_converted() -> None:
    both = mail(body="plain version", html="<p>html version</p>")
    parsed = parse_mail(raw(both), LIMITS)
    assert parsed.text == "plain version" and not parsed.from_html
    html_only = mail()
    html_only.set_content("<p>only <b>html</b></p>", subtype="html")
    parsed = parse_mail(raw(html_only), LIMITS)
    assert parsed.text == "only html" and parsed.from_html


def test_attachments_are_capped_one_by_one_in_total_and_in_number() -> None:
    limits = Limits(attachment_bytes=100, total_attachment_bytes=150, attachments=3)
    binary = "application/octet-stream"
    m = mail(attachments=[("a.txt", "text/plain", b"a" * 80), ("b.bin", binary, b"b" * 101),
                          ("c.bin", binary, b"c" * 80), ("d.bin", "image/png", b"d" * 10),
                          ("e.bin", "image/png", b"e" * 10), ("f.bin", "image/png", b"f" * 10)])
    parsed = parse_mail(raw(m), limits)
    assert [(a.filename, len(a.data)) for a in parsed.attachments] == [("a.txt", 80), ("d.bin", 10),
                                                                        ("e.bin", 10)]
    assert [(s.filename, s.why) for s in parsed.skipped] == [("b.bin", "too-large"), ("c.bin", "over-total"),
                                                             ("f.bin", "too-many")]
    assert parsed.text == "My order 42 has not arrived."  # a text/plain attachment is not the body


def test_a_bounce_names_the_message_it_is_about() -> None:
    original = raw(mail(message_id="<ours-1@acme.example>"))
    report = EmailMessage(policy=email.policy.SMTP)
    report["From"] = "MAILER-DAEMON@mx.example.com"
    report["Message-ID"] = "<dsn@mx>"
    report.set_content("Delivery failed.")
    report.make_mixed()
    report.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="zz"')
    headers_only = EmailMessage()
    headers_only.set_content(b"Message-ID: <ours-2@acme.example>\r\n", maintype="text",
                             subtype="rfc822-headers", cte="7bit")
    rfc822 = EmailMessage()
    rfc822.set_content(email.message_from_bytes(original, policy=email.policy.SMTP))
    report.attach(headers_only)
    report.attach(rfc822)
    parsed = parse_mail(report.as_bytes(), LIMITS)
    assert parsed.content_type == "multipart/report"
    assert parsed.report_refs == ("ours-2@acme.example", "ours-1@acme.example")
    assert parsed.text == "Delivery failed."


def test_a_forwarded_message_is_read_under_its_origin() -> None:
    inner = mail(sender="Carl <carl@example.org>", subject="Original", body="Inner text")
    outer = mail(body="FYI, see below.")
    outer.add_attachment(inner)
    parsed = parse_mail(raw(outer), LIMITS)
    assert parsed.text.startswith("FYI, see below.\n\n---------- Forwarded message ----------\n"
                                  "From: Carl <carl@example.org>\n")
    assert parsed.text.endswith("Subject: Original\n\nInner text")


def test_what_cannot_be_read_safely_is_refused_with_its_smtp_answer() -> None:
    huge = raw(mail(headers={"X-Junk": " ".join(["j"] * 50_000)}))
    with pytest.raises(MailRefused) as refused:
        parse_mail(huge, LIMITS)
    assert refused.value.reply.startswith("552 5.3.4 ") and refused.value.why == "header-too-large"
    boundaries = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n" + b"boundary=x\r\n" * 300
    with pytest.raises(MailRefused) as refused:
        parse_mail(boundaries, LIMITS)
    assert refused.value.code == 554 and refused.value.why == "too-complex"


def test_a_message_without_id_gets_one_from_its_bytes() -> None:
    data = b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    first, second = parse_mail(data, LIMITS), parse_mail(data, LIMITS)
    assert first.synthetic_id and first.message_id == second.message_id
    assert first.message_id.endswith("@" + SYNTHETIC_DOMAIN)
    assert parse_mail(data + b"!", LIMITS).message_id != first.message_id


# ----- the body shown -----------------------------------------------------------------------------


def test_the_body_lists_attachments_and_fits_the_limit() -> None:
    kept = [Listed("a.pdf", "application/pdf", 2048, "sha256:" + "0" * 64)]
    skipped = [Skipped("big.iso", "application/octet-stream", 9 * 1024 * 1024, "too-large")]
    body, truncated = message_body(text="Hello", automatic=None, kept=kept, skipped=skipped, parts_unread=2,
                                   limit=4000, attachment_limit=5 * 1024 * 1024, total_limit=1 << 30)
    assert not truncated
    assert body.splitlines() == [
        "Hello", "", f"[attachment] a.pdf (application/pdf, 2.0 KB) sha256:{'0' * 64}",
        "[attachment not kept] big.iso (application/octet-stream, 9.0 MB): larger than the 5.0 MB limit",
        "[2 MIME part(s) not read: nested too deeply or too many]"]
    long, truncated = message_body(text="word " * 5000, automatic=Automatic.AUTO_REPLY, kept=kept * 200,
                                   skipped=[], parts_unread=0, limit=4000, attachment_limit=1, total_limit=1)
    assert truncated and len(long) <= 4000 and long.startswith("[automatic reply]\nword")
    assert "[… message truncated]" in long and "[… more attachments]" in long
    empty, _ = message_body(text="\n\n", automatic=None, kept=[], skipped=[], parts_unread=0, limit=100,
                            attachment_limit=1, total_limit=1)
    assert empty == "(no text)"
