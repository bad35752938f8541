"""Text out of whatever bytes and headers a sender wrote (pure): never raises, never guesses twice.

Mail arrives in any charset, declared wrongly or not at all, with raw 8-bit headers and encoded
words naming charsets nobody has heard of. Each helper here turns such input into clean text:
the declared charset when it decodes, else UTF-8, else Windows-1252 with replacement characters.
"""

from __future__ import annotations

import contextlib
import email.header
import re
import unicodedata
from typing import Any

# Control characters other than tab and newline: a header must not carry a line break (header
# injection into our replies) and a body shown to an agent must not carry terminal escapes.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
# The 8-bit "charset" the email package gives raw bytes it could not attribute to one.
_UNKNOWN_8BIT = {"unknown-8bit", "x-unknown", "unknown"}


def decode_bytes(data: bytes, charset: str | None) -> str:
    """``data`` as text: the declared charset, else UTF-8, else Windows-1252 (replacing)."""
    declared = (charset or "").strip().strip('"').lower() or None
    if declared in _UNKNOWN_8BIT:
        declared = None
    for name in (declared, "utf-8"):
        if name is None:
            continue
        try:
            return data.decode(name)
        except Exception:  # LookupError, UnicodeError or whatever an odd codec raises
            continue
    for name in (declared, "cp1252"):
        if name is None:
            continue
        try:
            return data.decode(name, "replace")
        except Exception:  # some codecs refuse the "replace" handler (idna)
            continue
    return data.decode("latin-1")  # every byte maps: cannot fail


def unsurrogate(value: str) -> str:
    """A header the email package read as ASCII with surrogate escapes, as real text."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)


def raw_header(value: Any, *, limit: int = 100_000) -> str:
    """A header value as text with raw 8-bit bytes decoded but encoded words left as they are:
    what an address parser must see (an encoded word may hide a ``<`` or an ``@``)."""
    if value is None:
        return ""
    try:
        if isinstance(value, email.header.Header):
            return "".join(decode_bytes(chunk, cs) if isinstance(chunk, bytes) else chunk
                           for chunk, cs in email.header.decode_header(value))[:limit]
        return unsurrogate(str(value)[:limit])
    except Exception:  # whatever the header holds, some text comes out
        return unsurrogate(str(value)[:limit])


def decode_header(value: Any, *, limit: int = 1000) -> str:
    """A header value (str or ``email.header.Header``) with its encoded words decoded, on one line.

    Bounded to ``limit`` characters *before* decoding too, so a megabyte of encoded words costs
    nothing. Control characters are removed; runs of white space become one space.
    """
    text = raw_header(value, limit=limit * 4)
    if "=?" in text:
        # A malformed encoded word leaves the raw text, never a crash.
        with contextlib.suppress(Exception):
            text = "".join(_decoded_word(chunk, cs) for chunk, cs in email.header.decode_header(text))
    return one_line(text, limit=limit)


def _decoded_word(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset is None:
        # The text between encoded words, which the email package hands back as
        # raw-unicode-escape bytes.
        try:
            return chunk.decode("raw-unicode-escape")
        except UnicodeDecodeError:
            return decode_bytes(chunk, None)
    return decode_bytes(chunk, charset)


def one_line(text: str, *, limit: int) -> str:
    text = _CONTROL.sub(" ", text.replace("\r", " ").replace("\n", " "))
    return _SPACES.sub(" ", strip_format_chars(text)).strip()[:limit]


def strip_format_chars(text: str) -> str:
    """Without invisible format characters (right-to-left overrides and the like), which can
    make ``invoice\u202efdp.exe`` read as ``invoiceexe.pdf``."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def clean_body(text: str) -> str:
    """Body text with Unix line ends and no control characters but tab and newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)
