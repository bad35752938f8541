"""``identity:`` how customers prove who they are (see docs/security.md)."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator


class EmailIdentitySettings(BaseModel):
    """``identity.email``: when an e-mail sender counts as asserted (DMARC, RFC 7489/8601)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # authserv-ids of our own receiving servers whose ``Authentication-Results`` we believe.
    # Default none: any sender can write that header, so none is trusted until named.
    trusted_authserv_ids: tuple[str, ...] = ()
    # true: a sender is asserted only with ``dmarc=pass`` from a trusted server, claimed
    # otherwise. Default false: without a DMARC-checking server in front, every mail would be a
    # claim and no customer would ever be found by e-mail; a trusted ``dmarc=fail`` is a claim
    # either way.
    require_dmarc_pass: bool = False

    @field_validator("trusted_authserv_ids")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # authserv-ids are domain names: compared without case.
        return tuple(v.strip().lower() for v in value if v.strip())


class CodeSettings(BaseModel):
    """``identity.codes``: one-time codes sent to a claimed address or number."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Seconds a code is good for. Default 600: long enough for a slow mailbox, short enough
    # that a code read over a shoulder later is worthless.
    ttl_seconds: float = Field(default=600.0, gt=0, le=86400)
    # Wrong codes per interaction before its codes are locked. Default 5: a guesser has 5 in a
    # million against a 6-digit code; a customer mistyping twice is still fine.
    max_attempts: int = Field(default=5, ge=1, le=20)
    # Codes one interaction may have sent within an hour. Default 5: re-sends for a lost
    # message, never a way to flood someone's mailbox or phone through us.
    max_sends_per_hour: int = Field(default=5, ge=1, le=50)


class IdentitySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # ISO 3166 region a national phone number ("(415) 555-0100") belongs to. Default None: the
    # region of the older top-level ``default_country_code`` (itself "1", so "US").
    default_region: str | None = None
    email: EmailIdentitySettings = EmailIdentitySettings()
    codes: CodeSettings = CodeSettings()

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"not a region phonenumbers knows: {value!r}")
        return region

    # --- web chat (adapters/webchat) ---
    # Websites that embed the chat widget and sign their logged-in user's identifier (HMAC-SHA256,
    # hex) so that the visitor is that customer. Default: none, so no visitor is verified by a site.
    sites: dict[SiteId, ChatSite] = Field(default_factory=dict)
    # One-time codes a chat visitor may ask for per conversation within chat_code_window seconds.
    # Default 3 per 600 s: a typo and a slow mailbox are covered; a mail or SMS bomb is not.
    chat_codes_per_window: int = Field(default=3, ge=1, le=100)
    chat_code_window: float = Field(default=600.0, gt=0)
    # Days a chat visitor's session (its secret's hash) is kept after its last conversation began.
    # Default 90: a returning visitor finds their chats again for a season; older sessions go.
    chat_session_days: float = Field(default=90.0, gt=0)


# A site id names the site in identities ("site" "<site id>:<user id>"), so it holds no ":".
SiteId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class ChatSite(BaseModel):
    """One embedding website: ``identity.sites.<site id>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Shared with the website's back end only; 32 characters at least (a guessable key would let
    # anyone sign any identifier). Rotate by deploying a new one to both sides (docs/security.md).
    secret: SecretStr

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value


IdentitySettings.model_rebuild()
