"""The public knowledge pages: ``/kb``, ``/kb/search?q=`` and ``/kb/articles/{id}``.

Plain HTML made on the server, no script: customers read them with anything, and the strict
Content-Security-Policy has nothing to allow. Only an article's public part is read here
(``Audience.PUBLIC``): an article without one is "not found", and every text is escaped.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import quote

from aiohttp import web

from cti.errors import InvalidInput, NotFound
from cti.knowledge import MAX_QUERY, Article, Audience, KnowledgeBase
from desktop_api.kb_limits import KB_LIMITS, MAX_ARTICLE_ID, TooManyRequests, checked_query
from desktop_api.keys import SERVICES

routes = web.RouteTableDef()

INDEX_SHOWN = 50
RESULTS_SHOWN = 20
EXCERPT = 240

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#1d2430}
header a{color:inherit;text-decoration:none}form{display:flex;gap:.5rem;margin:1rem 0}
input[type=search]{flex:1;font:inherit;padding:.4rem .6rem}button{font:inherit;padding:.4rem .9rem}
li{margin:.8rem 0}.excerpt{color:#4a5566;margin:.2rem 0}.tags{color:#4a5566;font-size:.9rem}
.body{white-space:pre-wrap}
"""


def article_url(article_id: str) -> str:
    return f"/kb/articles/{quote(article_id, safe='')}"


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def _layout(title: str, main: str, *, query: str = "") -> str:
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)} · Help</title><style>{_STYLE}</style></head><body>"
            "<header><a href=\"/kb\"><strong>Help centre</strong></a></header>"
            "<form action=\"/kb/search\" method=\"get\" role=\"search\">"
            "<label for=\"q\" hidden>Search the help centre</label>"
            f"<input type=\"search\" id=\"q\" name=\"q\" value=\"{escape(query)}\" maxlength=\"{MAX_QUERY}\""
            " placeholder=\"Search the help centre\"><button type=\"submit\">Search</button></form>"
            f"<main>{main}</main></body></html>")


def _list(articles: list[Article]) -> str:
    items = "".join(
        f"<li><a href=\"{escape(article_url(a.id))}\">{escape(a.text.title)}</a>"
        f"<p class=\"excerpt\">{escape(_excerpt(a.text.public_body))}</p></li>" for a in articles)
    return f"<ul class=\"articles\">{items}</ul>"


def index_page(articles: list[Article]) -> str:
    return _layout("Help centre", "<h1>Help centre</h1>" + (_list(articles) if articles else
                                                              "<p>No articles yet.</p>"))


def results_page(query: str, articles: list[Article]) -> str:
    heading = f"<h1>Results for “{escape(query)}”</h1>" if query else "<h1>Search</h1>"
    found = _list(articles) if articles else "<p>No article matches. Try other words.</p>"
    return _layout(f"Search: {query}" if query else "Search", heading + found, query=query)


def article_page(article: Article) -> str:
    tags = " · ".join(escape(t) for t in article.text.tags)
    return _layout(article.text.title,
                   f"<article><h1>{escape(article.text.title)}</h1>"
                   f"<div class=\"body\">{escape(article.text.public_body)}</div>"
                   + (f"<p class=\"tags\">{tags}</p>" if tags else "") + "</article>")


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _kb(request: web.Request) -> KnowledgeBase:
    knowledge = request.app[SERVICES].knowledge
    if knowledge is None:
        raise web.HTTPNotFound()
    return knowledge


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _public(handler: Handler) -> Handler:
    """The client's request budget first (``desktop_api.kb_limits``); its refusals and bad input
    answered as pages, since people read these paths in a browser."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.Response:
        try:
            await request.app[KB_LIMITS].check(request)
            return await handler(request)
        except TooManyRequests as exc:
            page = _layout("Too many requests", "<h1>Too many requests</h1><p>" + escape(exc.message)
                           + f". Please wait {exc.retry_after} seconds.</p>")
            response = _html(page, status=exc.status)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except InvalidInput as exc:
            return _html(_layout("Bad request", f"<h1>Bad request</h1><p>{escape(exc.message)}.</p>"),
                         status=exc.status)

    return guarded


@routes.get("/kb")
@_public
async def kb_index(request: web.Request) -> web.Response:
    return _html(index_page(await _kb(request).latest(audience=Audience.PUBLIC, limit=INDEX_SHOWN)))


@routes.get("/kb/search")
@_public
async def kb_search(request: web.Request) -> web.Response:
    query = checked_query(request.query.get("q", ""), MAX_QUERY)
    hits = await _kb(request).search(query, audience=Audience.PUBLIC, limit=RESULTS_SHOWN)
    return _html(results_page(query, [h.article for h in hits]))


@routes.get("/kb/articles/{article_id}")
@_public
async def kb_article(request: web.Request) -> web.Response:
    article_id = request.match_info["article_id"]
    try:
        if len(article_id) > MAX_ARTICLE_ID:  # no id is this long: not worth a read
            raise NotFound("article-not-found", "no such article")
        article = await _kb(request).article(article_id)
    except NotFound:
        article = None
    if article is None or not article.is_public:
        # The same page for "no such article" and "internal only": staff-only ids are not probeable.
        return _html(_layout("Not found", "<h1>Not found</h1><p>There is no such article.</p>"), status=404)
    return _html(article_page(article))
