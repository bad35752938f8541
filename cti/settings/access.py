"""``access:`` what each role may read (see docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AccessSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
