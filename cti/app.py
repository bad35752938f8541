"""The composition root: the only module that knows every part and builds them.

Constructors do no I/O, so everything is built here at once; the application's cleanup
context then starts the parts in order and stops them in reverse. ``build_app`` reads nothing
from the environment: the CLI hands it the settings.
"""

from __future__ import annotations

import gc
import logging
import secrets
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import redis.asyncio as redis_asyncio
from aiohttp import web
from limits.aio.storage import MemoryStorage, RedisStorage, Storage

from adapters.channel import AdapterDeps
from adapters.email.config import parse_email_config
from adapters.outbound import OutboundDispatcher
from adapters.registry import CHANNEL_ADAPTERS, build_adapters
from adapters.slack.config import parse_slack_config
from adapters.sms.config import parse_sms_config
from adapters.twilio_voice.config import parse_twilio_voice_config
from adapters.webchat.codes import VisitorCodes
from adapters.webchat.http import setup_webchat
from adapters.webchat.knowledge import setup_chat_knowledge
from adapters.webchat.sessions import ChatSessions
from adapters.webchat.signing import SiteSignatures
from adapters.webchat.waiting import WaitingNotices
from adapters.x.config import parse_x_config
from context.migrate import upgrade_async
from context.store import SqlContextStore
from cti.admin import ConfigAdmin
from cti.agent_records import AgentStateRecords
from cti.agents import AgentService, PresenceTouch
from cti.ami.bridge import AmiBridge
from cti.ami.runtime import AsteriskVoice
from cti.campaign_service import CampaignService
from cti.campaigns import PopCampaigns
from cti.claims import ClaimService
from cti.clock import Clock, IdSource, SystemClock, UuidIds
from cti.codes import CodeSender
from cti.config import AppConfig, ConfigError
from cti.consult import ChatConsults
from cti.datadir import token_secret
from cti.domain import Interaction, jsonable
from cti.eventlog import overflowed_to
from cti.eventlog_recorder import CallLogRecorder
from cti.events import AgentStateChanged
from cti.hours import queue_open
from cti.hub import EventHub
from cti.janitor import Janitor
from cti.knowledge import CampaignArticles
from cti.lease import Leases
from cti.live_config import LiveConfig, as_live
from cti.login import LoginService
from cti.login_throttle import LoginThrottle
from cti.observe.events import EventObserver
from cti.observe.live import LiveSources
from cti.observe.logs import bind_node
from cti.observe.metrics import METRICS, Metrics
from cti.observe.ready import Check, Readiness, ami_check
from cti.passwords import PasswordChecker
from cti.ports import AttachmentSource, CallControl, ContextStore
from cti.presence import DesktopPresence
from cti.presence_store import MemoryPresence, PresenceStore, RedisPresence
from cti.redact import safe_url
from cti.reporting import queue_targets
from cti.revocation import RedisTokenRecords
from cti.routing import Explanation, Offer, RoutingSettings, RoutingStore, WaitingItem, WaitingMove
from cti.service import InteractionService
from cti.services import Services
from cti.survey_service import SurveyService
from cti.surveys import survey_key
from cti.typing_signal import TypingSignals
from cti.wallboard import ServiceLevelBoard
from cti.webhooks.dispatcher import WebhookDispatcher
from desktop_api.app import make_app
from desktop_api.kb_limits import PublicKbLimits
from desktop_api.keys import LOGIN
from desktop_api.observe import LIVE_FIGURES, READINESS
from desktop_api.sockets import SOCKET_COUNTS
from router.engine import RoutingEngine
from router.memory_store import MemoryRoutingStore
from router.redis_store import RedisRoutingStore
from router.waiting_rules import also_after
from router.waiting_sweep import WaitingSweep

log = logging.getLogger(__name__)

SERVICE_LEVEL_WINDOW = 3600.0  # seconds: the wallboard's "last hour"
DELIVERED = frozenset({"sent", "delivered", "queued"})  # reply outcomes that are not failures


@dataclass(frozen=True, slots=True)
class ServerSettings:
    db_url: str = field(repr=False)  # URLs may hold passwords: logs show safe_url(...) instead
    redis_url: str | None = field(default=None, repr=False)
    node_id: str | None = None
    migrate: bool = True
    redis_prefix: str = "cti"
    lease_ttl: float = 15.0  # how long a dead node's one-node work (AMI link, pollers) waits
    reply_recovery_after: float = 120.0  # how long a stored reply waits untaken before another node sends it
    # Where a single node keeps its generated token secret (None: a new one each start).
    data_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Core:
    """The services every channel and the desktop drive, and the engine that routes for them."""

    interactions: InteractionService
    agents: AgentService
    engine: RoutingEngine
    sweep: WaitingSweep  # overflow by wait and transfer fallback (router.waiting_rules)


