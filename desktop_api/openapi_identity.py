"""The OpenAPI part for claimed identities and merge suggestions (``desktop_api.rest_identity``),
kept beside the main document so each stays readable; ``desktop_api.openapi`` merges both."""

from __future__ import annotations

from desktop_api.openapi import (
    EPOCH,
    IDENTITY_KINDS,
    STR,
    Schema,
    _nullable,
    _obj,
    _op,
    _path_param,
    _ref,
)

LEVELS = ["verified", "asserted", "claimed"]


def identity_schemas() -> dict[str, Schema]:
    presented = {
        "id": STR,
        "kind": {"type": "string", "enum": IDENTITY_KINDS},
        "value": STR,
        "level": {"type": "string", "enum": LEVELS,
                  "description": "verified (signed, or a one-time code came back), asserted (caller ID, "
                                 "SMS sender, e-mail sender), claimed (typed by the customer)"},
        "source": {"type": "string", "description": "what established it: caller-id, dmarc-fail, chat-form…"},
        "at": EPOCH,
    }
    return {
        "PresentedIdentity": _obj(presented, required=list(presented)),
        "Claim": _obj({
            **presented,
            "display_name": _nullable(STR),
            "status": {"type": "string", "enum": ["not-verified", "verified", "linked"]},
            "outcome_by": _nullable(STR),
            "text": {"type": "string", "description": 'e.g. "claims to be Ann Lee (e-mail) — not verified"'},
        }, required=[*presented, "display_name", "status", "outcome_by", "text"]),
        "MergeSuggestion": _obj({
            "id": STR,
            "customer_ids": {"type": "array", "items": STR, "minItems": 2, "maxItems": 2},
            "identity": _ref("Identity"),
            "reason": STR,
            "at": EPOCH,
            "status": {"type": "string", "enum": ["open", "confirmed", "dismissed"]},
            "decided_by": _nullable(STR),
            "decided_at": _nullable(EPOCH),
            "decided_reason": _nullable(STR),
        }, required=["id", "customer_ids", "identity", "reason", "at", "status", "decided_by",
                     "decided_at", "decided_reason"]),
        "ReasonRequest": _obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
                              required=["reason"]),
        "CodeRequest": _obj({"code": {"type": "string", "maxLength": 20}}, required=["code"]),
        "CodeSent": _obj({"sent": {"type": "boolean"}, "claim_id": STR}, required=["sent", "claim_id"]),
        "CustomerResult": _obj({"customer": _ref("Customer")}, required=["customer"]),
        "SuggestionDecision": _obj({
            "suggestion_id": STR,
            "status": {"type": "string", "enum": ["confirmed", "dismissed"]},
            "customer": _nullable(_ref("Customer")),
        }, required=["suggestion_id", "status", "customer"]),
    }


def identity_paths(interaction_id: Schema, customer_id: Schema) -> dict[str, Schema]:
    claim_id = _path_param("claim_id", "the claim's id (from the screen pop's claims)")
    suggestion_id = _path_param("suggestion_id", "the suggestion id")
    who = "The agent working on the interaction, or a supervisor or admin."
    return {
        "/api/interactions/{interaction_id}/claims": {"get": _op(
            "The identities the customer claimed on this interaction", tag="customers",
            params=[interaction_id], errors=(401, 403, 404),
            ok=(200, {"type": "array", "items": _ref("Claim")}, "the claims"), description=who,
            op_id="listClaims")},
        "/api/interactions/{interaction_id}/claims/{claim_id}/send-code": {"post": _op(
            "Send a one-time code to the claimed address or number", tag="customers",
            params=[interaction_id, claim_id], errors=(401, 403, 404, 409, 503),
            ok=(200, _ref("CodeSent"), "the code is on its way"),
            description=f"{who} By e-mail or SMS through the configured channel; a few per hour.",
            op_id="sendClaimCode")},
        "/api/interactions/{interaction_id}/claims/{claim_id}/verify": {"post": _op(
            "The code the customer read back: the claim becomes verified", tag="customers",
            params=[interaction_id, claim_id], body=_ref("CodeRequest"),
            errors=(400, 401, 403, 404, 409, 413),
            ok=(200, _ref("CustomerResult"), "the customer the interaction now belongs to"),
            description=f"{who} A wrong code counts against the interaction's attempts.",
            op_id="verifyClaim")},
        "/api/interactions/{interaction_id}/claims/{claim_id}/link": {"post": _op(
            "Link a claim by hand after checking (audited with the reason)", tag="customers",
            params=[interaction_id, claim_id], body=_ref("ReasonRequest"),
            errors=(400, 401, 403, 404, 409, 413),
            ok=(200, _ref("CustomerResult"), "the customer the interaction now belongs to"),
            description=who, op_id="linkClaim")},
        "/api/customers/{customer_id}/suggestions": {"get": _op(
            "Open merge suggestions of a customer", tag="customers", params=[customer_id],
            errors=(401, 404), ok=(200, {"type": "array", "items": _ref("MergeSuggestion")}, "suggestions"),
            description="Supervisors and admins, or an agent holding an interaction of the customer.",
            op_id="listSuggestions")},
        "/api/suggestions/{suggestion_id}/confirm": {"post": _op(
            "Confirm a suggestion: the two customers merge (audited)", tag="customers",
            params=[suggestion_id], body=_ref("ReasonRequest"), errors=(400, 401, 404, 409, 413),
            ok=(200, _ref("SuggestionDecision"), "the merged customer"),
            description="Supervisors and admins, or an agent holding an interaction of one of the two.",
            op_id="confirmSuggestion")},
        "/api/suggestions/{suggestion_id}/dismiss": {"post": _op(
            "Dismiss a suggestion (audited)", tag="customers",
            params=[suggestion_id], body=_ref("ReasonRequest"), errors=(400, 401, 404, 409, 413),
            ok=(200, _ref("SuggestionDecision"), "the suggestion is closed"),
            description="Supervisors and admins, or an agent holding an interaction of one of the two.",
            op_id="dismissSuggestion")},
    }
