"""``webhooks:`` other systems told of interaction events (see docs/webhooks.md).

Each subscriber has a name (its deliveries are listed and replayed under it), a URL, a secret
that signs every delivery, and the events it wants, from the allow-list in
``cti.webhooks.events``. The retry and queue settings are shared by every subscriber.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from cti.retry import Backoff
from cti.webhooks.addresses import check_url
from cti.webhooks.events import WEBHOOK_EVENTS

MIN_SECRET_BYTES = 32  # as the token secret: an HMAC-SHA256 key shorter than the hash is guessable

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class SubscriberSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    url: str = Field(min_length=1, max_length=2000)
    secret: SecretStr
    events: tuple[str, ...] = Field(min_length=1)

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes")  # never echo the value
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [e for e in value if e not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(f"unknown events {unknown}; known: {', '.join(WEBHOOK_EVENTS)}")
        return tuple(dict.fromkeys(value))


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subscribers: tuple[SubscriberSettings, ...] = ()
    # Default false: a subscriber URL on a private, loopback or link-local address is refused,
    # so a subscription cannot make the server reach what only it can see.
    allow_private_addresses: bool = False
    # Seconds one attempt may take, connect to last byte. Default 10: a subscriber that answers
    # later is treated as down and tried again, rather than holding its worker.
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Retries: the first after this many seconds, doubling up to the ceiling, none started more
    # than give_up_after_seconds after the first attempt (default a day); then the delivery is
    # kept as failed for an admin to replay.
    first_retry_seconds: float = Field(default=10.0, gt=0)
    max_retry_seconds: float = Field(default=3600.0, gt=0)
    give_up_after_seconds: float = Field(default=86_400.0, gt=0)
    retry_jitter_seconds: float = Field(default=1.0, ge=0)
    # Deliveries each subscriber's worker holds in memory; more wait in the database.
    queue_size: int = Field(default=1000, ge=1, le=100_000)
    # How often a node looks in the database for deliveries that nobody is working on (another
    # node's, after it died). Retries that are due wake it sooner.
    sweep_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Delivered and failed deliveries are kept this long after they finished (for the admin's
    # list and replays), then the housekeeping drops them. Pending ones are never dropped.
    keep_finished_days: float = Field(default=30.0, gt=0, le=3650)

    @model_validator(mode="after")
    def _check(self) -> WebhookSettings:
        names = [s.name for s in self.subscribers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"subscriber names used twice: {twice}")
        for sub in self.subscribers:
            try:
                check_url(sub.url, allow_private=self.allow_private_addresses)
            except ValueError as exc:
                raise ValueError(f"subscriber {sub.name!r}: url: {exc}") from None
        if self.max_retry_seconds < self.first_retry_seconds:
            raise ValueError("max_retry_seconds must not be less than first_retry_seconds")
        return self

    def backoff(self) -> Backoff:
        return Backoff(first=self.first_retry_seconds, ceiling=self.max_retry_seconds,
                       give_up_after=self.give_up_after_seconds, jitter=self.retry_jitter_seconds)
