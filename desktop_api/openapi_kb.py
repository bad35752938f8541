"""The OpenAPI parts of the knowledge base (merged into ``desktop_api.openapi``'s document):
staff routes under /api/kb, the public pages under /kb and the chat widget's self-service."""

from __future__ import annotations

from cti.knowledge import MAX_BODY, MAX_MESSAGE_QUERY, MAX_QUERY, MAX_TAG, MAX_TAGS, MAX_TITLE, Outcome
from desktop_api.openapi_parts import S, Schema, operation

STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
EDITORS = "Supervisors and admins (agents get 403 wrong-role); audited."
READERS = "Agents, supervisors and admins: both parts."



def _op(summary: str, op_id: str, ok: Schema, errors: tuple[int, ...], *, description: str,
        params: list[Schema] | None = None, body: Schema | None = None, status: int = 200,
        tag: str = "knowledge", public: bool = False) -> Schema:
    return operation(summary, op_id, ok, errors, description=description, tag=tag, params=params, body=body,
                     status=status, public=public)

def _path(name: str, description: str = "") -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": STR, "description": description}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _html(summary: str, op_id: str, description: str, params: list[Schema] | None = None) -> Schema:
    return {"get": {"operationId": op_id, "summary": summary, "description": description, "tags": ["pages"],
                    "security": [], "parameters": list(params or []),
                    "responses": {"200": {"description": "an HTML page",
                                          "content": {"text/html": {"schema": STR}}},
                                  "400": {"description": "a search text too long (HTML)"},
                                  "404": {"description": "no such public article (HTML)"},
                                  "429": {"description": "too many requests from this client (HTML); "
                                                         "Retry-After says how many seconds to wait"}}}}


def kb_schemas() -> dict[str, Schema]:
    tags: Schema = {"type": "array", "maxItems": MAX_TAGS,
                    "items": {"type": "string", "maxLength": MAX_TAG, "pattern": "^[a-z0-9][a-z0-9_-]*$"}}
    text: Schema = {"title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE},
                    "public_body": {"type": "string", "maxLength": MAX_BODY,
                                    "description": "what customers read; empty: an internal-only article"},
                    "internal_body": {"type": "string", "maxLength": MAX_BODY,
                                      "description": "staff only, never on a customer path"},
                    "tags": tags}
    return {
        "KbArticleInput": {"type": "object", "additionalProperties": False, "required": ["title"],
                           "properties": text},
        "KbArticleEdit": {"type": "object", "additionalProperties": False,
                          "required": ["title", "base_version"],
                          "properties": {**text, "base_version": {
                              "type": "integer", "minimum": 1,
                              "description": "the version the edit started from (409 article-changed if "
                                             "another edit came first)"}}},
        "KbArticle": {"type": "object", "required": ["id", "title", "public_body", "internal_body", "tags",
                                                     "version"],
                      "properties": {"id": STR, **text, "version": INT, "created_at": NUM, "updated_at": NUM,
                                     "updated_by": STR, "helped": INT, "solved": INT,
                                     "rank": {**NUM, "description": "search answers: larger is better"}}},
        "KbArticles": {"type": "object", "required": ["articles"],
                       "properties": {"articles": {"type": "array", "items": {"$ref": f"{S}KbArticle"}}}},
        "KbVersion": {"type": "object", "required": ["article_id", "version", "title", "at", "by"],
                      "properties": {"article_id": STR, "version": INT, **text, "at": NUM, "by": STR,
                                     "restored_from": {"anyOf": [INT, {"type": "null"}]}}},
        "KbVersions": {"type": "object", "required": ["article_id", "versions"],
                       "properties": {"article_id": STR,
                                      "versions": {"type": "array", "items": {"$ref": f"{S}KbVersion"}}}},
        "KbPublicArticle": {"type": "object", "required": ["id", "title", "body", "tags", "url"],
                            "description": "the public part only",
                            "properties": {"id": STR, "title": STR, "body": STR, "tags": tags,
                                           "updated_at": NUM, "url": STR}},
        "KbCannedReply": {"type": "object", "required": ["id", "title", "text", "article"],
                          "properties": {"id": STR, "title": STR,
                                         "text": {**STR, "description": "the body, then the public part of "
                                                                        "the article it names"},
                                         "article": {"anyOf": [{"type": "null"}, {
                                             "type": "object", "properties": {"id": STR, "title": STR,
                                                                              "public_body": STR}}]}}},
    }


