"""``metrics:`` who may read ``/metrics``, and ``logging:`` how the server writes its log."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

MIN_TOKEN_CHARS = 16  # a scrape token is a password: shorter ones are guessable


class MetricsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # A bearer token a scraper sends (``Authorization: Bearer …``); None: only the addresses
    # below may scrape. Queue depths and agent counts are business figures, not public ones.
    token: SecretStr | None = None
    # Networks (CIDR) that may scrape without the token. Loopback by default: a Prometheus on
    # the same machine works at once; one elsewhere is a decision to write down. The address is
    # the client's as ``traffic.trusted_proxies`` establishes it.
    allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(f"at least {MIN_TOKEN_CHARS} characters")
        return value

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad entry
        return value


class LoggingSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # "auto": one JSON object per line when stderr is not a terminal (a service manager, a
    # container, a file), readable text on a terminal. "json" or "text" force one.
    format: Literal["auto", "json", "text"] = "auto"
    # One line per HTTP request (method, path, status, time). Off by default: the proxy in
    # front usually writes one already, and a busy node answers thousands a second.
    access_log: bool = False
