"""Which characters text from outside may hold, checked once and the same way everywhere.

Three kinds of text cross our boundaries:

* **free text** (message and note bodies): any character except NUL, the other C0 and C1 control
  characters and lone surrogates; tab, line feed and carriage return are kept.
* **one line** (names, reason codes, dispositions, queue names, anything written into a log line
  or the audit log): no control character at all, line and paragraph separators included, so a
  value can never start a forged log line or move the cursor of the terminal that shows the log.
* **ids** (path parameters, ids in bodies): one line, not blank, printable (``str.isprintable``
  also refuses format characters such as bidi overrides), and bounded.

A lone surrogate (``"\\ud800"`` in JSON) is valid JSON but not Unicode: it cannot be encoded as
UTF-8, so it would fail later in the database driver or the log handler. NUL is refused by
PostgreSQL in text columns. Refusing both at the edge turns those late 500s into a 400.

Text that comes from a channel rather than a user of ours (the display name in an e-mail's
``From``, a Slack profile name) is cleaned with :func:`clean_line` instead of refused: the
customer's message must not be lost because their mail client wrote an odd name.
"""

from __future__ import annotations

import re

__all__ = ["MAX_ID", "bad_id", "clean_line", "has_bad_line_chars", "has_bad_text_chars"]

MAX_ID = 200  # ids we issue are ~30 characters; a config id, queue or agent name fits easily

# C0 except tab, LF, CR; DEL; C1; lone surrogates (any surrogate in a Python str is lone).
_BAD_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# All of C0, DEL, C1, surrogates, and the Unicode line and paragraph separators.
_BAD_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
_BAD_RUN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]+")


def has_bad_text_chars(value: str) -> bool:
    """True when free text holds a character it may not (see the module docstring)."""
    return _BAD_IN_TEXT.search(value) is not None


def has_bad_line_chars(value: str) -> bool:
    """True when a one-line value holds any control character or line break."""
    return _BAD_IN_LINE.search(value) is not None


def bad_id(value: str) -> str | None:
    """Why ``value`` is not an acceptable id (``bad-characters`` or ``bad-id``), or None."""
    if has_bad_line_chars(value) or not value.isprintable():
        return "bad-characters"
    if not value.strip() or len(value) > MAX_ID:
        return "bad-id"
    return None


def clean_line(value: str, *, max_len: int) -> str:
    """``value`` as one printable line: each run of control characters becomes one space, the
    ends are trimmed and the result cut to ``max_len`` characters."""
    return _BAD_RUN.sub(" ", value).strip()[:max_len].strip()


def clean_text(value: str) -> str:
    """Free text a channel brought in (an SMS, a post, a Slack message) without the characters
    free text may not hold. Removed rather than refused: the customer's message must not be lost,
    and PostgreSQL cannot store NUL at all."""
    return _BAD_IN_TEXT.sub("", value)
