"""Security headers on every response the server sends: pages, API answers, errors and files.

Set from ``on_response_prepare`` rather than a middleware: that hook also runs for responses no
handler made (the router's own 404 and 405, a static file), so nothing leaves without them.

* ``Content-Security-Policy``: scripts only from our own files (no inline script, no ``eval``),
  sockets and fetches only to our own origin (CSP 3 lets ``'self'`` match ``ws:``/``wss:`` on the
  same host), no plugins, no ``<base>``, and no framing. Styles keep ``'unsafe-inline'``: the pages
  carry ``<style>`` blocks; page text is always inserted as text, never as HTML, so no one can
  inject a style. The chat page /chat may be framed by the sites in
  ``traffic.chat_frame_ancestors`` (default none).
* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (tokens never ride in a
  URL that a referrer could leak, but pages link out to nothing that needs to know where from),
  ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors`` (left out on /chat when sites
  may embed it: the old header cannot name them).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

__all__ = ["CHAT_PAGE", "content_security_policy", "install_security_headers"]

CHAT_PAGE = "/chat"


def content_security_policy(frame_ancestors: Sequence[str] = ("'none'",)) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {' '.join(frame_ancestors)}",
    ])


def install_security_headers(app: web.Application, *, chat_frame_ancestors: Sequence[str]) -> None:
    default_csp = content_security_policy()
    chat_framable = tuple(chat_frame_ancestors) != ("'none'",)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        chat = request.path == CHAT_PAGE
        csp = content_security_policy(chat_frame_ancestors) if chat else default_csp
        headers = response.headers
        # setdefault: a handler that chose a stricter value (an attachment download) keeps it.
        headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if not (chat and chat_framable):
            headers.setdefault("X-Frame-Options", "DENY")

    app.on_response_prepare.append(add_headers)
