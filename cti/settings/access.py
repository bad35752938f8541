"""``access:`` what each role may read (see docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AccessSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Days after an agent last held a customer's interaction that they may still read that
    # customer (profile, timeline, files, search). 30: a month covers a customer's follow-ups
    # to the same agent without leaving every past customer open to every agent for ever.
    agent_history_days: float = Field(default=30.0, ge=0, le=3650)
    # Longest a supervisor may share a customer with an agent, in days (a share is an exception).
    max_share_days: float = Field(default=30.0, gt=0, le=365)
    # Most customers one search returns (a search is for finding one, not for listing them all).
    max_search_results: int = Field(default=25, ge=1, le=200)
