"""The server's own check of its tokens accepts what it issues and nothing PyJWT (which signs
them, and checked them before) would refuse: forged, re-signed with another algorithm, altered,
expired, not yet valid, incomplete or meant for an audience."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.domain import Role
from desktop_api.auth import Unauthorized, issue_token, read_token
from desktop_api.token_check import BadToken, verify

SECRET = "a-token-secret-for-tests-long-enough-for-hs512-too-" + "x" * 20  # 64+ bytes
KEY = SECRET.encode()
NOW = time.time()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "a001", "role": "agent", "iat": int(NOW), "exp": int(NOW + 3600),
                            "jti": "j" * 32}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], *, key: str = SECRET, algorithm: str = "HS256",
           headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def pyjwt_accepts(token: str) -> bool:
    try:
        jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": ["sub", "role", "exp", "jti"]})
    except jwt.PyJWTError:
        return False
    return True


def ours_accept(token: str) -> bool:
    try:
        verify(token, key=KEY, now=time.time())
    except BadToken:
        return False
    return True


def test_a_token_the_server_issued_opens_as_its_holder() -> None:
    token = issue_token(secret=SECRET, agent_id="a001", role=Role.SUPERVISOR, now=NOW, ttl=3600)
    who = read_token(token, secret=SECRET, now=NOW + 10)
    assert (who.agent_id, who.role, who.expires_at) == ("a001", Role.SUPERVISOR, float(int(NOW + 3600)))
    assert who.jti == jwt.decode(token, SECRET, algorithms=["HS256"])["jti"]


def test_a_token_is_refused_from_its_expiry_on() -> None:
    token = issue_token(secret=SECRET, agent_id="a001", role=Role.AGENT, now=NOW, ttl=3600)
    read_token(token, secret=SECRET, now=int(NOW + 3600) - 1)
    with pytest.raises(Unauthorized) as caught:
        read_token(token, secret=SECRET, now=int(NOW + 3600))
    assert caught.value.error_id == "bad-token"


def _unsigned(payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(payload).encode())}."


def _signed_raw(payload: bytes) -> str:
    """``payload`` as it is (JSON or not), correctly signed with our secret."""
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(payload)}"
    signature = hmac.new(KEY, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


REFUSED = {
    "another secret": signed(claims(), key="another-secret-also-at-least-32-bytes-long!"),
    "alg none": _unsigned(claims()),
    "HS512 with our secret": signed(claims(), algorithm="HS512"),
    "HS384 with our secret": signed(claims(), algorithm="HS384"),
    "expired": signed(claims(exp=int(NOW) - 1)),
    "issued in the future": signed(claims(iat=int(NOW) + 600)),
    "not valid yet": signed(claims(nbf=int(NOW) + 600)),
    "no subject": signed(claims(sub=None)),
    "no role": signed(claims(role=None)),
    "no expiry": signed(claims(exp=None)),
    "no id": signed(claims(jti=None)),
    "exp not a number": signed(claims(exp="soon")),
    "subject not a string": signed(claims(sub=7)),
    "an audience": signed(claims(aud="elsewhere")),
    "payload not an object": _signed_raw(b"[1]"),
    "two segments": ".".join(signed(claims()).split(".")[:2]),
    "four segments": signed(claims()) + ".e30",
    "payload not JSON": _signed_raw(b"{sub: a001}"),
    "garbage": "not-a-token",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_as_pyjwt_refuses(name: str) -> None:
    token = REFUSED[name]
    assert not pyjwt_accepts(token)
    assert not ours_accept(token)
    with pytest.raises(Unauthorized):
        read_token(token, secret=SECRET, now=time.time())


def test_an_altered_payload_is_refused() -> None:
    header, _, signature = signed(claims()).split(".")
    forged = f"{header}.{b64(json.dumps(claims(sub='admin', role='admin')).encode())}.{signature}"
    assert not pyjwt_accepts(forged) and not ours_accept(forged)


def test_a_signature_spelled_another_way_is_refused() -> None:
    # 32 bytes in 43 characters leave 2 unused bits in the last one: flipping them decodes to the
    # same signature; PyJWT refuses that spelling, and so do we.
    token = signed(claims())
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    variant = token[:-1] + alphabet[alphabet.index(last) ^ 1]
    assert not pyjwt_accepts(variant) and not ours_accept(variant)


def test_tokens_of_other_shapes_are_refused_though_correctly_signed() -> None:
    # Stricter than PyJWT on purpose: the server never writes these.
    for token in (signed(claims(), headers={"kid": "k1"}), signed(claims()).replace(".", "=.", 1)):
        assert not ours_accept(token)


MUTATION = st.tuples(st.integers(min_value=0, max_value=400),
                     st.sampled_from(["replace", "insert", "delete"]),
                     st.sampled_from(list("AQgw_-.=x0aZ9 ")))


@settings(max_examples=400, deadline=None)
@given(st.lists(MUTATION, min_size=1, max_size=3), st.sampled_from(["agent", "supervisor"]))
def test_nothing_pyjwt_refuses_is_accepted(mutations: list[tuple[int, str, str]], role: str) -> None:
    token = signed(claims(role=role))
    for at, how, char in mutations:
        at %= len(token) + 1
        if how == "replace" and at < len(token):
            token = token[:at] + char + token[at + 1:]
        elif how == "insert":
            token = token[:at] + char + token[at:]
        elif at < len(token):
            token = token[:at] + token[at + 1:]
    if ours_accept(token):
        assert pyjwt_accepts(token)
        assert verify(token, key=KEY, now=time.time()) == jwt.decode(token, SECRET, algorithms=["HS256"])