def build_core(*, config: AppConfig | LiveConfig, context: ContextStore, routing: RoutingStore, hub: EventHub,
               clock: Clock, ids: IdSource, metrics: Metrics | None = None,
               agent_states: AgentStateRecords | None = None, presence: PresenceTouch | None = None,
               campaigns: PopCampaigns | None = None) -> Core:
    """Constructors only (no I/O): the engine routes once started, or pass by pass in tests."""
    engine_ref: list[RoutingEngine] = []
    live = as_live(config)

    def poke() -> None:
        for engine in engine_ref:
            engine.poke()

    agents = AgentService(config=live, routing=routing, context=context, hub=hub, clock=clock, poke=poke,
                          records=agent_states, presence=presence)
    interactions = InteractionService(config=live, context=context, routing=routing, hub=hub,
                                      clock=clock, ids=ids, poke=poke, on_missed_offer=agents.missed_offer,
                                      campaigns=campaigns)

    async def on_offer(offer: Offer) -> None:
        if metrics is None:
            await interactions.on_offer(offer)
            return
        # The offer saved, its screen pop built and published: what the agent waits for.
        with metrics.screen_pop_seconds.time():
            await interactions.on_offer(offer)

    async def on_requeue(item: WaitingItem, why: str) -> None:
        await interactions.on_requeue(item, why)

    async def on_wrap_up_end(agent_id: str) -> None:
        await hub.publish(AgentStateChanged(at=clock.now(), agent_id=agent_id, state="available",
                                            reason="wrap-up-ended"))

    engine = RoutingEngine(
        store=routing, clock=clock, settings=RoutingSettings(preferred_window=live.current.preferred_window),
        offer_timeout=live.current.offer_timeout, on_offer=on_offer, on_requeue=on_requeue,
        on_wrap_up_end=on_wrap_up_end,
        on_pass=metrics.routing_pass_seconds.observe if metrics is not None else None)
    engine_ref.append(engine)

    async def routing_follows(_: AppConfig, new: AppConfig) -> None:
        engine.reconfigure(settings=RoutingSettings(preferred_window=new.preferred_window),
                           offer_timeout=new.offer_timeout)

    live.watch(routing_follows)

    async def on_move(move: WaitingMove, item: WaitingItem) -> None:
        details: dict[str, object] = {"rule": move.rule, "after": move.after}
        if move.also_queue is not None:
            details["also_queue"] = move.also_queue  # the queue whose agents may take it from now
        await interactions.rewait(move.interaction_id, why=move.why, queue=move.queue, skills=move.skills,
                                  details=details, expected=item, also=move.also)

    sweep = WaitingSweep(
        store=routing, clock=clock, queues=lambda: dict(live.current.queues), on_move=on_move, interval=1.0,
        fallback=lambda q: q.transfer_fallback_seconds or live.current.transfer_fallback_seconds)
    return Core(interactions=interactions, agents=agents, engine=engine, sweep=sweep)


