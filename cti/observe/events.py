"""Counts and logs the domain events this node publishes.

One subscriber on the hub, local events only (each node counts what it caused, so the sum over
nodes counts each event once), called in the publisher without a queue: it only increments
counters and writes a line. The lines say what happened to whom, with the interaction and agent
bound so that JSON logs carry them as fields; message bodies and notes are never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from cti.events import (
    DomainEvent,
    InteractionAbandoned,
    InteractionAccepted,
    InteractionClosed,
    InteractionOffered,
    InteractionQueued,
    InteractionTransferred,
    VoiceLinkChanged,
)
from cti.hub import EventHub, Subscription
from cti.observe.logs import about
from cti.observe.metrics import Metrics

__all__ = ["EventObserver"]

log = logging.getLogger(__name__)


def _channel(interaction: Mapping[str, Any] | None) -> str:
    channel = (interaction or {}).get("channel")
    return str(channel) if channel else "unknown"


class EventObserver:
    """``start`` subscribes, ``aclose`` unsubscribes. Also remembers the AMI link's last state
    heard from any node, for the readiness of a node that does not hold the link."""

    def __init__(self, *, hub: EventHub, metrics: Metrics) -> None:
        self._hub = hub
        self._metrics = metrics
        self._local: Subscription | None = None
        self._remote: Subscription | None = None
        self.ami_link_heard: bool | None = None

    async def start(self) -> None:
        self._local = self._hub.subscribe(local_only=True, on_event=self.on_local_event)
        self._remote = self._hub.subscribe(wants=lambda e: isinstance(e, VoiceLinkChanged),
                                           on_event=self._on_link)

    async def aclose(self) -> None:
        for sub in (self._local, self._remote):
            if sub is not None:
                sub.close()
        self._local = self._remote = None

    def _on_link(self, event: DomainEvent) -> None:
        if isinstance(event, VoiceLinkChanged):
            self.ami_link_heard = event.connected

    def on_local_event(self, event: DomainEvent) -> None:
        m = self._metrics
        if isinstance(event, InteractionOffered):
            m.offers.labels(_channel(event.screen_pop.get("interaction"))).inc()
        elif isinstance(event, InteractionAccepted):
            channel = _channel(event.interaction)
            m.accepts.labels(channel).inc()
            with about(interaction=event.interaction_id, agent=event.agent_id):
                log.info("accepted interaction=%s agent=%s channel=%s", event.interaction_id,
                         event.agent_id, channel)
        elif isinstance(event, InteractionQueued) and event.requeued_because == "timeout":
            m.offer_timeouts.labels(_channel(event.interaction)).inc()
        elif isinstance(event, InteractionClosed):
            with about(interaction=event.interaction_id, agent=event.agent_id):
                log.info("completed interaction=%s agent=%s disposition=%s", event.interaction_id,
                         event.agent_id, event.disposition)
        elif isinstance(event, InteractionTransferred):
            with about(interaction=event.interaction_id, agent=event.agent_id):
                log.info("transferred interaction=%s agent=%s to_queue=%s to_agent=%s",
                         event.interaction_id, event.agent_id, event.to_queue, event.to_agent)
        elif isinstance(event, InteractionAbandoned):
            m.abandons.inc()
            with about(interaction=event.interaction_id, agent=event.agent_id):
                log.info("abandoned interaction=%s after %.1f s waiting", event.interaction_id,
                         event.waited)
        elif isinstance(event, VoiceLinkChanged):
            m.ami_link(event.connected)
