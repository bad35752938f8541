"""``login:`` passwords, throttling and tokens (see docs/security.md).

Failures are counted per account (the agent id typed, known or not) and per client address over
a moving window. Past ``*_failures_before_delay`` failures, each further attempt must wait
1, 2, 4 ... seconds (at most ``max_delay_seconds``) after the last failure; at
``*_failures_before_lockout`` the account or address is refused for ``lockout_seconds``, right
password or not. Every refusal is a 429 ``too-many-attempts`` with ``Retry-After``. Successful
log-ins are never counted, and one clears its account's failures. One attempt per account,
and ``address_attempts_in_flight`` per address, are checked at a time; the others get a 429.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LoginSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # 4: an argon2id check takes 64 MiB and a core for ~50 ms, so 4 at once bound the memory a
    # burst of log-ins can take (256 MiB) and leave the event loop a core on small machines;
    # a shift's worth of agents logging in at once still waits well under a second.
    hash_workers: int = Field(default=4, ge=1, le=64)
    # 15 minutes: long enough that a guesser gains nothing by pacing just under the limits, short
    # enough that yesterday's typos are forgotten (OWASP's usual window).
    failure_window_seconds: int = Field(default=900, ge=60, le=86_400)
    # 3: typos and a caps-lock cost nothing; from the 4th failure on, a wait of 1 s, then 2, 4 ...
    account_failures_before_delay: int = Field(default=3, ge=1)
    # 10 in the window: with the growing delays a person never gets there by mistyping; a guesser
    # gets about 40 tries an hour per account instead of thousands a second.
    account_failures_before_lockout: int = Field(default=10, ge=1)
    # 20 per address: one office behind one NAT address shares it, so it is well above what a few
    # agents mistype, and still stops one client spraying common passwords over many ids.
    address_failures_before_delay: int = Field(default=20, ge=1)
    # 50 per address in the window, then the address waits ``lockout_seconds``.
    address_failures_before_lockout: int = Field(default=50, ge=1)
    # 16 log-ins at once from one address (per node): more than an office's agents press "log in"
    # in the same instant, few enough that a burst cannot queue hundreds of hashes.
    address_attempts_in_flight: int = Field(default=16, ge=1)
    # 60 s: the growing delay stops doubling here (the lock-out takes over after).
    max_delay_seconds: int = Field(default=60, ge=1, le=3600)
    # 15 minutes: long for a guesser, short for an agent locked out by someone else's guessing
    # (an account lock-out can be caused by anyone who knows the id; keep it short).
    lockout_seconds: int = Field(default=900, ge=1, le=86_400)

    @model_validator(mode="after")
    def _lockout_follows_delay(self) -> LoginSettings:
        if self.max_delay_seconds > self.lockout_seconds:
            raise ValueError("max_delay_seconds must not exceed lockout_seconds")
        return self
