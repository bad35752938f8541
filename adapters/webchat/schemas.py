"""The visitor socket's frames, as typed models: unknown keys are refused, every string bounded.

``parse_frame`` turns a decoded JSON object into one of the models or an ``InvalidInput`` whose
``error_id`` says what was wrong (``unknown-type``, ``unknown-field``, ``field-too-long``,
``bad-field``) and whose ``field`` names the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from cti.errors import InvalidInput

MAX_BODY = 64 * 1024  # the socket's frame limit; the service's own message limit is lower
MAX_NAME = 100
# A visitor id is ours ("vis-" and a uuid); the pattern keeps anything else out of lookups and logs.
VisitorId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
SiteId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Hello(_Frame):
    """The first frame of a socket: who the visitor is, as far as they can tell or prove."""

    type: Literal["hello"]
    visitor_id: VisitorId | None = None  # from an earlier welcome
    session_secret: str | None = Field(default=None, max_length=128)  # from the same welcome
    name: str | None = Field(default=None, max_length=MAX_NAME)
    email: str | None = Field(default=None, max_length=254)  # typed: a claim
    phone: str | None = Field(default=None, max_length=40)  # typed: a claim
    page: str | None = Field(default=None, max_length=4096)  # where the widget is; kept to 500
    site: SiteId | None = None  # the embedding website, whose secret signs ``identifier``
    identifier: str | None = Field(default=None, min_length=1, max_length=254)
    identifier_hash: str | None = Field(default=None, max_length=128)  # hex HMAC-SHA256


class ChatText(_Frame):
    type: Literal["message"]
    body: str = Field(max_length=MAX_BODY)


class Leave(_Frame):
    type: Literal["leave"]


class Typing(_Frame):
    """The visitor is typing: shown to the agent, never stored (cti.typing_signal)."""

    type: Literal["typing"]


class SendCode(_Frame):
    """Send a one-time code to the e-mail address or phone the visitor typed in ``hello``."""

    type: Literal["send_code"]
    to: Literal["email", "phone"]


class VerifyCode(_Frame):
    type: Literal["verify_code"]
    code: str = Field(min_length=1, max_length=32)


class CallbackRequest(_Frame):
    """Call or write me back instead (offered once the queue's maximum wait has passed): an
    e-mail address, a phone number or both, as typed (claims)."""

    type: Literal["callback"]
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)


AnyFrame = Hello | ChatText | Leave | SendCode | VerifyCode | CallbackRequest | Typing
Frame = Annotated[AnyFrame, Field(discriminator="type")]
_FRAMES: TypeAdapter[Frame] = TypeAdapter(Frame)
TYPES = frozenset({"hello", "message", "leave", "send_code", "verify_code", "callback", "typing"})


def parse_frame(data: Mapping[str, Any]) -> AnyFrame:
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise InvalidInput("unknown-type", f"unknown message type {str(kind)[:40]!r}")
    try:
        return _FRAMES.validate_python(dict(data))
    except ValidationError as exc:
        raise _refusal(exc) from None


def _refusal(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    # The location starts with the union's tag ("hello", ...); the rest is the field's path.
    field = ".".join(str(part) for part in first["loc"][1:]) or "type"
    if first["type"] == "extra_forbidden":
        return InvalidInput("unknown-field", f"unknown field {field!r}", field=field)
    if first["type"] == "string_too_long":
        limit = (first.get("ctx") or {}).get("max_length")
        return InvalidInput("field-too-long", f"{field!r} exceeds {limit} characters", field=field,
                            limit=limit)
    return InvalidInput("bad-field", f"{field!r}: {first['msg']}", field=field)
