"""Account Activity deliveries as X posts them (v1.1 objects), signed as X signs them.

tweepy has no webhook validator, so the signature is computed here with hmac/hashlib straight
from X's documentation (HMAC-SHA256 of the raw body keyed with the consumer secret, base64,
``sha256=`` prefix), independently of ``adapters.x.signing``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

ACCOUNT = "4000000001"
ACCOUNT_HANDLE = "AcmeHelp"


def user_v11(user_id: str, screen_name: str, name: str) -> dict[str, Any]:
    return {"id": int(user_id), "id_str": user_id, "screen_name": screen_name, "name": name,
            "protected": False, "verified": False}


def tweet_v11(tweet_id: str, user: dict[str, Any], text: str, *, in_reply_to: str | None = None,
              in_reply_to_user: str | None = None, mentions: Sequence[str] = (ACCOUNT,),
              at: float | None = None) -> dict[str, Any]:
    ms = int((at if at is not None else time.time()) * 1000)
    return {
        "created_at": time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime(ms / 1000)),
        "id": int(tweet_id), "id_str": tweet_id, "text": text, "truncated": False,
        "in_reply_to_status_id": int(in_reply_to) if in_reply_to else None,
        "in_reply_to_status_id_str": in_reply_to,
        "in_reply_to_user_id_str": in_reply_to_user,
        "user": user,
        "entities": {"hashtags": [], "urls": [], "symbols": [],
                     "user_mentions": [{"id": int(m), "id_str": m, "screen_name": ACCOUNT_HANDLE,
                                        "name": "Acme Help", "indices": [0, 9]} for m in mentions]},
        "timestamp_ms": str(ms),
    }


def dm_v11(event_id: str, sender: str, recipient: str, text: str, *,
           at: float | None = None) -> dict[str, Any]:
    ms = int((at if at is not None else time.time()) * 1000)
    return {"type": "message_create", "id": event_id, "created_timestamp": str(ms),
            "message_create": {"target": {"recipient_id": recipient}, "sender_id": sender,
                               "source_app_id": "268278",
                               "message_data": {"text": text, "entities": {"hashtags": [], "symbols": [],
                                                                           "user_mentions": [], "urls": []}}}}


def delivery(*, tweets: Sequence[dict[str, Any]] = (), dms: Sequence[dict[str, Any]] = (),
             users: Sequence[dict[str, Any]] = ()) -> bytes:
    payload: dict[str, Any] = {"for_user_id": ACCOUNT}
    if tweets:
        payload["tweet_create_events"] = list(tweets)
    if dms:
        payload["direct_message_events"] = list(dms)
        payload["apps"] = {"268278": {"id": "268278", "name": "Twitter Web Client", "url": "http://twitter.com"}}
        payload["users"] = {u["id_str"]: {"id": u["id_str"], "name": u["name"],
                                          "screen_name": u["screen_name"]} for u in users}
    return json.dumps(payload).encode()


def x_signature(consumer_secret: str, body: bytes) -> str:
    digest = hmac.new(consumer_secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()
