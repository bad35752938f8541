"""What an agent (or the customer) does with a claimed identity: prove it with a one-time code,
or link it by hand after checking.

A claim is an identity the customer typed (a chat form, a mail that failed DMARC). It is shown
to the agent and attached to nobody. It becomes the customer's when:

- a one-time code sent to the claimed address or number is typed back (``verify_code``): the
  identity is *verified*, so the interaction's customer takes it, or merges with the customer who
  already has it (a verified identity is proof enough for a merge); or
- a person who holds the interaction (or a supervisor or admin) links it by hand, giving a reason
  (``link_claim``): the same change, audited with their name and reason.

Errors: NotFound ``claim-not-found``; Unavailable ``no-code-channel`` (no e-mail or SMS channel
configured for the claim's kind), ``code-not-sent``; and those of ``cti.codes.CodeStore``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from cti.clock import Clock
from cti.codes import CodeSender, CodeStore
from cti.domain import Customer, Identity, IdentityKind, IdentityLevel, InboundIdentity, InteractionState
from cti.errors import NotFound, Unavailable
from cti.events import CustomerUpdated
from cti.hub import EventHub
from cti.ports import ContextStore, PresentedIdentity
from cti.screenpop import is_claim

log = logging.getLogger(__name__)

# An agent "holds" an interaction they were offered or are working (or wrapping up).
HELD_STATES = frozenset({InteractionState.OFFERED, InteractionState.ACTIVE, InteractionState.WRAP_UP})


class ClaimService:
    def __init__(self, *, context: ContextStore, codes: CodeStore, senders: Mapping[IdentityKind, CodeSender],
                 hub: EventHub, clock: Clock, code_minutes: int) -> None:
        self._context = context
        self._codes = codes
        self._senders = dict(senders)
        self._hub = hub
        self._clock = clock
        self._code_minutes = code_minutes

    @property
    def codes(self) -> CodeStore:
        return self._codes

    async def claims(self, interaction_id: str) -> Sequence[PresentedIdentity]:
        return [p for p in await self._context.presented(interaction_id) if is_claim(p)]

    async def claim(self, interaction_id: str, claim_id: str) -> PresentedIdentity:
        for claim in await self.claims(interaction_id):
            if claim.id == claim_id:
                return claim
        raise NotFound("claim-not-found", f"no claim {claim_id!r} on this interaction", claim_id=claim_id)

    async def send_code(self, interaction_id: str, claim_id: str, *, actor: str) -> None:
        """A code to the claim's address or number, through its channel."""
        claim = await self.claim(interaction_id, claim_id)
        await self.send_code_to(interaction_id, claim.identity, actor=actor)

    async def send_code_to(self, interaction_id: str, target: Identity, *, actor: str) -> None:
        sender = self._senders.get(target.kind)
        if sender is None:
            raise Unavailable("no-code-channel", f"no channel sends codes to a {target.kind.value}",
                              kind=target.kind.value)
        code = await self._codes.issue_code(target, interaction_id)
        text = (f"Your verification code is {code}. It is valid for {self._code_minutes} minutes. "
                "If you did not ask for it, ignore this message.")
        try:
            await sender.send_code(target.value, text)
        except Exception as exc:
            log.warning("one-time code not sent interaction=%s kind=%s error=%s", interaction_id,
                        target.kind.value, type(exc).__name__)
            raise Unavailable("code-not-sent", "the code could not be sent; try again later") from exc
        await self._context.audit(actor=actor, action="claim.code-sent", target=interaction_id,
                                  details={"kind": target.kind.value})
        log.info("one-time code sent interaction=%s kind=%s by=%s", interaction_id, target.kind.value, actor)

    async def verify_code(self, interaction_id: str, code: str, *, actor: str,
                          claim_id: str | None = None) -> Customer:
        """The code typed back (by the visitor, or read out to the agent): the identity it was
        sent to is verified for this interaction. ``claim_id`` narrows it to that claim's code."""
        target = (await self.claim(interaction_id, claim_id)).identity if claim_id else None
        identity = await self._codes.check_code(interaction_id, code, target=target)
        return await self.verify_claim(interaction_id, identity, source="one-time-code", actor=actor)

    async def verify_claim(self, interaction_id: str, identity: Identity, *, source: str,
                           actor: str) -> Customer:
        """``identity`` is verified on this interaction (``source``: how): the interaction's
        customer takes it, or merges with its owner. Returns the customer the interaction has now."""
        interaction = await self._context.interaction(interaction_id)
        customer = await self._context.prove_identity(
            interaction.customer_id, identity, actor=actor, how="verified",
            reason=f"{source} on interaction {interaction_id}")
        matching = [c for c in await self.claims(interaction_id)
                    if c.identity == identity and c.outcome is None]
        for claim in matching:
            await self._context.settle_claim(claim.id, outcome="verified", actor=actor)
        if not matching:
            await self._context.record_presented(
                interaction_id, [InboundIdentity(identity, IdentityLevel.VERIFIED, source)],
                display_name=None)
        await self._hub.publish(CustomerUpdated(at=self._clock.now(), customer_id=customer.id,
                                                why="identity-verified",
                                                details={"interaction_id": interaction_id}))
        return customer

    async def link_claim(self, interaction_id: str, claim_id: str, *, actor: str, reason: str) -> Customer:
        """A person checked and links the claim: audited with their name and reason."""
        claim = await self.claim(interaction_id, claim_id)
        interaction = await self._context.interaction(interaction_id)
        customer = await self._context.prove_identity(interaction.customer_id, claim.identity, actor=actor,
                                                      how="linked", reason=reason)
        await self._context.settle_claim(claim.id, outcome="linked", actor=actor)
        await self._context.audit(actor=actor, action="claim.link", target=customer.id, details={
            "interaction_id": interaction_id, "claim_id": claim.id, "reason": reason,
            "identity": {"kind": claim.identity.kind.value, "value": claim.identity.value}})
        await self._hub.publish(CustomerUpdated(at=self._clock.now(), customer_id=customer.id,
                                                why="identity-linked",
                                                details={"interaction_id": interaction_id}))
        return customer

    async def held_customers(self, agent_id: str) -> set[str]:
        """The customers (merge roots) of the interactions ``agent_id`` holds now."""
        held = await self._context.list_interactions(agent_id=agent_id, open_only=True, limit=100)
        return {(await self._context.customer(i.customer_id)).id for i in held if i.state in HELD_STATES}
