"""A clean stop: every caller the server holds goes to the fallback queue, not on waiting.

The dial plan's ``cti-hold`` cannot notice by itself that the server went away while a caller is
on music on hold (``MusicOnHold`` runs to its time limit), so a server that stops without this
leaves its waiting callers on hold for the rest of ``CTI_HOLD_SECS``. The ``Redirect`` to
``cti-hold,fallback,1`` is the interface ``asterisk-config/extensions.conf`` documents (``Why:
server``); a Redirect keeps the channel's variables, so the IVR answers (``CTI_ACCOUNT``,
``CTI_REASON``) reach the fallback queue's ``CtiFallback`` as recorded in
``tests/fixtures/ami/live2/clean_stop_redirects_waiting_caller.jsonl``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from cti.ami.channels import ChannelView

log = logging.getLogger(__name__)

FALLBACK_EXTEN = "fallback"


def held_callers(callers: Iterable[ChannelView], *, hold_context: str) -> list[ChannelView]:
    """The callers waiting in the hold context for the server (pure).

    Waiting for the server: in the hold context, in no bridge (not talking), not in app_queue
    already and not on their way there. A caller held from the desktop (``held``) is included:
    nobody can resume them once the server is gone.
    """
    return [c for c in callers if c.context == hold_context and c.bridge_id is None
            and c.app_queue is None and c.exten != FALLBACK_EXTEN]


def fallback_redirect(caller: ChannelView, *, hold_context: str) -> dict[str, str]:
    """The AMI action that sends one caller to the fallback queue."""
    return {"Action": "Redirect", "Channel": caller.name, "Context": hold_context,
            "Exten": FALLBACK_EXTEN, "Priority": "1"}
