"""Secrets of the web chat, pure: the browser's session secret and the site-signed identity.

Session secret: 32 random bytes (256 bits) given to the browser that starts a visitor session;
the server keeps only its SHA-256. A plain hash is enough, unlike for passwords: the secret is
random and long, so no dictionary or brute force can find it from the hash, and a fast check
costs a hostile reconnect flood nothing extra.

Site identity (as Intercom's and Chatwoot's identity verification): a website that embeds the
widget passes its logged-in user's ``identifier`` and ``identifier_hash``, the hex HMAC-SHA256
of the identifier (as given, UTF-8) under that site's secret from ``identity.sites``. An
identifier with "@" is the user's e-mail address (identity ``email``); any other is the site's
own user id, the identity ``site`` "<site id>:<identifier>". Both compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from cti.domain import Identity, IdentityKind
from cti.errors import InvalidInput
from cti.identities import normalise

SECRET_BYTES = 32
MAX_SITE_USER_ID = 128


def new_session_secret() -> tuple[str, str]:
    """A fresh secret for a browser, and the hash the server keeps of it."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return secret, secret_hash(secret)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(presented: str | None, stored_hash: str | None) -> bool:
    """Whether ``presented`` is the secret whose hash is ``stored_hash``, in constant time."""
    if stored_hash is None:
        return False
    return hmac.compare_digest(secret_hash(presented or ""), stored_hash)


class SiteSignatures:
    """Checks identifiers signed by the embedding websites (``identity.sites``)."""

    def __init__(self, secrets_by_site: Mapping[str, str]) -> None:
        self._keys = {site: secret.encode() for site, secret in secrets_by_site.items()}

    def verify(self, site: str | None, identifier: str | None, identifier_hash: str | None) -> Identity:
        """The verified identity, or ``InvalidInput``: ``unknown-site`` for a site not configured,
        ``bad-identity-signature`` for a missing, malformed or wrong signature."""
        if identifier is None or not identifier_hash or site is None:
            raise InvalidInput("bad-identity-signature",
                               "a signed identity needs site, identifier and identifier_hash")
        key = self._keys.get(site)
        if key is None:
            raise InvalidInput("unknown-site", f"no website {site!r} is configured to sign identities",
                               site=site)
        expected = hmac.new(key, identifier.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        given = identifier_hash.lower().encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(expected.encode(), given):
            raise InvalidInput("bad-identity-signature", "the identifier's signature does not match",
                               site=site)
        if "@" in identifier:
            return normalise(IdentityKind.EMAIL, identifier)
        if (len(identifier) > MAX_SITE_USER_ID or not identifier.isprintable()
                or identifier != identifier.strip()):
            raise InvalidInput("bad-identifier", "a site user id is 1 to 128 printable characters, "
                               "without spaces at either end", site=site)
        return Identity(IdentityKind.SITE, f"{site}:{identifier}")
