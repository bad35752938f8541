"""``traffic:`` limits that keep hostile or slow clients from stalling anyone else."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TrafficSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
