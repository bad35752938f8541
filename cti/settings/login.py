"""``login:`` passwords, throttling and tokens (see docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LoginSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
