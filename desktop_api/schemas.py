"""Typed shapes of what clients send: reusable text types and the WebSocket commands.

``CleanText`` is free text (tabs and line breaks kept), ``Line`` one line (names, reason codes,
dispositions: anything that reaches a log line), ``Ident`` an id. The character rules are in
``cti.text``. Commands refuse keys they do not know, so a misspelt field is an error, not a silent
default. :func:`parse_command` maps pydantic's errors to our stable ``error_id``s.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from cti.errors import InvalidInput
from cti.text import bad_id, has_bad_line_chars, has_bad_text_chars

__all__ = ["COMMAND_MODELS", "CleanText", "Command", "Ident", "Line", "parse_command"]


def _clean_text(value: str) -> str:
    if has_bad_text_chars(value):
        raise PydanticCustomError("bad-characters", "control characters, NUL or lone surrogates")
    return value


def _line(value: str) -> str:
    if has_bad_line_chars(value):
        raise PydanticCustomError("bad-characters", "control characters or line breaks")
    return value


def _ident(value: str) -> str:
    why = bad_id(value)
    if why is not None:
        raise PydanticCustomError(why, "not a valid id")
    return value


CleanText = Annotated[str, AfterValidator(_clean_text)]
Line = Annotated[str, AfterValidator(_line)]
Ident = Annotated[str, AfterValidator(_ident)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    ref: Annotated[str, Field(max_length=200)] | int | None = None


class OnInteraction(Command):
    interaction_id: Ident


class Accept(OnInteraction):
    type: Literal["accept"]


class Reject(OnInteraction):
    type: Literal["reject"]


class Reply(OnInteraction):
    type: Literal["reply"]
    body: CleanText  # its length is the channel's rule, checked by the service (message-too-long)


class Note(OnInteraction):
    type: Literal["note"]
    body: CleanText


class Transfer(OnInteraction):
    type: Literal["transfer"]
    queue: Ident | None = None
    agent_id: Ident | None = None
    note: CleanText | None = None
    if_unavailable: Literal["refuse", "queue"] | None = None


class Complete(OnInteraction):
    type: Literal["complete"]
    disposition: Line
    note: CleanText | None = None


class Typing(OnInteraction):
    type: Literal["typing"]


class ConsultStart(OnInteraction):
    type: Literal["consult_start"]
    agent_id: Ident
    body: CleanText | None = None


class OnConsult(Command):
    consult_id: Ident


class ConsultSay(OnConsult):
    type: Literal["consult_say"]
    body: CleanText


class ConsultHandOver(OnConsult):
    type: Literal["consult_hand_over"]
    note: CleanText | None = None


class ConsultEnd(OnConsult):
    type: Literal["consult_end"]


class SetState(Command):
    type: Literal["set_state"]
    state: Line
    agent_id: Ident | None = None
    reason: Line | None = None


class Renew(Command):
    """The refreshed token, so the open socket lives on past the one it was opened with."""
    type: Literal["renew"]
    token: Annotated[str, Field(min_length=1, max_length=4096)]


COMMAND_MODELS: dict[str, type[Command]] = {
    "accept": Accept, "reject": Reject, "reply": Reply, "note": Note, "transfer": Transfer,
    "complete": Complete, "set_state": SetState, "renew": Renew, "typing": Typing,
    "consult_start": ConsultStart, "consult_say": ConsultSay, "consult_hand_over": ConsultHandOver,
    "consult_end": ConsultEnd,
}

# pydantic's error types -> our error ids; a custom validator's type is already ours.
_ERROR_IDS = {"extra_forbidden": "unknown-field"}


def parse_command(data: dict[str, Any]) -> Command:
    """The typed command in ``data`` (its ``type`` already known), or ``InvalidInput``."""
    model = COMMAND_MODELS[data["type"]]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = str(first["loc"][0]) if first["loc"] else "(command)"
        kind = str(first["type"])
        error_id = kind if kind in ("bad-characters", "bad-id") else _ERROR_IDS.get(kind, "bad-field")
        raise InvalidInput(error_id, f"{field!r}: {first['msg']}", field=field) from exc
