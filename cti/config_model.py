"""The shape of the configuration file, as pydantic models: the boundary every configuration
crosses (the file at start-up, ``cti config check``, ``cti config import`` and the admin API).

Every model refuses keys it does not know; :func:`problems` turns pydantic's errors into one line
each with the key's path and, for an unknown key, the nearest known one (``queues[0].skillz:
unknown key, did you mean skills?``). Rules that span sections (an agent's team must exist) are
checked by ``cti.config`` after these.
"""

from __future__ import annotations

import datetime
import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from cti.domain import Channel, Role
from cti.settings.access import AccessSettings
from cti.settings.http import HttpSettings
from cti.settings.identity import IdentitySettings
from cti.settings.login import LoginSettings
from cti.settings.observe import LoggingSettings, MetricsSettings
from cti.settings.presence import PresenceSettings
from cti.settings.surveys import SurveySettings
from cti.settings.traffic import TrafficSettings
from cti.settings.webhooks import WebhookSettings
from cti.text import has_bad_line_chars

MIN_SECRET_BYTES = 32
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The sections an admin changes live (stored in the database, versioned); the others are the
# node's own (addresses, secrets, channel credentials) and are read from the file at start-up.
LIVE_SECTIONS = ("teams", "queues", "agents", "chat", "routing", "business_hours", "dispositions",
                 "away_reasons", "canned_replies")


class Strict(BaseModel):
    # No infinities: a target or a wait of 1e999 is a mistake, and JSON in PostgreSQL has none.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _levels(raw: Any) -> Any:
    # A bare list of skills means level 1 each: the file's older, shorter form.
    if isinstance(raw, list):
        return {str(name): 1 for name in raw}
    return {} if raw is None else raw


def _check_levels(levels: dict[str, int]) -> dict[str, int]:
    for name, level in levels.items():
        if not 1 <= level <= 10:
            raise ValueError(f"skill {name!r} level must be an integer 1-10")
    return levels


def _known_channels(values: dict[str, Any]) -> dict[str, Any]:
    for name in values:
        if name not in Channel.__members__.values():
            raise ValueError(f"unknown channel or bad value {name!r} (known: "
                             f"{', '.join(c.value for c in Channel)})")
    return values


Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")]
Levels = Annotated[dict[str, Annotated[int, Field(strict=True)]], BeforeValidator(_levels)]
Text = Annotated[str, Field(max_length=4000)]


def _one_line(value: str) -> str:
    if has_bad_line_chars(value):
        raise ValueError("must be one line without control characters")
    return value


# A disposition or away reason: it reaches log lines and the audit.
Label = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_one_line)]


class TeamModel(Strict):
    name: Name
    supervisors: list[Name] = Field(default_factory=list)


