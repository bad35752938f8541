"""REST: the knowledge base for staff (docs/knowledge.md).

    GET  /api/kb/articles?q=&tag=&limit=                  list or search (both parts)
    POST /api/kb/articles                                 create              supervisor, admin
    GET  /api/kb/articles/{article_id}
    PUT  /api/kb/articles/{article_id}                    edit: a new version supervisor, admin
    GET  /api/kb/articles/{article_id}/versions           history, newest first
    GET  /api/kb/articles/{article_id}/versions/{version}
    POST /api/kb/articles/{article_id}/versions/{version}/restore                 supervisor, admin
    GET  /api/kb/canned-replies                           canned replies with their article's text
    GET  /api/interactions/{interaction_id}/kb-suggestions  articles for an interaction

Every staff role reads both parts (knowledge is not scoped by team); edits are audited. Customers
never come here: their paths (``/kb`` pages, the chat widget) give the public part only.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cti.domain import MessageSender, Role
from cti.errors import InvalidInput, NotFound, Unavailable
from cti.knowledge import (
    MAX_BODY,
    MAX_QUERY,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    SUGGESTIONS,
    Article,
    ArticleText,
    Audience,
    KnowledgeBase,
    suggestion_text,
)
from cti.services import Services
from desktop_api.auth import Principal
from desktop_api.common import json_body, ok, principal, typed_query
from desktop_api.keys import SERVICES
from desktop_api.schemas import CleanText, Ident, Line
from desktop_api.scope import visible_interaction

routes = web.RouteTableDef()

STAFF = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
EDITORS = (Role.SUPERVISOR, Role.ADMIN)
MESSAGES_READ = 5  # the customer's latest messages a suggestion reads


class ArticleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    title: Annotated[Line, Field(min_length=1, max_length=MAX_TITLE)]
    public_body: Annotated[CleanText, Field(max_length=MAX_BODY)] = ""
    internal_body: Annotated[CleanText, Field(max_length=MAX_BODY)] = ""
    tags: Annotated[list[Annotated[str, Field(max_length=MAX_TAG)]], Field(max_length=MAX_TAGS)] = []

    def text(self) -> ArticleText:
        return ArticleText(title=self.title, public_body=self.public_body, internal_body=self.internal_body,
                           tags=tuple(self.tags))


class EditBody(ArticleBody):
    base_version: int = Field(ge=1)  # the version the editor started from


class RestoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    base_version: int = Field(ge=1)


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    q: Annotated[str, Field(max_length=MAX_QUERY)] = ""
    tag: Annotated[Ident, Field(max_length=MAX_TAG)] | None = None
    limit: int = Field(default=20, ge=1, le=50)


def knowledge_of(services: Services) -> KnowledgeBase:
    if services.knowledge is None:
        raise Unavailable("no-knowledge-base", "this server keeps no knowledge base")
    return services.knowledge


async def _typed(model: type[ArticleBody] | type[RestoreBody], request: web.Request) -> Any:
    try:
        return model.model_validate(await json_body(request))
    except ValidationError as exc:
        raise InvalidInput("bad-article", "the article is not valid",
                           problems=[f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                     for e in exc.errors(include_url=False, include_input=False)]) from exc


def _who(request: web.Request, *roles: Role) -> tuple[Principal, Services, KnowledgeBase]:
    who = principal(request)
    who.require(*roles)
    services = request.app[SERVICES]
    return who, services, knowledge_of(services)


async def _audit(services: Services, who: Principal, action: str, article: Article, **extra: Any) -> None:
    await services.context.audit(actor=who.agent_id, action=action, target=article.id,
                                 details={"version": article.version, "title": article.text.title, **extra})


def _version_of(request: web.Request) -> int:
    raw = request.match_info["version"]
    if not raw.isdigit() or len(raw) > 9:
        raise NotFound("version-not-found", "no such version of the article")
    return int(raw)


@routes.get("/api/kb/articles")
async def list_articles(request: web.Request) -> web.Response:
    _, _, kb = _who(request, *STAFF)
    query = typed_query(ListQuery, request)
    if query.q.strip():
        hits = await kb.search(query.q, audience=Audience.STAFF, tag=query.tag, limit=query.limit)
        return ok({"articles": [{**h.article.staff_view(), "rank": h.rank} for h in hits]})
    articles = await kb.latest(audience=Audience.STAFF, tag=query.tag, limit=query.limit)
    return ok({"articles": [a.staff_view() for a in articles]})


@routes.post("/api/kb/articles")
async def create_article(request: web.Request) -> web.Response:
    who, services, kb = _who(request, *EDITORS)
    body: ArticleBody = await _typed(ArticleBody, request)
    article = await kb.create(body.text(), by=who.agent_id)
    await _audit(services, who, "kb.create", article)
    return ok(article.staff_view(), status=201)


@routes.get("/api/kb/articles/{article_id}")
async def get_article(request: web.Request) -> web.Response:
    _, _, kb = _who(request, *STAFF)
    return ok((await kb.article(request.match_info["article_id"])).staff_view())


@routes.put("/api/kb/articles/{article_id}")
async def edit_article(request: web.Request) -> web.Response:
    who, services, kb = _who(request, *EDITORS)
    body: EditBody = await _typed(EditBody, request)
    article = await kb.update(request.match_info["article_id"], body.text(), by=who.agent_id,
                              base_version=body.base_version)
    await _audit(services, who, "kb.update", article)
    return ok(article.staff_view())


@routes.get("/api/kb/articles/{article_id}/versions")
async def list_versions(request: web.Request) -> web.Response:
    _, _, kb = _who(request, *STAFF)
    versions = await kb.versions(request.match_info["article_id"])
    return ok({"article_id": request.match_info["article_id"], "versions": [v.view() for v in versions]})


@routes.get("/api/kb/articles/{article_id}/versions/{version}")
async def get_version(request: web.Request) -> web.Response:
    _, _, kb = _who(request, *STAFF)
    return ok((await kb.version(request.match_info["article_id"], _version_of(request))).view())


@routes.post("/api/kb/articles/{article_id}/versions/{version}/restore")
async def restore_version(request: web.Request) -> web.Response:
    who, services, kb = _who(request, *EDITORS)
    body: RestoreBody = await _typed(RestoreBody, request)
    version = _version_of(request)
    article = await kb.restore(request.match_info["article_id"], version, by=who.agent_id,
                               base_version=body.base_version)
    await _audit(services, who, "kb.restore", article, restored_from=version)
    return ok(article.staff_view())


@routes.get("/api/kb/canned-replies")
async def canned_replies(request: web.Request) -> web.Response:
    """The configured canned replies, each with the text an agent inserts: its body, then the
    public part of the article it names (a reply goes to the customer: never the internal part)."""
    _, services, kb = _who(request, *STAFF)
    out: list[dict[str, Any]] = []
    for reply in services.config.canned_replies:
        article: dict[str, Any] | None = None
        text = reply.body
        if reply.article is not None:
            try:
                found = await kb.article(reply.article)
            except NotFound:
                found = None  # deleted since: the reply still has its own body
            if found is not None and found.is_public:
                article = {"id": found.id, "title": found.text.title, "public_body": found.text.public_body}
                text = f"{reply.body}\n\n{found.text.public_body}" if reply.body else found.text.public_body
        out.append({"id": reply.id, "title": reply.title, "text": text, "article": article})
    return ok({"canned_replies": out})


@routes.get("/api/interactions/{interaction_id}/kb-suggestions")
async def interaction_suggestions(request: web.Request) -> web.Response:
    """Articles (both parts) for what the interaction is about: its subject, the customer's
    latest messages and its collected context, ranked by the words they share."""
    services, _, interaction = await visible_interaction(request)
    kb = knowledge_of(services)
    messages = await services.context.messages(interaction.id, limit=50)
    said = [m.body for m in messages if m.sender is MessageSender.CUSTOMER][-MESSAGES_READ:]
    context = [v for v in interaction.context.values() if not v.startswith(("http://", "https://"))]
    text = suggestion_text([interaction.subject, *reversed(said), *context])
    hits = await kb.search(text, audience=Audience.STAFF, any_word=True, limit=SUGGESTIONS)
    return ok({"interaction_id": interaction.id,
               "articles": [{**h.article.staff_view(), "rank": h.rank} for h in hits]})
