"""The X channel (tweepy): mentions and direct messages of the company account in the queue.

``from_config`` reads the ``channels.x`` section (see ``docs/channels/x.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.channel import AdapterDeps
from adapters.x.adapter import XAdapter
from adapters.x.config import parse_x_config

__all__ = ["XAdapter", "from_config"]


def from_config(raw: Mapping[str, Any], deps: AdapterDeps) -> XAdapter:
    return XAdapter(config=parse_x_config(raw, queues=deps.config.queues), deps=deps)
