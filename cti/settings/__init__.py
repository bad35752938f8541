"""Typed sections of the configuration file, one module per concern.

Each section is a frozen pydantic model that refuses unknown keys, so a typo in a security
setting is an error at start-up rather than a default silently kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Section = TypeVar("Section", bound=BaseModel)


class SectionError(ValueError):
    """A section of the configuration is invalid; the message names the key's path."""


def parse_section(model: type[Section], raw: Any, name: str) -> Section:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SectionError(f"{name}: must be a mapping")
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join([name, *(str(p) for p in e['loc'])])}: {e['msg']}" for e in exc.errors())
        raise SectionError(problems) from exc
