"""The screen pop: the one document an agent gets when an interaction is offered.

It is the same for every channel: the interaction, the customer's profile and identities, the
unified timeline across all channels (newest first, bounded), the collected context, the notes
and the messages so far, why the router chose this agent, and the live campaigns the
customer's words match (``cti.campaign_service``).

Every identity the interaction presented is listed with its level and source; a claimed one is
shown as a claim ("claims to be Ann Lee (e-mail) — not verified") and the customer it names is
never looked up: the claim proves nothing, so that customer's history stays out of the pop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cti.domain import Customer, IdentityKind, IdentityLevel, Interaction, Message, Note, jsonable
from cti.ports import PresentedIdentity, TimelineEntry

KIND_LABELS = {IdentityKind.EMAIL: "e-mail", IdentityKind.PHONE: "phone", IdentityKind.CHAT: "chat visitor",
               IdentityKind.X: "X", IdentityKind.SLACK: "Slack"}


def claim_text(claim: PresentedIdentity) -> str:
    """What the agent reads about a claim."""
    who = claim.display_name or claim.identity.value
    label = KIND_LABELS.get(claim.identity.kind, claim.identity.kind.value)
    if claim.outcome == "verified":
        return f"{who} ({label}) — verified by a one-time code"
    if claim.outcome == "linked":
        return f"{who} ({label}) — linked by hand by {claim.outcome_by}"
    return f"claims to be {who} ({label}) — not verified"


def presented_json(p: PresentedIdentity) -> dict[str, Any]:
    return {"id": p.id, "kind": p.identity.kind.value, "value": p.identity.value, "level": p.level.value,
            "source": p.source, "at": p.at}


def claim_json(claim: PresentedIdentity) -> dict[str, Any]:
    return {**presented_json(claim), "display_name": claim.display_name,
            "status": claim.outcome or "not-verified", "outcome_by": claim.outcome_by,
            "text": claim_text(claim)}


def is_claim(p: PresentedIdentity) -> bool:
    """Claimed when presented (a claim verified later stays listed among the claims)."""
    return p.level is IdentityLevel.CLAIMED or p.outcome is not None


def build_screen_pop(
    *,
    interaction: Interaction,
    customer: Customer,
    timeline: Sequence[TimelineEntry],
    messages: Sequence[Message],
    notes: Sequence[Note],
    reason: Mapping[str, Any] | None,
    presented: Sequence[PresentedIdentity] = (),
    campaigns: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    channels = sorted({e.channel.value for e in timeline} | {interaction.channel.value})
    return {
        "interaction": jsonable(interaction),
        "customer": {
            "id": customer.id,
            "display_name": customer.display_name,
            "identities": [jsonable(i) for i in customer.identities],
        },
        "timeline": [jsonable(e) for e in timeline],
        "channels_seen": channels,
        "context": dict(interaction.context),
        "notes": [jsonable(n) for n in notes],
        "messages": [jsonable(m) for m in messages],
        "routing": dict(reason) if reason else None,
        "identities": [presented_json(p) for p in presented],
        "claims": [claim_json(p) for p in presented if is_claim(p)],
        "campaigns": [dict(c) for c in campaigns],  # live campaigns the customer's words match
    }
