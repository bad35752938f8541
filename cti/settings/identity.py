"""``identity:`` how customers prove who they are (see docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class IdentitySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
