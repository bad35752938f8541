"""The server's Prometheus metrics: one registry per application.

Two kinds of figure:

- **Live state** (open interactions, waiting items, longest wait, agents, sockets, the AMI link)
  is read when Prometheus scrapes, from the same sources the wallboard reads, by ``LiveFigures``
  handed to a custom collector. Nothing is counted twice or drifts from the truth after a
  restart, and the hot paths pay nothing for it.
- **Events** (offers, accepts, time-outs, abandons, refusals, failures) are counters, and
  latencies are histograms, updated at the few points where they happen on this node. Summed
  over the nodes they give the center's figures.

The registry belongs to the application, never to the process: tests start several servers in
one process, and a module-level registry would mix their figures or refuse the second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["METRICS", "LiveFigures", "Metrics", "count_webhook_refusal"]

# Screen pops are built while the agent's phone rings: 10 ms is good, a second is felt.
SCREEN_POP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# A routing pass with nothing to offer takes well under a millisecond; one offering a burst
# builds several screen pops.
ROUTING_PASS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True, slots=True)
class LiveFigures:
    """What the node sees now; read just before each scrape."""

    interactions: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (channel, state)
    waiting: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (queue, channel)
    longest_wait: Mapping[str, float] = field(default_factory=dict)  # queue -> seconds
    agents: Mapping[str, int] = field(default_factory=dict)  # state -> agents
    sockets: Mapping[str, int] = field(default_factory=dict)  # kind -> open sockets on this node
    ami_link_up: bool | None = None  # None: no Asterisk configured


class _LiveCollector(Collector):
    def __init__(self) -> None:
        self.figures = LiveFigures()

    def collect(self) -> Iterable[Metric]:
        f = self.figures
        interactions = GaugeMetricFamily(
            "cti_interactions", "Open interactions (not closed or abandoned) by channel and state",
            labels=["channel", "state"])
        for (channel, state), count in sorted(f.interactions.items()):
            interactions.add_metric([channel, state], count)
        waiting = GaugeMetricFamily("cti_waiting", "Interactions waiting for an agent, by queue and channel",
                                    labels=["queue", "channel"])
        for (queue, channel), count in sorted(f.waiting.items()):
            waiting.add_metric([queue, channel], count)
        longest = GaugeMetricFamily("cti_longest_wait_seconds",
                                    "How long the longest-waiting interaction of each queue has waited",
                                    labels=["queue"])
        for queue, seconds in sorted(f.longest_wait.items()):
            longest.add_metric([queue], seconds)
        agents = GaugeMetricFamily("cti_agents", "Agents by state", labels=["state"])
        for state, count in sorted(f.agents.items()):
            agents.add_metric([state], count)
        sockets = GaugeMetricFamily("cti_sockets", "Open WebSockets on this node by kind",
                                    labels=["kind"])
        for kind in ("agent", "supervisor", "visitor"):
            sockets.add_metric([kind], f.sockets.get(kind, 0))
        for kind, count in sorted(f.sockets.items()):
            if kind not in ("agent", "supervisor", "visitor"):
                sockets.add_metric([kind], count)
        yield from (interactions, waiting, longest, agents, sockets)
        if f.ami_link_up is not None:
            yield GaugeMetricFamily("cti_ami_link_up", "1 when the Asterisk (AMI) link is up",
                                    value=1 if f.ami_link_up else 0)


class Metrics:
    """The registry and the event figures; ``render`` adds the live ones."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.offers = Counter("cti_offers", "Offers made to agents by this node", ["channel"], registry=r)
        self.accepts = Counter("cti_accepts", "Offers accepted on this node", ["channel"], registry=r)
        self.offer_timeouts = Counter("cti_offer_timeouts", "Offers that expired unanswered",
                                      ["channel"], registry=r)
        self.abandons = Counter("cti_abandons", "Interactions the customer left while waiting",
                                registry=r)
        self.screen_pop_seconds = Histogram(
            "cti_screen_pop_seconds", "From an offer decided to its screen pop published",
            buckets=SCREEN_POP_BUCKETS, registry=r)
        self.routing_pass_seconds = Histogram(
            "cti_routing_pass_seconds", "One routing pass (ranking, offers and their screen pops)",
            buckets=ROUTING_PASS_BUCKETS, registry=r)
        self.ami_reconnects = Counter("cti_ami_reconnects", "AMI link logins after the first on this node",
                                      registry=r)
        self.ami_disconnects = Counter("cti_ami_disconnects", "AMI link losses on this node", registry=r)
        self.webhook_refusals = Counter("cti_webhook_refusals", "Inbound webhooks refused, by reason",
                                        ["channel", "reason"], registry=r)
        self.outbound_failures = Counter(
            "cti_outbound_failures", "Agent replies the channel did not deliver (failed or refused)",
            ["channel", "status", "reason"], registry=r)
        self.db_seconds = Histogram("cti_db_transaction_seconds",
                                    "Database transactions, waiting for a connection included",
                                    ["kind"], buckets=DB_BUCKETS, registry=r)
        self._live = _LiveCollector()
        r.register(self._live)
        self._ami_logins = 0

    def render(self, live: LiveFigures) -> bytes:
        """The text exposition format, with ``live`` as the current state. Synchronous between
        setting the figures and rendering, so two scrapes at once cannot mix their readings."""
        self._live.figures = live
        return generate_latest(self.registry)

    def db_transaction(self, kind: str, seconds: float) -> None:
        self.db_seconds.labels(kind).observe(seconds)

    def ami_link(self, connected: bool) -> None:
        if connected:
            self._ami_logins += 1
            if self._ami_logins > 1:
                self.ami_reconnects.inc()
        else:
            self.ami_disconnects.inc()


METRICS = web.AppKey("metrics", Metrics)


def count_webhook_refusal(request: web.Request, channel: str, reason: str) -> None:
    """A channel's webhook refused a delivery (bad signature, unreadable, stale, ...)."""
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.webhook_refusals.labels(channel, reason).inc()
