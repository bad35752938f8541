"""POSIX extended regular expressions as Asterisk's AMI event filters use them (regcomp/regexec).

On Linux the C library's own regcomp() is used, so the test sees exactly what Asterisk sees
(``REG_EXTENDED | REG_NOSUB``, matched against the whole event text). Elsewhere a translation to
Python's ``re`` covers the constructs the filters in manager.conf use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import sys
from collections.abc import Callable

REG_EXTENDED = 1  # glibc and musl values
REG_NOSUB = 8


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


LIBC = _libc()


def compile_posix(pattern: str) -> Callable[[str], bool]:
    """A matcher for ``pattern``; raises ValueError if the pattern does not compile."""
    if LIBC is not None:
        regex_t = ctypes.create_string_buffer(1024)  # larger than any libc's regex_t
        rc = LIBC.regcomp(regex_t, pattern.encode(), REG_EXTENDED | REG_NOSUB)
        if rc != 0:
            raise ValueError(f"regcomp({pattern!r}) failed: {rc}")

        def posix_search(text: str) -> bool:
            return bool(LIBC.regexec(regex_t, text.encode(), 0, None, 0) == 0)

        posix_search.regex_t = regex_t  # type: ignore[attr-defined]  # keep the buffer alive
        return posix_search

    translated = pattern.replace("[[:space:]]", r"\s")
    compiled = re.compile(translated, re.S)  # POSIX "." matches newlines too
    return lambda text: compiled.search(text) is not None