class OverflowRule(Strict):
    """After ``after`` seconds of waiting (counted from the start of the wait), the interaction
    moves to ``to_queue`` (its skills and service target), or its required skill levels are
    lowered to ``widen`` (a level of 0 drops that requirement). One of the two, or both."""

    after: float = Field(gt=0, le=7 * 86400)
    to_queue: Name | None = None
    widen: dict[str, Annotated[int, Field(strict=True, ge=0, le=10)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something(self) -> OverflowRule:
        if self.to_queue is None and not self.widen:
            raise ValueError("an overflow rule needs to_queue or widen (or both)")
        return self


class QueueModel(Strict):
    name: Name
    skills: Levels = Field(default_factory=dict)
    service_targets: dict[str, float] = Field(default_factory=dict)
    wrap_up_seconds: float = Field(default=0.0, ge=0, le=3600)
    address: str | None = None
    teams: list[Name] = Field(default_factory=list)
    # 1..10, multiplies the urgency of this queue's work (router/policy.py): 2 is served as if it
    # had waited twice as long.
    priority: int = Field(default=1, ge=1, le=10)
    overflow: list[OverflowRule] = Field(default_factory=list)
    hours: Name | None = None  # a ``business_hours`` entry; none: always open
    # An offer of this queue's work that the agent lets time out (or their phone does not
    # answer) sets them away with reason "no-answer" (issue 12: no stranded customer).
    missed_offer_away: StrictBool = True
    # A transfer to one agent of this queue's work goes to the whole queue when that agent has
    # not taken it after this long; none: ``routing.transfer_fallback_seconds``.
    transfer_fallback_seconds: float | None = Field(default=None, gt=0, le=86400)
    # Past this wait a chat visitor is offered a callback (an e-mail or a phone number); none: never.
    max_wait: float | None = Field(default=None, gt=0, le=7 * 86400)

    _skills = field_validator("skills")(_check_levels)

    @field_validator("service_targets")
    @classmethod
    def _targets(cls, value: dict[str, float]) -> dict[str, float]:
        for name, target in _known_channels(value).items():
            if target <= 0:
                raise ValueError(f"service target for {name!r} must be more than 0 seconds")
        return value


class AgentModel(Strict):
    id: Name
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    role: str = "agent"
    team: Name | None = None
    skills: Levels = Field(default_factory=dict)
    capacity: dict[str, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: {"voice": 1, "chat": 3, "email": 5, "callback": 1})
    password: str = Field(default="", max_length=400, repr=False)
    endpoints: dict[str, str] = Field(default_factory=dict)

    _skills = field_validator("skills")(_check_levels)
    _capacity = field_validator("capacity")(_known_channels)

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in Role.__members__.values():
            raise ValueError(f"unknown role {value!r} (agent, supervisor or admin)")
        return value


class ChatModel(Strict):
    queue: Name | None = None  # none: the first queue
    skills: Levels = Field(default_factory=dict)
    reconnect_grace: float = Field(default=60.0, ge=0, le=86400)
    # How often a waiting visitor's place in the queue and estimated wait are refreshed.
    queue_status_seconds: float = Field(default=3.0, ge=0.2, le=60)

    _skills = field_validator("skills")(_check_levels)


class PriorityModel(Strict):
    """Priority (1..10) given to new work by configuration: the highest that applies wins, and
    the queue's own ``priority`` multiplies it (router/policy.py)."""

    # channel -> priority: every new interaction on that channel.
    channels: dict[str, Annotated[int, Field(strict=True, ge=1, le=10)]] = Field(default_factory=dict)
    # context key -> value -> priority: what the IVR collected ("ivr.reason": {"fraud": 5}), the
    # digits a caller keyed ("ivr.account"), a chat's page ("chat.page").
    context: dict[Annotated[str, Field(min_length=1, max_length=100)],
                  dict[Annotated[str, Field(max_length=200)],
                       Annotated[int, Field(strict=True, ge=1, le=10)]]] = Field(default_factory=dict)

    _channels = field_validator("channels")(_known_channels)


class RoutingModel(Strict):
    offer_timeout: float = Field(default=20.0, gt=0, le=3600)
    preferred_window: float = Field(default=3600.0, ge=0)
    # A transfer to an agent who cannot take it now: "refuse" (409 agent-unavailable) or "queue"
    # (wait for that agent, then the queue after ``transfer_fallback_seconds``). The caller of
    # the transfer may choose per transfer (docs/api.md).
    transfer_unavailable: Literal["refuse", "queue"] = "refuse"
    transfer_fallback_seconds: float = Field(default=60.0, gt=0, le=86400)
    priority: PriorityModel = Field(default_factory=PriorityModel)


_SPAN = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


class HoursModel(Strict):
    """When queues that name these hours are open: spans per weekday in ``timezone``, closed on
    ``holidays`` (dates in the same zone). A weekday not listed is closed all day."""

    timezone: str = "UTC"
    days: dict[str, list[str]] = Field(default_factory=dict)
    holidays: list[datetime.date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("days")
    @classmethod
    def _spans(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r} ({', '.join(WEEKDAYS)})")
            for span in spans:
                found = _SPAN.match(span)
                if found is None or found.group(1, 2) >= found.group(3, 4):
                    raise ValueError(f"{day}: {span!r} is not a span like 08:30-17:00")
        return value


class CannedReplyModel(Strict):
    id: Name
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Text  # may hold variables such as {customer.name} (cti.canned)
    teams: list[Name] = Field(default_factory=list)  # who reads it (cti.canned); none: everyone
    article: Name | None = None  # a knowledge article whose public part follows the body


class AmiModel(Strict):
    """The Asterisk link and the dial-plan names it relies on (see asterisk-config/)."""

    host: Annotated[str, Field(min_length=1)]
    port: int = Field(default=5038, ge=1, le=65_535)
    username: str = "cti"
    secret: str = Field(default="", repr=False)
    hold_context: str = "cti-hold"  # callers wait here; a transfer to a queue re-enters it
    connect_context: str = "cti-connect"  # the Originate to an agent bridges to CTI_CALLER
    agents_context: str = "cti-agents"  # agents' extensions, target of consult transfers
    dialout_context: str = "cti-dialout"  # click-to-dial
    fallback_queue: str = "fallback"  # the Asterisk queue callers fall back to
    default_queue: str | None = None  # our queue for a caller whose Queue header is unknown
    heartbeat_seconds: float = Field(default=10.0, gt=0)  # how often CTI_HEARTBEAT is refreshed
    recording_dir: str = "/var/spool/asterisk/monitor"


def _str(raw: Any) -> Any:
    return str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw


class ConfigModel(Strict):
    demo: StrictBool = False
    routing: RoutingModel = Field(default_factory=RoutingModel)
    teams: list[TeamModel] = Field(default_factory=list)
    queues: list[QueueModel] = Field(default_factory=list)
    chat: ChatModel = Field(default_factory=ChatModel)
    agents: list[AgentModel] = Field(default_factory=list)
    business_hours: dict[Name, HoursModel] = Field(default_factory=dict)
    dispositions: list[Label] = Field(default_factory=list)
    away_reasons: list[Label] = Field(default_factory=list)
    canned_replies: list[CannedReplyModel] = Field(default_factory=list)
    max_message_chars: int = Field(default=4000, ge=1, le=1_000_000)
    default_country_code: Annotated[str, BeforeValidator(_str)] = "1"
    token_secret: str | None = Field(default=None, repr=False)
    token_ttl: float = Field(default=8 * 3600.0, gt=0)
    ami: AmiModel | None = None
    # Each written channel's section is read by its adapter package, which refuses what it
    # does not know itself.
    channels: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    login: LoginSettings = Field(default_factory=LoginSettings)
    traffic: TrafficSettings = Field(default_factory=TrafficSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    presence: PresenceSettings = Field(default_factory=PresenceSettings)
    surveys: SurveySettings = Field(default_factory=SurveySettings)

    @field_validator("token_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < MIN_SECRET_BYTES:
            # Never echo the value: it is a secret.
            raise ValueError(f"must be a string of at least {MIN_SECRET_BYTES} bytes "
                             "(HMAC-SHA256 keys shorter than the hash are guessable)")
        return value


# --- errors ---------------------------------------------------------------------------------------

def path_text(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            found = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = found[0] if found else annotation
            if len(found) <= 1:
                continue
            return annotation
        else:
            return annotation


def known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the model at ``loc`` (a path into ``model``) knows; none if it is not a model."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
            continue
        origin, args = typing.get_origin(current), typing.get_args(current)
        if origin in (list, tuple) and args:
            current = args[0]
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def problems(exc: ValidationError, model: type[BaseModel], *, prefix: Sequence[int | str] = (),
             limit: int = 10) -> list[str]:
    """One line per problem: the key's path and what is wrong (never the value: it may be a
    secret), with the nearest known key for an unknown one."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [*prefix, *error["loc"]]
        where = path_text(loc)
        if error["type"] == "extra_forbidden":
            key = str(loc[-1])
            close = difflib.get_close_matches(key, known_keys(model, error["loc"][:-1]), n=1, cutoff=0.6)
            lines.append(f"{where}: unknown key" + (f", did you mean {close[0]}?" if close else ""))
        else:
            lines.append(f"{where or '(top level)'}: {error['msg']}")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def validate_model(data: Mapping[str, Any]) -> ConfigModel:
    """The file's data as a ``ConfigModel``, or ``ValueError`` with every problem on its line."""
    try:
        return ConfigModel.model_validate(dict(data))
    except ValidationError as exc:
        raise ValueError("; ".join(problems(exc, ConfigModel))) from exc