def build_app(config: AppConfig, settings: ServerSettings, *, clock: Clock | None = None,
              ids: IdSource | None = None) -> web.Application:
    if settings.redis_url and not config.token_secret:
        # Each node would otherwise sign with its own random key and refuse the others' tokens.
        raise ConfigError("token_secret: required when nodes share Redis, so every node accepts "
                          "the same log-in tokens")
    the_clock = clock or SystemClock()
    the_ids = ids or UuidIds()
    node_id = settings.node_id or f"{socket.gethostname()}-{secrets.token_hex(3)}"
    metrics = Metrics()  # this application's registry: several may run in one process
    context = SqlContextStore(url=settings.db_url, clock=the_clock, ids=the_ids, node_id=node_id,
                              on_transaction=metrics.db_transaction)
    redis_client: Any = redis_asyncio.Redis.from_url(settings.redis_url) if settings.redis_url else None
    routing: RoutingStore = (RedisRoutingStore(redis=redis_client, prefix=settings.redis_prefix)
                             if redis_client is not None else MemoryRoutingStore())
    hub = EventHub(node_id=node_id, redis=redis_client, channel=f"{settings.redis_prefix}:events")
    live = LiveConfig(config)
    presence_store: PresenceStore = (RedisPresence(redis=redis_client, prefix=settings.redis_prefix)
                                     if redis_client is not None else MemoryPresence())
    campaigns = CampaignService(records=context.campaigns, articles=CampaignArticles(context.knowledge),
                                log_records=context.event_log, clock=the_clock, ids=the_ids)
    core = build_core(config=live, context=context, routing=routing, hub=hub, clock=the_clock, ids=the_ids,
                      metrics=metrics, agent_states=context.agent_states, presence=presence_store,
                      campaigns=campaigns)
    observer = EventObserver(hub=hub, metrics=metrics)
    interactions, agents, engine = core.interactions, core.agents, core.engine
    presence = DesktopPresence(store=presence_store, agents=agents, routing=routing, clock=the_clock,
                               node_id=node_id, settings=config.presence)

    async def explain(interaction_id: str) -> Explanation:
        await context.interaction(interaction_id)  # an unknown id is a 404, not a 409
        return await engine.explain(interaction_id)

    board = ServiceLevelBoard(log=context.event_log, hub=hub, targets=queue_targets(config))

    async def board_follows(_: AppConfig, new: AppConfig) -> None:
        board.set_targets(queue_targets(new))

    live.watch(board_follows)

    async def queue_stats(window: float = SERVICE_LEVEL_WINDOW) -> dict[str, Any]:
        now = the_clock.now()
        stats: dict[str, Any] = jsonable(await routing.stats(now))
        stats["queues_configured"] = {
            q.name: {"skills": dict(q.skills),
                     "service_targets": {c.value: q.target_for(c) for c in q.service_targets}}
            for q in live.current.queues.values()}
        stats["service_level_window"] = window
        stats["service_level"] = await board.levels(window, now)
        return stats

    secret = _token_secret(config, settings)
    surveys = SurveyService(context=context, log_records=context.event_log, hub=hub, clock=the_clock,
                            ids=the_ids, key=survey_key(secret), settings=config.surveys)
    leases = Leases(redis=redis_client, prefix=settings.redis_prefix, node_id=node_id,
                    ttl=settings.lease_ttl)
    voice: AsteriskVoice | None = None
    if config.ami is not None:
        voice = AsteriskVoice(
            ami=config.ami, leases=leases,
            bridge=AmiBridge(ami=config.ami, config=live, interactions=interactions, agents=agents,
                             context=context, routing=routing, hub=hub, clock=the_clock, surveys=surveys))
    bridge = voice.bridge if voice is not None else None

    channel_adapters = build_adapters(config.channels, AdapterDeps(
        live=live, interactions=interactions, context=context, hub=hub, clock=the_clock, ids=the_ids,
        leases=leases, surveys=surveys))
    outbound = OutboundDispatcher(adapters=channel_adapters, context=context, hub=hub, clock=the_clock,
                                  leases=leases, recover_after=settings.reply_recovery_after,
                                  on_outcome=lambda channel, status, why: None if status in DELIVERED
                                  else metrics.outbound_failures.labels(channel, status, why or "").inc())

    webhooks = WebhookDispatcher(settings=config.webhooks, store=context.webhook_store(), context=context,
                                 hub=hub, clock=the_clock, ids=the_ids, node_id=node_id)

    claims = ClaimService(
        context=context, codes=context.code_store(config.identity.codes), hub=hub, clock=the_clock,
        senders={a.code_kind: a for a in channel_adapters.values() if isinstance(a, CodeSender)},
        code_minutes=max(1, round(config.identity.codes.ttl_seconds / 60)))
    admin = ConfigAdmin(live=live, store=context.config_versions, hub=hub, clock=the_clock,
                        check=check_channels)
    services = Services(
        live=live, admin=admin, node_id=node_id, clock=the_clock, ids=the_ids, hub=hub, context=context,
        routing=routing, interactions=interactions, agents=agents, explain=explain,
        queue_stats=queue_stats, token_secret=secret,
        access=context.access, tokens=RedisTokenRecords(redis=redis_client, prefix=settings.redis_prefix,
                                                        clock=the_clock)
        if redis_client is not None else context.tokens,
        voice=bridge, call_controls=tuple(
            c for c in (bridge, *channel_adapters.values()) if isinstance(c, CallControl)),
        attachment_sources=tuple(a for a in channel_adapters.values() if isinstance(a, AttachmentSource)),
        claims=claims, webhooks=webhooks, presence=presence, event_log=context.event_log,
        reports=context.reports,
        typing=TypingSignals(context=context, hub=hub, clock=the_clock),
        consults=ChatConsults(records=context.consults, interactions=interactions, context=context, hub=hub,
                              clock=the_clock, ids=the_ids, config=live),
        campaigns=campaigns, surveys=surveys, knowledge=context.knowledge)
    call_log = CallLogRecorder(hub=hub, context=context, log_records=context.event_log)
    chat = ChatSessions(interactions=interactions, context=context, ids=the_ids,
                        chat=lambda: live.current.chat,
                        is_open=lambda queue: queue_open(live.current, queue, the_clock.now()),
                        # identity.default_region, in the calling-code form the chat still takes
                        default_country_code=str(phonenumbers.country_code_for_region(config.phone_region)),
                        sites=SiteSignatures({site: s.secret.get_secret_value()
                                              for site, s in config.identity.sites.items()}))
    # The chat's cap on one-time codes counts across nodes when they share Redis, as log-in failures do.
    codes = VisitorCodes(sessions=chat, claims=claims, storage=_throttle_storage(redis_client, settings),
                         per_window=config.identity.chat_codes_per_window,
                         window=config.identity.chat_code_window)

    login = LoginService(
        config=lambda: services.config, checker=PasswordChecker(workers=config.login.hash_workers),
        throttle=LoginThrottle(settings=config.login, storage=_throttle_storage(redis_client, settings)),
        credentials=context.credentials, clock=the_clock)

    janitor = Janitor(context, chat_session_age=config.identity.chat_session_days * 86400,
                      extra=[("webhook deliveries", webhooks.purge)])
    # One node sweeps: the others would repeat the same deletes.
    housekeeping = leases.one_node("janitor", start=janitor.start, stop=janitor.aclose)

    async def overflowed_also(interaction: Interaction) -> Mapping[str, Mapping[str, int]]:
        """Where waiting work had overflowed before the restart, read back from its log (the
        routing store that held it may be the in-memory one, gone with the old process)."""
        queues = live.current.queues
        queue = queues.get(interaction.queue)
        if queue is None or not any(rule.to_queue for rule in queue.overflow):
            return {}  # the usual case: no log to read
        return also_after(queue, queues, overflowed_to(await context.event_log.of(interaction.id)))

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        bind_node(node_id)  # on every line of the tasks started from here
        if settings.migrate:
            await upgrade_async(settings.db_url)
        await context.start()
        # Before anything reads the agents and queues: a node runs the newest stored version.
        await admin.start()
        await hub.start()
        await observer.start()
        call_log.start()
        if config.surveys.enabled:
            surveys.start()
        await agents.register_all()
        # As they were before the restart; those at their desk get the grace to reconnect.
        await presence.expect(await agents.restore())
        recovered = await interactions.recover(
            await context.list_interactions(states=None, agent_id=None, limit=10_000, open_only=True),
            also_for=overflowed_also)
        await engine.start()
        await core.sweep.start()
        await presence.start()
        if voice is not None:
            await voice.start()
        for adapter in channel_adapters.values():
            await adapter.start()
        await outbound.start()
        await webhooks.start()
        await housekeeping.start()
        # Everything built at start-up lives as long as the server: out of the collector's sight,
        # full collections scan only what requests create (they set the p99 otherwise).
        gc.collect()
        gc.freeze()
        log.info("server started node=%s db=%s redis=%s recovered=%d voice=%s", node_id,
                 safe_url(settings.db_url), bool(redis_client), recovered, voice is not None)
        try:
            yield
        finally:
            await housekeeping.aclose()
            await webhooks.aclose()
            await outbound.aclose()
            for adapter in channel_adapters.values():
                await adapter.aclose()
            if voice is not None:
                await voice.aclose()
            await presence.aclose()
            await core.sweep.aclose()
            await engine.aclose()
            await observer.aclose()
            await call_log.drain()
            await call_log.aclose()
            await surveys.aclose()
            await hub.aclose()
            await admin.aclose()
            await context.aclose()
            if redis_client is not None:
                await redis_client.aclose()

    app = make_app(services)
    app[LOGIN] = login
    _observe(app, metrics=metrics, observer=observer, routing=routing, clock=the_clock, context=context,
             redis_client=redis_client, voice=voice)
    app[CHANNEL_ADAPTERS] = channel_adapters
    for adapter in channel_adapters.values():
        adapter.mount(app)
    # The core starts first and stops last: the chat's own context nests inside it.
    app.cleanup_ctx.append(lifecycle)

    async def login_threads(_: web.Application) -> AsyncIterator[None]:
        yield
        await login.aclose()

    app.cleanup_ctx.append(login_threads)
    waiting = WaitingNotices(sessions=chat, interactions=interactions, routing=routing,
                             records=context.event_log, clock=the_clock, queues=lambda: live.current.queues,
                             region=lambda: live.current.phone_region,
                             interval=lambda: live.current.chat.queue_status_seconds)
    setup_webchat(app, sessions=chat, codes=codes, hub=hub, agent_name=lambda a: live.current.agents[a].name
                  if a in live.current.agents else a, traffic=config.traffic, waiting=waiting,
                  typing=services.typing,
                  survey_token=surveys.token if config.surveys.enabled else None)
    # Public knowledge requests are counted across nodes when they share Redis, as log-ins are.
    setup_chat_knowledge(app, knowledge=context.knowledge, limits=PublicKbLimits(
        storage=_throttle_storage(redis_client, settings),
        per_minute=config.traffic.public_kb_requests_per_minute,
        trusted_proxies=config.traffic.trusted_proxies))
    return app


