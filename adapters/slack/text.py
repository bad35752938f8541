"""Slack's message text to plain text and back (pure).

Slack escapes ``&``, ``<`` and ``>`` in message text and writes links, mentions and dates as
``<target|label>``; the agent should read what the customer saw, and a reply must not be
read by Slack as a mention or a link the agent did not write.
"""

from __future__ import annotations

import re

# Slack escapes a literal "<", so a bare one is not an entity; entities never start with a space.
_ANGLED = re.compile(r"<([^<>\s][^<>\n]*)>")
TRUNCATED = "… [truncated]"


def plain_text(text: str) -> str:
    """``<https://x|docs> &amp; <@U1>`` → ``docs (https://x) & @U1``."""
    return _unescape(_ANGLED.sub(lambda m: _angled(m.group(1)), text))


def _angled(inner: str) -> str:
    target, _, label = inner.partition("|")
    if target.startswith(("@", "#")):  # <@U123>, <#C123|general>
        return target[0] + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^…|fallback>
        return label or "@" + target[1:].split("^", 1)[0]
    if not label or target in (label, f"mailto:{label}"):
        return label or target
    return f"{label} ({target})"


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def reply_text(agent_name: str, body: str) -> str:
    """An agent's reply as posted: their name in bold, then the text exactly as typed."""
    return f"*{escape(agent_name)}*: {escape(body)}"


def bounded(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying so (Slack allows far longer than our store)."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATED))] + TRUNCATED
