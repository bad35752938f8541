"""Quoted history trimmed from a reply (pure).

A reply usually carries the whole thread below it. The earlier messages are already on the
interaction, so the agent is shown only what is new: everything from an attribution line
("On … wrote:", "-----Original Message-----", an Outlook "From:/Sent:" block) down, and a
trailing block of ``>`` lines. Interleaved quotes (an answer under each quoted question) stay:
there the quotes are what gives the answers their meaning. A forward is never trimmed, and
neither is a message that would be left empty.
"""

from __future__ import annotations

import re

# "On <date>, <name> wrote:" in the languages customers most often write in.
_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"On\s.+\swrote\s*:"
    r"|Le\s.+\sa\s+[ée]crit\s*:"
    r"|Am\s.+\sschrieb\s.*:"
    r"|El\s.+\sescribi[óo]\s*:"
    r"|Op\s.+\sschreef\s.*:"
    r"|Il\s.+\sha\s+scritto\s*:"
    r"|Em\s.+\sescreveu\s*:"
    r"|Den\s.+\sskrev\s.*:"
    r")\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^\s*(On|Le|Am|El|Op|Il|Em|Den)\s", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(Original Message|Urspr[üu]ngliche Nachricht|Message d'origine|"
                       r"Mensaje original|Messaggio originale)\s*-{2,}\s*$", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\s*\*?(From|Von|De|Da)\s*:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(Sent|Date|To|Subject|Gesendet|Datum|An|Betreff|Envoy[ée]|Objet|"
                          r"[ÀA]|Enviado|Para|Asunto|Inviato|Oggetto)\s*:", re.IGNORECASE)
_FORWARD = re.compile(r"^\s*-{2,}\s*(Forwarded message|Weitergeleitete Nachricht|Message transf[ée]r[ée]|"
                      r"Mensaje reenviado)\s*-{2,}", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*_{10,}\s*$")


def trim_quoted(text: str) -> tuple[str, bool]:
    """``(shown, trimmed)``: the new part of a reply, and whether anything was cut."""
    lines = text.split("\n")
    if any(_FORWARD.match(line) for line in lines):
        return text.strip("\n"), False  # what follows is what the customer wants us to read
    cut = _history_start(lines)
    kept = lines[:cut] if cut is not None else list(lines)
    # A trailing quote block (bottom-posting without an attribution line).
    end = len(kept)
    while end and (not kept[end - 1].strip() or kept[end - 1].lstrip().startswith(">")):
        end -= 1
    if end < len(kept) and any(line.lstrip().startswith(">") for line in kept[end:]):
        kept = kept[:end]
    shown = "\n".join(kept).rstrip()
    if not shown.strip():
        return text.strip("\n"), False
    return shown, shown != text.rstrip()


def _history_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _ATTRIBUTION.match(line) or _ORIGINAL.match(line):
            return i
        # Clients wrap a long attribution over two lines.
        if (_ATTRIBUTION_START.match(line) and i + 1 < len(lines)
                and _ATTRIBUTION.match(f"{line} {lines[i + 1].strip()}")):
            return i
        if _HEADER_FROM.match(line) and _header_block(lines, i):
            start = i - 1 if i and _SEPARATOR.match(lines[i - 1]) else i
            return start
    return None


def _header_block(lines: list[str], i: int) -> bool:
    """An Outlook-style quoted header: ``From:`` followed at once by two more header lines."""
    following = [line for line in lines[i + 1:i + 6] if line.strip()][:3]
    return sum(1 for line in following if _HEADER_NEXT.match(line)) >= 2