def _observe(app: web.Application, *, metrics: Metrics, observer: EventObserver, routing: RoutingStore,
             clock: Clock, context: SqlContextStore, redis_client: Any, voice: AsteriskVoice | None) -> None:
    """``/metrics`` and ``/readyz``: what they read, and which dependencies are checked."""
    link: Callable[[], bool | None] | None = None
    if voice is not None:
        # This node's own link; when another node holds it, what that node last announced.
        link = lambda: voice.link_up if voice.link_up is not None else observer.ami_link_heard  # noqa: E731

    def sockets() -> dict[str, int]:
        counts: Counter[str] = app[SOCKET_COUNTS]
        return dict(counts)

    app[METRICS] = metrics
    app[LIVE_FIGURES] = LiveSources(routing=routing, clock=clock, open_counts=context.open_counts,
                                    sockets=sockets,
                                    ami_link_up=link).read
    checks: dict[str, Check] = {"database": context.ping}
    if redis_client is not None:
        checks["redis"] = redis_client.ping
    if link is not None:
        checks["ami"] = ami_check(link)
    app[READINESS] = Readiness(checks)



# Each channel's own parser, run on a new version: the queues a channel's section names must
# still exist (the same check a start-up makes).
CHANNEL_CHECKS: dict[str, Callable[[Mapping[str, Any], AppConfig], object]] = {
    "email": lambda raw, c: parse_email_config(raw, queues=c.queues),
    "sms": parse_sms_config,
    "x": lambda raw, c: parse_x_config(raw, queues=c.queues),
    "slack": lambda raw, c: parse_slack_config(raw, queues=c.queues),
    "twilio_voice": parse_twilio_voice_config,
}


def check_channels(config: AppConfig) -> None:
    """``ConfigError`` when a channel's section names what ``config`` lacks (a queue)."""
    for name, raw in config.channels.items():
        check = CHANNEL_CHECKS.get(name)
        if check is not None:
            check(raw, config)


def _token_secret(config: AppConfig, settings: ServerSettings) -> str:
    """The configured secret; else one kept in the data directory (one node, no Redis: build_app
    refuses Redis without a configured secret); else a new one, valid until the process ends."""
    if config.token_secret:
        return config.token_secret
    if settings.data_dir is not None:
        try:
            return token_secret(settings.data_dir)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"token secret in the data directory: {exc}") from exc
    return secrets.token_urlsafe(32)


def _throttle_storage(redis_client: Any, settings: ServerSettings) -> Storage:
    """Log-in failures are counted in Redis when the nodes share it (a guesser cannot spread
    attempts over nodes), in memory on one node."""
    if redis_client is None:
        return MemoryStorage()
    # The app's own connection pool: one set of connections, closed with the app's client.
    prefix = f"{settings.redis_prefix}:limits"
    return RedisStorage("async+redis://", implementation="redispy", key_prefix=prefix,
                        connection_pool=redis_client.connection_pool)
