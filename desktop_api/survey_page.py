"""The survey page: a signed, single-use link's one question, served as plain HTML.

    GET  /survey/{token}    the question (a form: rating 1-5, optional comment), no script needed
    POST /survey/{token}    the answer: a form post gives a page, a JSON post (the chat widget)
                            gives JSON; 400 bad rating, 403 forged or expired link, 409 answered

The token (``cti.surveys``) is the only credential: it names one interaction, is signed with
the server's key, and expires; a second answer is refused because the interaction's log keeps one
survey entry. Every refusal is the same whatever the token names, so links cannot be probed.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from cti.errors import CtiError, Unavailable
from cti.survey_service import SurveyService
from cti.surveys import open_link
from desktop_api.common import json_body
from desktop_api.keys import SERVICES

routes = web.RouteTableDef()

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
          "fieldset{border:0;padding:0}label{margin-right:1rem}textarea{width:100%;min-height:5rem}"
          "button{margin-top:1rem;padding:.5rem 1.5rem}")
_TITLES = {"survey-already-answered": "Thank you — this survey has been answered already.",
           "survey-link-expired": "Sorry, this survey link has expired.",
           "survey-link-invalid": "Sorry, this survey link is not valid.",
           "survey-not-open": "This survey opens once your conversation is completed."}


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    html = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")
    return web.Response(text=html, content_type="text/html", status=status,
                        headers={"Cache-Control": "no-store"})


def _form(token: str, problem: str | None = None) -> str:
    choices = "".join(f"<label><input type=\"radio\" name=\"rating\" value=\"{n}\" required> {n}</label>"
                      for n in range(1, 6))
    warn = f"<p role=\"alert\"><strong>{escape(problem)}</strong></p>" if problem else ""
    return (f"<h1>How did we do?</h1>{warn}"
            f"<form method=\"post\" action=\"/survey/{escape(token, quote=True)}\">"
            f"<fieldset><legend>Rate the help you got, 1 (poor) to 5 (excellent)</legend>{choices}</fieldset>"
            f"<p><label for=\"comment\">Anything to add? (optional)</label>"
            f"<textarea id=\"comment\" name=\"comment\" maxlength=\"1000\"></textarea></p>"
            f"<button type=\"submit\">Send</button></form>")


def _surveys(request: web.Request) -> SurveyService:
    surveys = request.app[SERVICES].surveys
    if surveys is None:
        raise Unavailable("surveys-unavailable", "surveys are not running on this server")
    return surveys


def _refusal(exc: CtiError, token: str, *, wants_json: bool) -> web.Response:
    if wants_json:
        return web.json_response(exc.to_dict(), status=exc.status)
    if exc.error_id in _TITLES:
        return _page("Survey", f"<h1>{escape(_TITLES[exc.error_id])}</h1>", status=exc.status)
    return _page("Survey", _form(token, exc.message), status=exc.status)


@routes.get("/survey/{token}")
async def survey_form(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    surveys = _surveys(request)
    services = request.app[SERVICES]
    try:
        interaction_id = open_link(surveys.key, token, now=services.clock.now())
        if await surveys.answered(interaction_id):
            return _page("Survey", f"<h1>{escape(_TITLES['survey-already-answered'])}</h1>", status=409)
    except CtiError as exc:
        return _refusal(exc, token, wants_json=False)
    return _page("How did we do?", _form(token))


@routes.post("/survey/{token}")
async def survey_answer(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    wants_json = request.content_type == "application/json"
    surveys = _surveys(request)
    try:
        interaction_id = open_link(surveys.key, token, now=request.app[SERVICES].clock.now())
        data: Any = await json_body(request) if wants_json else dict(await request.post())
        entry = await surveys.answer(interaction_id, data.get("rating"), data.get("comment"),
                                     via="widget" if wants_json else "link")
    except CtiError as exc:
        return _refusal(exc, token, wants_json=wants_json)
    if wants_json:
        return web.json_response({"rating": entry.details["rating"], "comment": entry.details["comment"]})
    return _page("Thank you", "<h1>Thank you for your answer.</h1>")
