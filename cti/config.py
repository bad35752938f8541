"""The server configuration: agents, teams, queues, skills and service targets.

Read from a YAML or TOML file by the composition root, checked by the models of
``cti.config_model``, into frozen dataclasses. The live sections (``LIVE_SECTIONS``) are then
replaced by the version stored in the database, and again at every change an admin makes.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from cti.config_env import UnsetVariable, substitute
from cti.config_model import LIVE_SECTIONS, MIN_SECRET_BYTES, AmiModel, ConfigModel, validate_model
from cti.domain import AgentProfile, BusinessHours, Channel, Overflow, QueueConfig, Role
from cti.identities import region_for_country_code
from cti.passwords import HashKind, hash_kind
from cti.priority import PriorityRules
from cti.settings.access import AccessSettings
from cti.settings.http import HttpSettings
from cti.settings.identity import IdentitySettings
from cti.settings.login import LoginSettings
from cti.settings.observe import LoggingSettings, MetricsSettings
from cti.settings.presence import PresenceSettings
from cti.settings.surveys import SurveySettings
from cti.settings.traffic import TrafficSettings
from cti.settings.webhooks import WebhookSettings


class ConfigError(ValueError):
    """The configuration file is unreadable or inconsistent; the message says where."""


__all__ = ["MIN_SECRET_BYTES", "AmiConfig", "AppConfig", "CannedReply", "ChatConfig", "ConfigError",
           "TeamConfig", "load_config", "parse_config", "read_file", "with_live"]


@dataclass(frozen=True, slots=True)
class TeamConfig:
    name: str
    supervisors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatConfig:
    queue: str
    skills: Mapping[str, int] = field(default_factory=dict)
    # A visitor whose socket drops gets this long to come back to the same conversation.
    reconnect_grace: float = 60.0
    queue_status_seconds: float = 3.0  # how often a waiting visitor's position is refreshed


# The Asterisk link's settings are its checked model itself: a copy as a dataclass would repeat
# every field and default.
AmiConfig = AmiModel


@dataclass(frozen=True, slots=True)
class CannedReply:
    id: str
    title: str
    body: str
    teams: tuple[str, ...] = ()  # none: every team's desk
    article: str | None = None  # a knowledge article's id: its public part follows the body


@dataclass(frozen=True, slots=True)
class AppConfig:
    agents: Mapping[str, AgentProfile]
    teams: Mapping[str, TeamConfig]
    queues: Mapping[str, QueueConfig]
    chat: ChatConfig
    offer_timeout: float = 20.0
    preferred_window: float = 3600.0
    # issue 12: a transfer to an agent who cannot take it now ("refuse" or "queue"), and how
    # long work transferred to one agent waits for them before it goes to the whole queue.
    transfer_unavailable: str = "refuse"
    transfer_fallback_seconds: float = 60.0
    priority: PriorityRules = field(default_factory=lambda: PriorityRules())
    max_message_chars: int = 4000
    default_country_code: str = "1"
    token_secret: str | None = field(default=None, repr=False)
    token_ttl: float = 8 * 3600.0  # a working day: a stolen token is good for one shift at most
    ami: AmiConfig | None = None
    # Written channels (email, sms, x, slack): each section is read by its adapter package.
    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    login: LoginSettings = field(default_factory=LoginSettings)
    traffic: TrafficSettings = field(default_factory=TrafficSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    # A demo configuration (top-level `demo: true`): well-known plain passwords are accepted, and
    # `cti serve` keeps it on loopback unless told --allow-demo.
    demo: bool = False
    # issue 12: when an agent whose desktop is gone is set away (cti.presence).
    presence: PresenceSettings = field(default_factory=PresenceSettings)
    surveys: SurveySettings = field(default_factory=SurveySettings)
    business_hours: Mapping[str, BusinessHours] = field(default_factory=dict)
    dispositions: tuple[str, ...] = ()
    away_reasons: tuple[str, ...] = ()
    canned_replies: tuple[CannedReply, ...] = ()
    # The live sections as validated (``config_model.LIVE_SECTIONS``): what the database stores
    # and ``cti config export`` prints. Holds password hashes: never shown.
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def phone_region(self) -> str:
        """Where national phone numbers belong: ``identity.default_region``, else the region of
        the older ``default_country_code``."""
        return self.identity.default_region or region_for_country_code(self.default_country_code)

    def team_of(self, agent_id: str) -> str | None:
        agent = self.agents.get(agent_id)
        return agent.team if agent else None


def parse_config(data: Mapping[str, Any]) -> AppConfig:
    """The configuration from a file's (or the database's) data: the models check each section,
    then the rules that span sections (names that must exist elsewhere) are checked here."""
    try:
        model = validate_model(data)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return from_model(model)


def from_model(model: ConfigModel) -> AppConfig:
    teams = {t.name: TeamConfig(name=t.name, supervisors=tuple(t.supervisors)) for t in model.teams}
    hours = {name: BusinessHours(timezone=h.timezone, days={d: tuple(s) for d, s in h.days.items()},
                                 holidays=frozenset(h.holidays))
             for name, h in model.business_hours.items()}
    queues: dict[str, QueueConfig] = {}
    for q in model.queues:
        where = f"queue {q.name!r}"
        if q.name in queues:
            raise ConfigError(f"{where}: a second queue of that name")
        unknown = [t for t in q.teams if t not in teams]
        if unknown:
            raise ConfigError(f"{where}: unknown teams {unknown}")
        if q.hours is not None and q.hours not in hours:
            raise ConfigError(f"{where}: unknown business_hours {q.hours!r}")
        queues[q.name] = QueueConfig(
            name=q.name, skills=dict(q.skills),
            service_targets={Channel(c): float(v) for c, v in q.service_targets.items()},
            wrap_up_seconds=q.wrap_up_seconds, address=q.address, teams=tuple(q.teams),
            priority=q.priority,
            overflow=tuple(sorted((Overflow(after=o.after, to_queue=o.to_queue, widen=dict(o.widen))
                                   for o in q.overflow), key=lambda o: o.after)),
            hours=q.hours, missed_offer_away=q.missed_offer_away,
            transfer_fallback_seconds=q.transfer_fallback_seconds, max_wait=q.max_wait)
    if not queues:
        raise ConfigError("the configuration needs at least one queue")
    for queue in queues.values():
        for rule in queue.overflow:
            if rule.to_queue is not None and (rule.to_queue not in queues or rule.to_queue == queue.name):
                raise ConfigError(f"queue {queue.name!r}: overflow to unknown queue {rule.to_queue!r}")
    _no_overflow_loop(queues)
    agents: dict[str, AgentProfile] = {}
    for a in model.agents:
        where = f"agent {a.id!r}"
        if a.id in agents:
            raise ConfigError(f"{where}: a second agent of that id")
        if a.team is not None and a.team not in teams:
            raise ConfigError(f"{where}: unknown team {a.team!r}")
        agents[a.id] = AgentProfile(
            id=a.id, name=a.name or a.id, role=Role(a.role), team=a.team, skills=dict(a.skills),
            capacity={Channel(c): n for c, n in a.capacity.items()},
            password=_password(a.password, where, demo=model.demo), endpoints=dict(a.endpoints))
    for team in teams.values():
        for sup in team.supervisors:
            if sup not in agents:
                raise ConfigError(f"team {team.name!r}: unknown supervisor {sup!r}")
    for reply in model.canned_replies:
        unknown = [t for t in reply.teams if t not in teams]
        if unknown:
            raise ConfigError(f"canned reply {reply.id!r}: unknown teams {unknown}")
    chat_queue = model.chat.queue or next(iter(queues))
    if chat_queue not in queues:
        raise ConfigError(f"chat: unknown queue {chat_queue!r}")
    return AppConfig(
        identity=model.identity, access=model.access, login=model.login, traffic=model.traffic,
        http=model.http, webhooks=model.webhooks, metrics=model.metrics, logging=model.logging,
        presence=model.presence, surveys=model.surveys,
        channels={str(k): dict(v or {}) for k, v in model.channels.items()},
        ami=_ami(model.ami, queues),
        agents=agents, teams=teams, queues=queues,
        chat=ChatConfig(queue=chat_queue, skills=dict(model.chat.skills),
                        reconnect_grace=model.chat.reconnect_grace,
                        queue_status_seconds=model.chat.queue_status_seconds),
        offer_timeout=model.routing.offer_timeout,
        preferred_window=model.routing.preferred_window,
        transfer_unavailable=model.routing.transfer_unavailable,
        transfer_fallback_seconds=model.routing.transfer_fallback_seconds,
        priority=PriorityRules(
            channels={Channel(c): p for c, p in model.routing.priority.channels.items()},
            context={k: dict(v) for k, v in model.routing.priority.context.items()}),
        max_message_chars=model.max_message_chars,
        default_country_code=model.default_country_code,
        token_secret=model.token_secret,
        token_ttl=model.token_ttl,
        demo=model.demo,
        business_hours=hours, dispositions=tuple(model.dispositions),
        away_reasons=tuple(model.away_reasons),
        canned_replies=tuple(CannedReply(id=c.id, title=c.title, body=c.body, teams=tuple(c.teams),
                                         article=c.article)
                             for c in model.canned_replies),
        document=model.model_dump(mode="json", include=set(LIVE_SECTIONS)),
    )


def _no_overflow_loop(queues: Mapping[str, QueueConfig]) -> None:
    """Refuse overflow rules that lead back to where they started: work would go round for ever."""
    def walk(path: list[str]) -> None:
        for rule in queues[path[-1]].overflow:
            if rule.to_queue is None:
                continue
            if rule.to_queue in path:
                raise ConfigError(f"queue {path[0]!r}: overflow goes round in a loop "
                                  f"({' -> '.join([*path, rule.to_queue])})")
            walk([*path, rule.to_queue])

    for start in queues:
        walk([start])


def _password(raw: str, where: str, *, demo: bool) -> str:
    stored = str(raw)
    try:
        kind = hash_kind(stored)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc  # never echo the value: it may be a password
    if kind is HashKind.PLAIN and not demo:
        raise ConfigError(f"{where}: a plain-text password; put the hash `cti hash-password` prints "
                          "(plain passwords are accepted only in a configuration marked `demo: true`)")
    return stored


def _ami(raw: AmiModel | None, queues: Mapping[str, QueueConfig]) -> AmiConfig | None:
    if raw is None:
        return None
    if raw.default_queue is not None and raw.default_queue not in queues:
        raise ConfigError(f"ami: unknown default_queue {raw.default_queue!r}")
    return raw


# What the live sections set on an AppConfig; the node's own fields stay as the file set them.
LIVE_FIELDS = ("agents", "teams", "queues", "chat", "offer_timeout", "preferred_window",
               "transfer_unavailable", "transfer_fallback_seconds", "priority", "business_hours",
               "dispositions", "away_reasons", "canned_replies", "document")


def with_live(base: AppConfig, document: Mapping[str, Any]) -> AppConfig:
    """``base`` with ``document`` as its live sections, checked as the file is (``ConfigError``).
    What in the node's sections refers to the live ones (the AMI default queue) is checked too."""
    node: dict[str, Any] = {"demo": base.demo}
    if base.ami is not None:
        node["ami"] = {"host": base.ami.host, "default_queue": base.ami.default_queue}
    parsed = parse_config({**node, **document})
    return replace(base, **{name: getattr(parsed, name) for name in LIVE_FIELDS})


def read_file(path: str | Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """A YAML or TOML file's data, environment variables substituted."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text) if p.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: the top level must be a mapping")
    try:
        substituted: dict[str, Any] = substitute(dict(data), environ)
    except UnsetVariable as exc:
        raise ConfigError(str(exc)) from exc
    return substituted


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> AppConfig:
    """``environ``: where ``${NAME}`` is looked up (the CLI passes the process environment)."""
    return parse_config(read_file(path, os.environ if environ is None else environ))


DEMO_CONFIG = Path(__file__).with_name("demo.yaml")
