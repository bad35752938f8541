"""E-mail: the server's own SMTP listener and polled IMAP mailboxes in, replies out by a relay.

``from_config`` is what ``adapters.registry`` calls for the ``channels.email`` section; see
``docs/channels/email.md`` for the keys and the behaviour. ``submit`` sends one raw message to
an SMTP listener (tests, benchmarks); ``EmailAdapter.receive`` stores one without a socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.channel import AdapterDeps
from adapters.email.adapter import EmailAdapter
from adapters.email.config import EmailConfig, parse_email_config
from adapters.email.inbound import Disposition, Received
from adapters.email.submit import SubmitResult, submit, submit_async

__all__ = ["Disposition", "EmailAdapter", "EmailConfig", "Received", "SubmitResult", "from_config", "submit",
           "submit_async"]


def from_config(raw: Mapping[str, Any], deps: AdapterDeps) -> EmailAdapter:
    return EmailAdapter(parse_email_config(raw, queues=deps.config.queues), deps)