def kb_paths() -> dict[str, Schema]:
    article = _path("article_id")
    version = _path("version", "a version number")
    one: Schema = {"$ref": f"{S}KbArticle"}
    return {
        "/api/kb/articles": {
            "get": _op("List or search articles", "listKbArticles", {"$ref": f"{S}KbArticles"}, (400, 401),
                       description=f"{READERS} Without q: newest edited first. With q: every word must "
                                   "match (English stems), best first.",
                       params=[_query("q", {"type": "string", "maxLength": MAX_QUERY}, "search words"),
                               _query("tag", STR, "only articles with this tag"),
                               _query("limit", {"type": "integer", "minimum": 1, "maximum": 50},
                                      "default 20")]),
            "post": _op("Create an article", "createKbArticle", one, (400, 401, 403), status=201,
                        description=EDITORS, body={"$ref": f"{S}KbArticleInput"})},
        "/api/kb/articles/{article_id}": {
            "get": _op("An article, both parts", "getKbArticle", one, (400, 401, 404), description=READERS,
                       params=[article]),
            "put": _op("Edit an article: a new version", "editKbArticle", one, (400, 401, 403, 404, 409),
                       description=EDITORS, params=[article], body={"$ref": f"{S}KbArticleEdit"})},
        "/api/kb/articles/{article_id}/versions": {"get": _op(
            "An article's versions, newest first", "listKbVersions", {"$ref": f"{S}KbVersions"},
            (400, 401, 404),
            description=READERS, params=[article])},
        "/api/kb/articles/{article_id}/versions/{version}": {"get": _op(
            "One version of an article", "getKbVersion", {"$ref": f"{S}KbVersion"}, (400, 401, 404),
            description=READERS, params=[article, version])},
        "/api/kb/articles/{article_id}/versions/{version}/restore": {"post": _op(
            "Restore an older version (stored again as the newest)", "restoreKbVersion", one,
            (400, 401, 403, 404, 409), description=EDITORS, params=[article, version],
            body={"type": "object", "required": ["base_version"], "additionalProperties": False,
                  "properties": {"base_version": {"type": "integer", "minimum": 1}}})},
        "/api/kb/canned-replies": {"get": _op(
            "Canned replies with the text to insert", "listKbCannedReplies",
            {"type": "object", "properties": {"canned_replies": {"type": "array",
                                                                 "items": {"$ref": f"{S}KbCannedReply"}}}},
            (401,), description="Any staff role. A reply naming an article (`article` in the configuration) "
                                "brings that article's public part after its body.")},
        "/api/interactions/{interaction_id}/kb-suggestions": {"get": _op(
            "Articles for an interaction (both parts)", "getKbSuggestions",
            {"type": "object", "properties": {"interaction_id": STR,
                                              "articles": {"type": "array", "items": one}}},
            (400, 401, 403, 404), tag="interactions", params=[_path("interaction_id")],
            description="Whoever may see the interaction. Ranked by the words shared with its subject, "
                        "the customer's latest messages and its context.")},
        "/kb": _html("The public help centre", "kbIndex", "Public parts only, newest first; a search form."),
        "/kb/search": _html("Public search results", "kbSearch", "Public parts only; every word must match.",
                            [_query("q", {"type": "string", "maxLength": MAX_QUERY}, "search words")]),
        "/kb/articles/{article_id}": _html("A public article", "kbArticle",
                                           "404 for an unknown or internal-only article.", [article]),
        "/knowledge": _html("The knowledge editor page (supervisors, admins)", "knowledgeEditorPage",
                            "Logs in through /api/login; edits through /api/kb."),
        "/chat/chat_kb.js": {"get": {
            "operationId": "chatKbScript", "summary": "The chat widget's self-service module",
            "tags": ["pages"], "security": [], "responses": {"200": {"description": "a file of the pages",
                                                  "content": {"text/javascript": {"schema": STR}}}}}},
        "/chat/kb/suggest": {"get": _op(
            "Articles for a chat visitor's first message", "chatKbSuggest",
            {"type": "object", "properties": {"articles": {"type": "array",
                                                           "items": {"$ref": f"{S}KbPublicArticle"}}}},
            (400, 429), tag="pages", public=True,
            description="The chat widget asks before it queues the conversation. Public parts only. "
                        f"A message over {MAX_MESSAGE_QUERY} characters: 400 query-too-long. Every public "
                        "knowledge path shares one budget per client "
                        "(traffic.public_kb_requests_per_minute): past it, 429 too-many-requests with "
                        "Retry-After.",
            params=[_query("q", {"type": "string", "maxLength": MAX_MESSAGE_QUERY},
                           "the visitor's message")])},
        "/chat/kb/feedback": {"post": _op(
            "A chat visitor says which article helped", "chatKbFeedback",
            {"type": "object", "properties": {"article_id": STR, "outcome": STR}}, (400, 404, 429),
            tag="pages", public=True,
            description="`solved`: the chat ends as self-served (nothing is queued); `helped`: counted, "
                        "the visitor goes on to an agent. Counters on the article (docs/knowledge.md).",
            body={"type": "object", "additionalProperties": False, "required": ["article_id", "outcome"],
                  "properties": {"article_id": {"type": "string", "minLength": 1, "maxLength": 64,
                                                "pattern": "^[A-Za-z0-9_-]+$"},
                                 "outcome": {"enum": [o.value for o in Outcome]}}})},
    }
