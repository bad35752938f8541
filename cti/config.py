"""The server configuration: agents, teams, queues, skills and service targets.

Read from a YAML or TOML file once, by the composition root, into frozen dataclasses.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cti.domain import AgentProfile, Channel, QueueConfig, Role
from cti.identities import region_for_country_code
from cti.passwords import HashKind, hash_kind
from cti.settings import SectionError, parse_section
from cti.settings.access import AccessSettings
from cti.settings.http import HttpSettings
from cti.settings.identity import IdentitySettings
from cti.settings.login import LoginSettings
from cti.settings.observe import LoggingSettings, MetricsSettings
from cti.settings.presence import PresenceSettings
from cti.settings.traffic import TrafficSettings
from cti.settings.webhooks import WebhookSettings


class ConfigError(ValueError):
    """The configuration file is unreadable or inconsistent; the message says where."""


MIN_SECRET_BYTES = 32


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


@dataclass(frozen=True, slots=True)
class AmiConfig:
    """The Asterisk link and the dial-plan names it relies on (see asterisk-config/)."""

    host: str
    port: int = 5038
    username: str = "cti"
    secret: str = field(default="", repr=False)
    hold_context: str = "cti-hold"  # callers wait here; a transfer to a queue re-enters it
    connect_context: str = "cti-connect"  # the Originate to an agent bridges to CTI_CALLER
    agents_context: str = "cti-agents"  # agents' extensions, target of consult transfers
    dialout_context: str = "cti-dialout"  # click-to-dial
    fallback_queue: str = "fallback"  # the Asterisk queue callers fall back to
    default_queue: str | None = None  # our queue for a caller whose Queue header is unknown
    heartbeat_seconds: float = 10.0  # how often CTI_HEARTBEAT is refreshed
    recording_dir: str = "/var/spool/asterisk/monitor"


@dataclass(frozen=True, slots=True)
class AppConfig:
    agents: Mapping[str, AgentProfile]
    teams: Mapping[str, TeamConfig]
    queues: Mapping[str, QueueConfig]
    chat: ChatConfig
    offer_timeout: float = 20.0
    preferred_window: float = 3600.0
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

    @property
    def phone_region(self) -> str:
        """Where national phone numbers belong: ``identity.default_region``, else the region of
        the older ``default_country_code``."""
        return self.identity.default_region or region_for_country_code(self.default_country_code)

    def team_of(self, agent_id: str) -> str | None:
        agent = self.agents.get(agent_id)
        return agent.team if agent else None


def _levels(raw: Any, where: str) -> dict[str, int]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        return {str(name): 1 for name in raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: skills must be a mapping of skill to level")
    out: dict[str, int] = {}
    for name, level in raw.items():
        if not isinstance(level, int) or not 1 <= level <= 10:
            raise ConfigError(f"{where}: skill {name!r} level must be an integer 1-10")
        out[str(name)] = level
    return out


def _channel_map(raw: Any, where: str, cast: type[int] | type[float]) -> dict[Channel, Any]:
    out: dict[Channel, Any] = {}
    for name, value in (raw or {}).items():
        try:
            out[Channel(name)] = cast(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: unknown channel or bad value {name!r}: {value!r}") from exc
    return out


def _queue_teams(raw: Any, where: str, teams: Mapping[str, TeamConfig]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ConfigError(f"{where}: teams must be a list of team names")
    unknown = [t for t in raw if t not in teams]
    if unknown:
        raise ConfigError(f"{where}: unknown teams {unknown}")
    return tuple(raw)


def _flag(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{where}: true or false")
    return raw


def parse_config(data: Mapping[str, Any]) -> AppConfig:
    teams = {
        t["name"]: TeamConfig(name=t["name"], supervisors=tuple(t.get("supervisors", ())))
        for t in data.get("teams", [])
    }
    queues: dict[str, QueueConfig] = {}
    for q in data.get("queues", []):
        where = f"queue {q.get('name')!r}"
        if not q.get("name"):
            raise ConfigError("every queue needs a name")
        queues[q["name"]] = QueueConfig(
            name=q["name"],
            skills=_levels(q.get("skills"), where),
            service_targets=_channel_map(q.get("service_targets"), where, float),
            wrap_up_seconds=float(q.get("wrap_up_seconds", 0)),
            address=q.get("address"),
            teams=_queue_teams(q.get("teams"), where, teams),
            missed_offer_away=_flag(q.get("missed_offer_away", True), f"{where}: missed_offer_away"),
        )
    if not queues:
        raise ConfigError("the configuration needs at least one queue")
    demo = data.get("demo", False)
    if not isinstance(demo, bool):
        raise ConfigError("demo: true or false")
    agents: dict[str, AgentProfile] = {}
    for a in data.get("agents", []):
        where = f"agent {a.get('id')!r}"
        if not a.get("id"):
            raise ConfigError("every agent needs an id")
        try:
            role = Role(a.get("role", "agent"))
        except ValueError as exc:
            raise ConfigError(f"{where}: unknown role {a.get('role')!r}") from exc
        team = a.get("team")
        if team is not None and team not in teams:
            raise ConfigError(f"{where}: unknown team {team!r}")
        agents[a["id"]] = AgentProfile(
            id=a["id"], name=a.get("name", a["id"]), role=role, team=team,
            skills=_levels(a.get("skills"), where),
            capacity=_channel_map(a.get("capacity", {"voice": 1, "chat": 3, "email": 5}), where, int),
            password=_password(a.get("password", ""), where, demo=demo),
            endpoints=dict(a.get("endpoints", {})),
        )
    for team in teams.values():
        for sup in team.supervisors:
            if sup not in agents:
                raise ConfigError(f"team {team.name!r}: unknown supervisor {sup!r}")
    chat_raw = data.get("chat", {})
    chat_queue = chat_raw.get("queue", next(iter(queues)))
    if chat_queue not in queues:
        raise ConfigError(f"chat: unknown queue {chat_queue!r}")
    routing = data.get("routing", {})
    secret = data.get("token_secret")
    if secret is not None and (not isinstance(secret, str) or len(secret.encode()) < MIN_SECRET_BYTES):
        raise ConfigError(f"token_secret: must be a string of at least {MIN_SECRET_BYTES} bytes "
                          "(HMAC-SHA256 keys shorter than the hash are guessable)")
    channels = data.get("channels") or {}
    if not isinstance(channels, Mapping) or not all(isinstance(v, Mapping | None) for v in channels.values()):
        raise ConfigError("channels: a mapping of channel name to its settings")
    try:
        identity = parse_section(IdentitySettings, data.get("identity"), "identity")
        access = parse_section(AccessSettings, data.get("access"), "access")
        login = parse_section(LoginSettings, data.get("login"), "login")
        traffic = parse_section(TrafficSettings, data.get("traffic"), "traffic")
        http = parse_section(HttpSettings, data.get("http"), "http")
        webhooks = parse_section(WebhookSettings, data.get("webhooks"), "webhooks")
        metrics = parse_section(MetricsSettings, data.get("metrics"), "metrics")
        logging = parse_section(LoggingSettings, data.get("logging"), "logging")
        presence = parse_section(PresenceSettings, data.get("presence"), "presence")
    except SectionError as exc:
        raise ConfigError(str(exc)) from exc
    return AppConfig(
        identity=identity, access=access, login=login, traffic=traffic, http=http, webhooks=webhooks,
        metrics=metrics, logging=logging,
        channels={str(k): dict(v or {}) for k, v in channels.items()},
        ami=_ami(data.get("ami"), queues),
        agents=agents, teams=teams, queues=queues,
        chat=ChatConfig(queue=chat_queue, skills=_levels(chat_raw.get("skills"), "chat"),
                        reconnect_grace=float(chat_raw.get("reconnect_grace", 60))),
        offer_timeout=float(routing.get("offer_timeout", 20)),
        preferred_window=float(routing.get("preferred_window", 3600)),
        max_message_chars=int(data.get("max_message_chars", 4000)),
        default_country_code=str(data.get("default_country_code", "1")),
        token_secret=secret,
        token_ttl=float(data.get("token_ttl", 8 * 3600)),
        demo=demo,
        presence=presence,
    )


def _password(raw: Any, where: str, *, demo: bool) -> str:
    stored = str(raw)
    try:
        kind = hash_kind(stored)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc  # never echo the value: it may be a password
    if kind is HashKind.PLAIN and not demo:
        raise ConfigError(f"{where}: a plain-text password; put the hash `cti hash-password` prints "
                          "(plain passwords are accepted only in a configuration marked `demo: true`)")
    return stored


def _ami(raw: Any, queues: Mapping[str, QueueConfig]) -> AmiConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not raw.get("host"):
        raise ConfigError("ami: a mapping with at least a host")
    known = set(AmiConfig.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"ami: unknown keys {sorted(unknown)}")
    values = dict(raw)
    if "port" in values:
        values["port"] = int(values["port"])
    if "heartbeat_seconds" in values:
        values["heartbeat_seconds"] = float(values["heartbeat_seconds"])
    default_queue = values.get("default_queue")
    if default_queue is not None and default_queue not in queues:
        raise ConfigError(f"ami: unknown default_queue {default_queue!r}")
    return AmiConfig(**values)


def load_config(path: str | Path) -> AppConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text) if p.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: the top level must be a mapping")
    try:
        return parse_config(data)
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{p}: {exc!r}") from exc


DEMO_CONFIG = Path(__file__).with_name("demo.yaml")
