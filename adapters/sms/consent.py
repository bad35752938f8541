"""Who has texted STOP: the opt-out state of each phone number, kept in the audit log.

The core has no table for a channel's consent, and adapters may not add migrations, so each
change is an audit entry with the target ``sms-consent:<E.164>``; the newest one for a number is
its state (one indexed read of ``audit_log`` by target). That keeps it in the shared database,
so every node agrees, survives restarts, and leaves the record of when and how the customer
opted out that messaging rules ask for. Nothing is cached: a STOP taken by one node must stop
the reply sent by another at once.

Opt-out is per customer number, across all our numbers: stricter than Twilio's per-sender
block, and never wrong to honour.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from adapters.sms.parsing import Consent
from cti.ports import ContextStore

log = logging.getLogger(__name__)

ACTOR = "sms"
RECENT = 100  # consent changes of one number searched for a redelivered keyword
ACTIONS = {Consent.OPT_OUT: "sms.opt-out", Consent.OPT_IN: "sms.opt-in"}


def consent_target(phone: str) -> str:
    return f"sms-consent:{phone}"


class ConsentStore:
    def __init__(self, context: ContextStore) -> None:
        self._context = context

    async def record(self, phone: str, change: Consent, *, details: Mapping[str, Any],
                     message_sid: str | None = None) -> bool:
        """Record a change; False if the message that asked for it was recorded already.

        Twilio signatures never expire, so a STOP redelivered (or replayed) after a later START
        must not opt the number out again: the number's recent entries are searched for its sid.
        """
        target = consent_target(phone)
        if message_sid is not None:
            recent = await self._context.audit_log(limit=RECENT, target=target)
            if any(e.details.get("message_sid") == message_sid for e in recent):
                return False
        recorded = {**details, "message_sid": message_sid} if message_sid else dict(details)
        await self._context.audit(actor=ACTOR, action=ACTIONS[change], target=target, details=recorded)
        log.info("sms consent %s phone=…%s", change.value, phone[-4:])
        return True

    async def opted_out(self, phone: str) -> bool:
        latest = await self._context.audit_log(limit=1, target=consent_target(phone))
        return bool(latest) and latest[0].action == ACTIONS[Consent.OPT_OUT]
