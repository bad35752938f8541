"""Threading decisions and loop detection, on plain data."""

from __future__ import annotations

import pytest

from adapters.email.loops import AckLimiter, Automatic, classify, is_robot_address
from adapters.email.threads import (
    clean_subject,
    make_tag,
    message_id,
    message_ids,
    reply_subject,
    reply_threading,
    synthetic_id,
    tags_in,
    thread_refs,
)

OURS = frozenset({"support@acme.example"})


def test_message_ids_are_read_without_brackets_and_bounded() -> None:
    assert message_ids("<a@x> <b@x>\r\n <a@x>") == ["a@x", "b@x"]
    assert message_ids("bare@host") == ["bare@host"]
    assert message_ids("not an id at all") == []
    assert message_ids(None) == []
    assert message_ids(" ".join(f"<{n}@x>" for n in range(100)), limit=3) == ["97@x", "98@x", "99@x"]
    assert message_id("<" + "a" * 300 + "@x>") is None


def test_thread_refs_put_the_most_telling_first_and_leave_synthetic_ids_out() -> None:
    fake = synthetic_id(b"x")
    assert thread_refs(["p@x"], ["r1@x", "r2@x", "p@x"], ["b@x", fake]) == ("p@x", "r2@x", "r1@x", "b@x")


def test_tags_are_stable_short_and_found_in_subjects() -> None:
    tag = make_tag("abc@host")
    assert tag == make_tag("abc@host") != make_tag("abd@host")
    assert len(tag) == 8 and set(tag) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert tags_in(f"Re: Hello [#{tag}]") == [tag]
    assert tags_in("Re: [#AAAAAAAA] Fwd: [#BBBBBBBB]") == ["BBBBBBBB", "AAAAAAAA"]
    assert tags_in("[#abcdefgh] [#ABC] [#ABCDEFG1]") == []  # lower case, short, or not base32


@pytest.mark.parametrize(("subject", "clean"), [
    ("Re: RE: Fwd: AW: Order 42 [#ABCDEFGH]", "Order 42"),
    ("Re[2]: Sv: Invoice", "Invoice"),
    ("Reply about returns", "Reply about returns"),
    ("", "(no subject)"),
    ("   Re:   ", "(no subject)"),
])
def test_subjects_lose_prefixes_and_tags(subject: str, clean: str) -> None:
    assert clean_subject(subject) == clean


def test_reply_subjects_and_threading_headers() -> None:
    assert reply_subject("Re: Order 42 [#ABCDEFGH]", "ABCDEFGH") == "Re: Order 42 [#ABCDEFGH]"
    assert reply_subject(None, None) == "Re: (no subject)"
    fake = synthetic_id(b"x")
    assert reply_threading(["a@x", "ours@acme", "b@x"], "a@x") == ("a@x", ["ours@acme", "b@x", "a@x"])
    assert reply_threading(["a@x", fake], fake) == (None, ["a@x"])
    in_reply_to, refs = reply_threading([f"{n}@x" for n in range(50)], "49@x")
    assert in_reply_to == "49@x" and len(refs) == 20 and refs[0] == "0@x" and refs[-1] == "49@x"


def auto(headers: dict[str, str] | None = None, *, envelope: str | None = "ann@example.com",
         sender: str | None = "ann@example.com", ctype: str = "text/plain") -> Automatic | None:
    return classify(envelope_sender=envelope, from_addr=sender, headers=headers or {}, content_type=ctype,
                    own_addresses=OURS, loop_token="acme.example")


def test_mail_a_person_wrote_is_not_automatic() -> None:
    assert auto() is None
    assert auto({"auto-submitted": "no"}) is None
    assert auto({"precedence": "first-class"}) is None
    assert auto(envelope=None) is None  # unknown envelope (a polled mailbox without Return-Path)


@pytest.mark.parametrize(("kind", "headers", "envelope", "sender", "ctype"), [
    (Automatic.BOUNCE, {}, "", "ann@example.com", "text/plain"),
    (Automatic.BOUNCE, {}, "<>", "ann@example.com", "text/plain"),
    (Automatic.BOUNCE, {}, "x@y.z", "mailer-daemon@mx.example.com", "text/plain"),
    (Automatic.BOUNCE, {}, "x@y.z", "ann@example.com", "multipart/report"),
    (Automatic.BOUNCE, {"x-failed-recipients": "a@b.c"}, "x@y.z", "ann@example.com", "text/plain"),
    (Automatic.AUTO_REPLY, {"auto-submitted": "auto-replied"}, "x@y.z", "ann@example.com", "text/plain"),
    (Automatic.AUTO_REPLY, {"auto-submitted": "auto-generated; x=y"}, "x@y.z", "a@b.c", "text/plain"),
    (Automatic.AUTO_REPLY, {"x-autoreply": "yes"}, "x@y.z", "ann@example.com", "text/plain"),
    (Automatic.AUTO_REPLY, {}, "x@y.z", "no-reply@shop.example", "text/plain"),
    (Automatic.BULK, {"precedence": "bulk"}, "x@y.z", "ann@example.com", "text/plain"),
    (Automatic.BULK, {"precedence": "Junk"}, "x@y.z", "ann@example.com", "text/plain"),
    (Automatic.BULK, {"list-id": "<l.example>"}, "x@y.z", "ann@example.com", "text/plain"),
    (Automatic.LOOP, {}, "x@y.z", "support@acme.example", "text/plain"),
    (Automatic.LOOP, {"x-cti-loop": "acme.example"}, "x@y.z", "ann@example.com", "text/plain"),
])
def test_machine_mail_is_recognised(kind: Automatic, headers: dict[str, str], envelope: str, sender: str,
                                    ctype: str) -> None:
    assert auto(headers, envelope=envelope, sender=sender, ctype=ctype) is kind


def test_robot_addresses() -> None:
    assert is_robot_address("MAILER-DAEMON@x.org".lower())
    assert is_robot_address("noreply-billing@x.org") and is_robot_address("bounces+abc@x.org")
    assert not is_robot_address("ann@example.com") and not is_robot_address("norah@example.com")


def test_acknowledgements_to_one_address_are_limited_per_window() -> None:
    now = [0.0]
    limiter = AckLimiter(limit=2, window=100.0, max_addresses=2, now=lambda: now[0])
    assert limiter.allow("a@x") and limiter.allow("a@x") and not limiter.allow("a@x")
    assert limiter.allow("b@x")
    now[0] = 100.0
    assert limiter.allow("a@x")  # the window moved on
    limiter.allow("c@x")  # a third address: the least recently seen ("b@x") is forgotten
    assert limiter.allow("b@x") and limiter.allow("b@x") and not limiter.allow("b@x")
