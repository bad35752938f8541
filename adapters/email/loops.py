"""Mail written by a machine, and the addresses we must never answer automatically (pure).

Two auto-responders answering each other never stop. RFC 3834 says how automatic mail marks
itself (``Auto-Submitted``), bounces come from the null sender or ``MAILER-DAEMON``, and lists
and bulk senders mark themselves with ``Precedence`` or ``List-Id``. Such a message is never
acknowledged; whether it is stored is the adapter's policy (see ``docs/channels/email.md``).
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Mapping

# Local parts that belong to software, not to a person who expects an answer.
_ROBOT_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply",
                                "do-not-reply", "bounce", "bounces", "listserv", "majordomo"})

# Headers ``classify`` reads, lower-cased: the parser keeps just these.
LOOP_HEADERS = ("auto-submitted", "precedence", "x-autoreply", "x-autorespond", "x-auto-response-suppress",
                "list-id", "list-unsubscribe", "x-loop", "x-cti-loop", "return-path", "x-failed-recipients")


class Automatic(enum.StrEnum):
    BOUNCE = "bounce"  # a delivery status notification
    AUTO_REPLY = "auto-reply"  # vacation, out of office, "we received your mail"
    BULK = "bulk"  # newsletters, lists, mass mail
    LOOP = "loop"  # our own mail came back to us


def classify(*, envelope_sender: str | None, from_addr: str | None, headers: Mapping[str, str],
             content_type: str, own_addresses: Collection[str], loop_token: str) -> Automatic | None:
    """Why this message is automatic, or None for mail a person wrote.

    ``envelope_sender`` is the SMTP ``MAIL FROM`` ("" for the null sender) or, for a polled
    mailbox, the ``Return-Path``; None when unknown.
    """
    if headers.get("x-cti-loop", "").strip() == loop_token:
        return Automatic.LOOP
    if from_addr is not None and from_addr in own_addresses:
        return Automatic.LOOP
    if envelope_sender is not None and envelope_sender.strip().strip("<>").strip() == "":
        return Automatic.BOUNCE
    if content_type == "multipart/report" or "x-failed-recipients" in headers:
        return Automatic.BOUNCE
    if from_addr is not None and from_addr.split("@", 1)[0] in {"mailer-daemon", "postmaster"}:
        return Automatic.BOUNCE
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto.split(";", 1)[0].strip() != "no":
        return Automatic.AUTO_REPLY
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return Automatic.AUTO_REPLY
    if headers.get("precedence", "").strip().lower() in {"bulk", "junk", "list", "auto_reply"}:
        return Automatic.BULK
    if "list-id" in headers or "list-unsubscribe" in headers:
        return Automatic.BULK
    if from_addr is not None and is_robot_address(from_addr):
        return Automatic.AUTO_REPLY
    return None


def is_robot_address(address: str) -> bool:
    local = address.split("@", 1)[0].lower()
    return local in _ROBOT_LOCAL_PARTS or local.startswith(("noreply", "no-reply", "bounce+", "bounces+"))


class AckLimiter:
    """At most ``limit`` acknowledgements to one address per ``window`` seconds.

    The last line of defence against a loop with a responder that marks nothing: each of its
    mails would start a new thread, and each new thread is acknowledged once. Bounded memory:
    the least recently seen addresses are forgotten first.
    """

    def __init__(self, *, limit: int, window: float = 3600.0, max_addresses: int = 10_000,
                 now: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._max = max_addresses
        self._now = now
        self._sent: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, address: str) -> bool:
        now = self._now()
        times = self._sent.pop(address, None) or deque()
        while times and now - times[0] >= self._window:
            times.popleft()
        allowed = len(times) < self._limit
        if allowed:
            times.append(now)
        self._sent[address] = times
        while len(self._sent) > self._max:
            self._sent.popitem(last=False)
        return allowed
