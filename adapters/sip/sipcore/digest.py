"""HTTP Digest for SIP (RFC 3261 §22, RFC 2617): the answer to a 401/407 challenge.

MD5 only (what registrars and trunks send; RFC 8760's SHA-256 is not asked for yet). With
``qop=auth`` offered, the answer uses it with a random client nonce.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from adapters.sip.sipcore.message import Response


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def parse_challenge(value: str) -> dict[str, str]:
    """``Digest realm="r", nonce="n", qop="auth,auth-int"`` → ``{"realm": "r", ...}``."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    params: dict[str, str] = {}
    key, buf, quoted, in_value = "", "", False, False
    for ch in rest + ",":
        if ch == '"':
            quoted = not quoted
        elif ch == "=" and not quoted and not in_value:
            key, buf, in_value = buf.strip().lower(), "", True
        elif ch == "," and not quoted:
            if key:
                params[key] = buf.strip()
            key, buf, in_value = "", "", False
        else:
            buf += ch
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def authorization(challenge: dict[str, str], creds: Credentials, method: str, uri: str, *,
                  cnonce: str | None = None, nc: int = 1) -> str:
    """The ``Authorization``/``Proxy-Authorization`` value answering ``challenge``."""
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
    ha1 = _md5(f"{creds.username}:{realm}:{creds.password}")
    ha2 = _md5(f"{method}:{uri}")
    fields = [f'username="{creds.username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    qops = [q.strip() for q in challenge.get("qop", "").split(",")]
    if "auth" in qops:
        cnonce = cnonce or secrets.token_hex(8)
        response = _md5(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
        fields += [f'response="{response}"', "qop=auth", f"nc={nc:08x}", f'cnonce="{cnonce}"']
    else:
        fields.append(f'response="{_md5(f"{ha1}:{nonce}:{ha2}")}"')
    fields.append("algorithm=MD5")
    if "opaque" in challenge:
        fields.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(fields)


def answer_challenge(resp: Response, credentials: Credentials, method: str, uri: str) -> tuple[str, str]:
    """The header that answers the 401 (``Authorization``) or 407 (``Proxy-Authorization``)."""
    proxy = resp.status == 407
    challenge = parse_challenge(resp.get("Proxy-Authenticate" if proxy else "WWW-Authenticate") or "")
    value = authorization(challenge, credentials, method, uri)
    return ("Proxy-Authorization" if proxy else "Authorization", value)
