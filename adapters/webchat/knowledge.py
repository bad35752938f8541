"""The chat widget's self-service: public articles suggested from the visitor's first message
before the conversation is queued, and the visitor's word on which one helped.

    GET  /chat/kb/suggest?q=<the first message>   {"articles": [public part, url]}
    POST /chat/kb/feedback {"article_id", "outcome": "helped" | "solved"}

The widget asks for suggestions before it sends the first message; nothing is queued until the
visitor asks for a person. "solved" ends the chat as self-served: no interaction is made, the
article's ``solved`` counter goes up. "helped" counts the article and the visitor goes on to an
agent. Only the public part is read here (``Audience.PUBLIC``); an internal-only article cannot
be suggested, and feedback naming one is "not found". See docs/knowledge.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cti.errors import InvalidInput
from cti.knowledge import MAX_MESSAGE_QUERY, SUGGESTIONS, Audience, KnowledgeBase, Outcome
from desktop_api.input import parse_json
from desktop_api.kb_limits import KB_LIMITS, PublicKbLimits, TooManyRequests, checked_query

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("static") / "chat_kb.js"
KNOWLEDGE = web.AppKey("chat_knowledge", KnowledgeBase)
MAX_FEEDBACK_BODY = 1024


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    article_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    outcome: Outcome = Field(strict=False)


def setup_chat_knowledge(app: web.Application, *, knowledge: KnowledgeBase, limits: PublicKbLimits) -> None:
    """The widget's knowledge paths; ``limits`` also guards the ``/kb`` pages (one budget for all)."""
    app[KNOWLEDGE] = knowledge
    app[KB_LIMITS] = limits
    app.router.add_get("/chat/chat_kb.js", script)
    app.router.add_get("/chat/kb/suggest", suggest)
    app.router.add_post("/chat/kb/feedback", feedback)


async def _limited(request: web.Request) -> web.Response | None:
    """None when the client is within its budget; the 429 answer (with Retry-After) otherwise."""
    try:
        await request.app[KB_LIMITS].check(request)
    except TooManyRequests as exc:
        return web.json_response(exc.to_dict(), status=exc.status,
                                 headers={"Retry-After": str(exc.retry_after)})
    return None


async def script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(SCRIPT, headers={"Content-Type": "text/javascript; charset=utf-8"})


async def suggest(request: web.Request) -> web.Response:
    refused = await _limited(request)
    if refused is not None:
        return refused
    text = checked_query(request.query.get("q", ""), MAX_MESSAGE_QUERY)
    hits = await request.app[KNOWLEDGE].search(text, audience=Audience.PUBLIC, any_word=True,
                                               limit=SUGGESTIONS)
    return web.json_response({"articles": [
        {**h.article.public_view(), "url": f"/kb/articles/{h.article.id}"} for h in hits]})


async def feedback(request: web.Request) -> web.Response:
    refused = await _limited(request)
    if refused is not None:
        return refused
    raw = await request.content.read(MAX_FEEDBACK_BODY + 1)
    if len(raw) > MAX_FEEDBACK_BODY:
        raise InvalidInput("body-too-large", "the body is too large", limit=MAX_FEEDBACK_BODY)
    try:
        said = Feedback.model_validate(parse_json(raw))
    except ValidationError as exc:
        raise InvalidInput("bad-feedback", "feedback is {article_id, outcome: helped | solved}") from exc
    article = await request.app[KNOWLEDGE].feedback(said.article_id, said.outcome)
    log.info("chat self-service article=%s outcome=%s", article.id, said.outcome.value)
    return web.json_response({"article_id": article.id, "outcome": said.outcome.value})
