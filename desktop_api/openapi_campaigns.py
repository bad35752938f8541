"""The OpenAPI parts of campaign notices and surveys (merged into ``desktop_api.openapi``'s document)."""

from __future__ import annotations

from cti.domain import Channel
from desktop_api.openapi_parts import E, S, Schema, operation

STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
MOMENT: Schema = {"anyOf": [NUM, {"type": "string", "format": "date-time"}],
                  "description": "seconds since the epoch, or ISO 8601 (UTC without an offset)"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _op(summary: str, op_id: str, *, tag: str, ok: tuple[int, Schema], errors: tuple[int, ...],
        description: str, params: list[Schema] | None = None, body: Schema | None = None,
        public: bool = False) -> Schema:
    status, schema = ok
    return operation(summary, op_id, schema, errors, description=description, tag=tag, params=params,
                     body=body, status=status, public=public)

def campaign_schemas() -> dict[str, Schema]:
    campaign_props: Schema = {
        "id": STR, "slug": STR, "name": STR, "tag": STR, "starts_at": NUM, "ends_at": NUM, "notice_at": NUM,
        "channels": {"type": "array", "items": {"enum": [c.value for c in Channel]}}, "summary": STR,
        "public_faq": STR, "internal_notes": STR, "keywords": {"type": "array", "items": STR},
        "article_id": _nullable(STR)}
    return {
        "CampaignIn": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "starts_at", "ends_at", "summary", "keywords"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "starts_at": MOMENT, "ends_at": MOMENT,
                "notice_at": {**MOMENT, "description": "when agents see it; default 24 h before the start"},
                "channels": {"type": "array", "items": {"enum": [c.value for c in Channel]},
                             "description": "where its keywords are matched; empty: every channel"},
                "summary": {"type": "string", "minLength": 1, "maxLength": 2000},
                "public_faq": {"type": "string", "maxLength": 20000,
                               "description": "published as a knowledge article"},
                "internal_notes": {"type": "string", "maxLength": 20000},
                "keywords": {"type": "array", "minItems": 1, "maxItems": 50,
                             "items": {"type": "string", "minLength": 2, "maxLength": 100}}}},
        "Campaign": {"type": "object", "required": list(campaign_props), "properties": campaign_props},
        "CampaignNotice": {"type": "object", "properties": {**campaign_props,
                                                            "acknowledged_at": _nullable(NUM)}},
        "CampaignReaders": {"type": "object", "required": ["campaign", "acknowledged", "not_acknowledged"],
                            "properties": {"campaign": {"$ref": f"{S}Campaign"},
                                           "acknowledged": {"type": "object", "additionalProperties": NUM},
                                           "not_acknowledged": {"type": "array", "items": STR}}},
        "SurveyAnswer": {"type": "object", "additionalProperties": False, "required": ["rating"],
                         "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5},
                                        "comment": _nullable({"type": "string", "maxLength": 1000})}},
    }


def campaign_paths() -> dict[str, Schema]:
    campaign_id = {"name": "campaign_id", "in": "path", "required": True, "schema": STR}
    token = {"name": "token", "in": "path", "required": True, "schema": STR,
             "description": "the signed, single-use survey token (docs/campaigns.md)"}
    html = {"description": "an HTML page", "content": {"text/html": {"schema": STR}}}
    # A form post is answered with a page, a JSON post with JSON (the error or the answer).
    either = {"description": "an HTML page (form post) or the error as JSON (JSON post)",
              "content": {"text/html": {"schema": STR},
                          "application/json": {"schema": {"$ref": f"{S}Error"}}}}
    return {
        "/api/campaigns": {
            "post": _op("Enter a campaign (audited; its public FAQ becomes a knowledge article)",
                        "createCampaign", tag="campaigns", ok=(201, {"$ref": f"{S}Campaign"}),
                        errors=(400, 401, 403, 409, 503), description="Supervisors and admins.",
                        body={"$ref": f"{S}CampaignIn"}),
            "get": _op("Every campaign, newest end first", "listCampaigns", tag="campaigns",
                       ok=(200, {"type": "object", "properties": {
                           "campaigns": {"type": "array", "items": {"$ref": f"{S}Campaign"}}}}),
                       errors=(401, 403, 503), description="Supervisors and admins.")},
        "/api/campaigns/notices": {"get": _op(
            "The caller's campaign notices (from each one's notice time to its end)", "campaignNotices",
            tag="campaigns", ok=(200, {"type": "object", "properties": {
                "notices": {"type": "array", "items": {"$ref": f"{S}CampaignNotice"}}}}),
            errors=(401, 503), description="Anyone logged in; staff see the internal notes.")},
        "/api/campaigns/{campaign_id}/acknowledge": {"post": _op(
            "The caller has read the notice (the first time is kept)", "acknowledgeCampaign",
            tag="campaigns", ok=(200, {"type": "object", "properties": {
                "campaign_id": STR, "agent_id": STR, "acknowledged_at": NUM}}),
            errors=(400, 401, 404, 409, 503), params=[campaign_id],
            description="409 campaign-not-noticed before its notice time.")},
        "/api/campaigns/{campaign_id}/readers": {"get": _op(
            "Who has and has not acknowledged a campaign", "campaignReaders", tag="campaigns",
            ok=(200, {"$ref": f"{S}CampaignReaders"}), errors=(400, 401, 403, 404, 503),
            params=[campaign_id],
            description="A supervisor sees their teams' agents, an admin every agent.")},
        "/survey/{token}": {
            "get": {"operationId": "surveyPage", "summary": "The survey question (a form; no script needed)",
                    "tags": ["surveys"], "security": [], "parameters": [token],
                    "responses": {"200": html, "400": {"$ref": f"{E}400"}, "403": html, "409": html}},
            "post": {"operationId": "answerSurvey", "tags": ["surveys"], "security": [],
                     "parameters": [token],
                     "summary": "Answer the survey: a form post gives a page, a JSON post JSON",
                     "description": "400 bad-rating (not a whole number 1-5), 403 survey-link-invalid or "
                                    "survey-link-expired, 409 survey-already-answered or survey-not-open.",
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": {"$ref": f"{S}SurveyAnswer"}},
                         "application/x-www-form-urlencoded": {"schema": {"$ref": f"{S}SurveyAnswer"}}}},
                     "responses": {"200": {"description": "recorded", "content": {
                         "application/json": {"schema": {"$ref": f"{S}SurveyAnswer"}},
                         "text/html": {"schema": STR}}},
                         **{str(s): either for s in (400, 403, 409)}}}},
        "/chat/survey.js": {"get": {
            "operationId": "chatSurveyScript", "summary": "The chat widget's inline survey (a module)",
            "tags": ["pages"], "security": [],
            "responses": {"200": {"description": "a file of the pages",
                                  "content": {"text/javascript": {"schema": STR}}}}}},
    }
