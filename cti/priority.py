"""Priority given to new work by configuration: per channel and per collected context (the IVR's
answers, the digits a caller keyed). A pure function of plain data, applied when an interaction
is created; a supervisor may change it later (``POST /api/interactions/{id}/priority``).

The highest priority that applies wins (never a sum: two rules do not make work jump further than
the strongest alone), and the work's queue ``priority`` multiplies it in the routing formula
(``router/policy.py``: urgency = waited / service target x priority).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cti.domain import Channel

MIN_PRIORITY = 1
MAX_PRIORITY = 10


@dataclass(frozen=True, slots=True)
class PriorityRules:
    channels: Mapping[Channel, int] = field(default_factory=dict)
    # context key -> value -> priority ("ivr.reason" -> "fraud" -> 5)
    context: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


def priority_for(rules: PriorityRules, *, channel: Channel, context: Mapping[str, str],
                 given: float = 1.0) -> float:
    """The priority of new work: the highest of what its channel earned (``given``, e.g. from an
    adapter), its channel's rule and every context rule whose key and value match."""
    found = [given, float(rules.channels.get(channel, MIN_PRIORITY))]
    for key, values in rules.context.items():
        value = context.get(key)
        if value is not None and value in values:
            found.append(float(values[value]))
    return max(found)
