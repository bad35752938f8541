"""URLs as they may be printed or logged: passwords replaced by ``***``.

Written here rather than with SQLAlchemy's ``make_url`` because Redis URLs carry secrets in two
places (``redis://user:pw@host`` and ``?password=pw``) and must be shown the same way as the
database URL; one function for both keeps every start line and log consistent.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["safe_url"]

MASK = "***"
_SECRET_PARAMS = ("password", "passwd", "secret", "token", "key")


def safe_url(url: str) -> str:
    """``url`` without its password (in the user info or a query parameter); the rest unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    shown = url
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        if ":" in userinfo:
            masked = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
            shown = shown.replace(f"//{parts.netloc}", f"//{masked}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(_is_secret(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _is_secret(k) else v) for k, v in pairs], safe="*")
            head, _, tail = shown.partition("?")
            fragment = tail.partition("#")[2]
            shown = f"{head}?{query}" + (f"#{fragment}" if fragment else "")
    return shown


def _is_secret(name: str) -> bool:
    return any(s in name.lower() for s in _SECRET_PARAMS)
