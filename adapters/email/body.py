"""The message text an agent is shown for one mail (pure).

The new part of the mail (quoted history trimmed), then a list of its attachments, one line
each with name, type, size and stored reference, and those not kept with the reason. The list
lives in the message itself so the agent sees it live, in the history and in the screen pop,
next to the words it belongs with. Everything fits the server's message size: the text is cut,
never the list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.email.loops import Automatic
from adapters.email.mime import Skipped

NO_TEXT = "(no text)"
_AUTOMATIC_LABEL = {
    Automatic.BOUNCE: "[delivery failure report]",
    Automatic.AUTO_REPLY: "[automatic reply]",
    Automatic.BULK: "[bulk mail]",
    Automatic.LOOP: "[our own mail, returned]",
}
_SKIPPED_WHY = {
    "too-many": "too many attachments",
    "too-large": "larger than the {limit} limit",
    "over-total": "the message's attachments exceed the {total} limit",
}


@dataclass(frozen=True, slots=True)
class Listed:
    """An attachment as listed under the text: ``ref`` None when files are not kept."""

    filename: str
    content_type: str
    size: int
    ref: str | None


# How ``message_body`` lists a kept file, read back to serve it: name, type, size, reference.
LISTED_LINE = re.compile(
    r"^\[attachment\] (?P<filename>.+) \((?P<type>[^,()]+), [^()]+\) (?P<ref>sha256:[0-9a-f]{64})$",
    re.MULTILINE)


def listed_attachment(ref: str, bodies: Sequence[str]) -> tuple[str, str] | None:
    """``(filename, content type)`` of ``ref`` as listed in one of ``bodies``, or None."""
    for body in bodies:
        for found in LISTED_LINE.finditer(body):
            if found["ref"] == ref:
                return found["filename"], found["type"]
    return None


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def message_body(*, text: str, automatic: Automatic | None, kept: Sequence[Listed],
                 skipped: Sequence[Skipped], parts_unread: int, limit: int,
                 attachment_limit: int, total_limit: int) -> tuple[str, bool]:
    """``(body, truncated)``: at most ``limit`` characters, never empty."""
    footer: list[str] = []
    for item in kept:
        where = f" {item.ref}" if item.ref else ""
        footer.append(f"[attachment] {item.filename} ({item.content_type}, {human_size(item.size)}){where}")
    for refused in skipped:
        why = _SKIPPED_WHY.get(refused.why, refused.why).format(limit=human_size(attachment_limit),
                                                                total=human_size(total_limit))
        footer.append(f"[attachment not kept] {refused.filename} ({refused.content_type}, "
                      f"{human_size(refused.size)}): {why}")
    if parts_unread:
        footer.append(f"[{parts_unread} MIME part(s) not read: nested too deeply or too many]")
    head = _AUTOMATIC_LABEL[automatic] + "\n" if automatic else ""
    tail = "\n\n" + "\n".join(footer) if footer else ""
    # A list longer than the whole message budget keeps its first lines.
    if len(head) + len(tail) > limit // 2:
        tail = tail[: limit // 2 - len(head)].rsplit("\n", 1)[0] + "\n[… more attachments]"
    text = text.strip("\n") or NO_TEXT
    room = limit - len(head) - len(tail)
    truncated = len(text) > room
    if truncated:
        marker = "\n[… message truncated]"
        text = text[: max(0, room - len(marker))].rstrip() + marker
    return head + text + tail, truncated
