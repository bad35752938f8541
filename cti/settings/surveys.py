"""``surveys:`` the one-question rating asked after an interaction is completed (``cti.surveys``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class SurveySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    # Where customers reach this server, for the survey links sent by e-mail and SMS
    # (``<public_url>/survey/<token>``); none: no link is sent on those channels.
    public_url: HttpUrl | None = None
    link_days: float = Field(default=7.0, gt=0, le=90)  # how long a link works
