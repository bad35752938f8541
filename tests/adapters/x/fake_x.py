"""A local X API v2 on a real socket, for the real tweepy client to talk to.

It plays the endpoints the channel calls, checks each request (method, path, query parameters,
and the credentials: the OAuth 1.0a HMAC-SHA1 signature recomputed over the URL actually
called, or the bearer token) and answers with the JSON shapes the X API documents. Anything it
finds wrong is answered as X would (401/400) and kept in ``problems`` for the test to assert on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from oauthlib.oauth1.rfc5849 import signature, utils

TWEET_FIELDS_NEEDED = {"conversation_id", "author_id", "created_at", "referenced_tweets"}
DM_FIELDS_NEEDED = {"sender_id", "dm_conversation_id", "text", "event_type"}


@dataclass(frozen=True, slots=True)
class OAuth1Keys:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    query: Mapping[str, str]
    at: float  # wall clock, to compare with x-rate-limit-reset
    status: int


@dataclass
class FakeX:
    account_id: str
    oauth1: OAuth1Keys | None = None
    bearer: str | None = None
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    mentions: list[dict[str, Any]] = field(default_factory=list)  # v2 tweet objects
    dm_events: list[dict[str, Any]] = field(default_factory=list)  # v2 DM event objects
    posted_tweets: list[dict[str, Any]] = field(default_factory=list)
    posted_dms: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rate_limit_once: dict[str, float] = field(default_factory=dict)  # route -> x-rate-limit-reset
    forbid_dms_to: set[str] = field(default_factory=set)
    _next_id: int = 1_900_000_000_000_000_000
    _server: TestServer | None = None

    # ----- the test's side ----------------------------------------------------------------

    def user(self, user_id: str, username: str, name: str) -> None:
        self.users[user_id] = {"id": user_id, "username": username, "name": name}

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def add_mention(self, author: str, text: str, *, conversation_id: str | None = None,
                    replied_to: str | None = None, tweet_id: str | None = None) -> str:
        tid = tweet_id or self.new_id()
        tweet: dict[str, Any] = {
            "id": tid, "text": text, "author_id": author, "conversation_id": conversation_id or tid,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "edit_history_tweet_ids": [tid]}
        if replied_to:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": replied_to}]
            tweet["in_reply_to_user_id"] = self.account_id
        self.mentions.append(tweet)
        return tid

    def add_dm(self, sender: str, text: str, *, recipient: str | None = None) -> str:
        eid = self.new_id()
        other = recipient or self.account_id
        low, high = sorted((sender, other), key=int)
        self.dm_events.append({
            "id": eid, "event_type": "MessageCreate", "text": text, "sender_id": sender,
            "dm_conversation_id": f"{low}-{high}",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())})
        return eid

    def calls(self, path_part: str) -> list[Seen]:
        return [s for s in self.seen if path_part in s.path]

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def __aenter__(self) -> FakeX:
        app = web.Application(middlewares=[self._check])
        app.router.add_get("/2/users/{id}/mentions", self._get_mentions)
        app.router.add_get("/2/dm_events", self._get_dm_events)
        app.router.add_post("/2/tweets", self._post_tweet)
        app.router.add_post("/2/dm_conversations/with/{participant}/messages", self._post_dm)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        await self._server.close()

    # ----- checks -------------------------------------------------------------------------

    def _auth_problem(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if self.oauth1 is not None and header.startswith("OAuth "):
            return self._oauth1_problem(request, header)
        if self.bearer is not None and header.startswith("Bearer "):
            ok = hmac.compare_digest(header[len("Bearer "):].encode(), self.bearer.encode())
            return None if ok else "wrong bearer token"
        return f"unexpected Authorization scheme {header.split(' ')[0]!r}"

    def _oauth1_problem(self, request: web.Request, header: str) -> str | None:
        keys = self.oauth1
        assert keys is not None
        given = dict(utils.parse_authorization_header(header))
        sent_keys = (given.get("oauth_consumer_key"), given.get("oauth_token"))
        if sent_keys != (keys.consumer_key, keys.access_token):
            return "wrong OAuth consumer key or token"
        if given.get("oauth_signature_method") != "HMAC-SHA1":
            return "unexpected OAuth signature method"
        raw_query = request.raw_path.partition("?")[2]
        params = signature.collect_parameters(uri_query=raw_query, headers={"Authorization": header},
                                              exclude_oauth_signature=True, with_realm=False)
        base = signature.signature_base_string(
            request.method, signature.base_string_uri(f"http://{request.host}{request.path}"),
            signature.normalize_parameters(params))
        key = f"{utils.escape(keys.consumer_secret)}&{utils.escape(keys.access_token_secret)}"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        sent = utils.unescape(given.get("oauth_signature", ""))
        return None if hmac.compare_digest(expected, sent) else "bad OAuth signature"

    @web.middleware
    async def _check(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
        problem = self._auth_problem(request)
        if problem is not None:
            self.problems.append(f"{request.method} {request.path}: {problem}")
            response: web.StreamResponse = web.json_response(
                {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
                status=401)
        elif route in self.rate_limit_once:
            reset = self.rate_limit_once.pop(route)
            response = web.json_response(
                {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                 "status": 429}, status=429,
                headers={"x-rate-limit-limit": "180", "x-rate-limit-remaining": "0",
                         "x-rate-limit-reset": str(int(reset))})
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                self.problems.append(f"{request.method} {request.path}: {exc.status} (no such endpoint)")
                raise
        self.seen.append(Seen(request.method, request.path, dict(request.query), time.time(),
                              response.status))
        return response

    def _need(self, request: web.Request, name: str, wanted: set[str]) -> None:
        got = set(request.query.get(name, "").split(","))
        if not wanted <= got:
            self.problems.append(f"{request.path}: {name} lacks {sorted(wanted - got)}")

    @staticmethod
    def _limits() -> dict[str, str]:
        return {"x-rate-limit-limit": "180", "x-rate-limit-remaining": "179",
                "x-rate-limit-reset": str(int(time.time()) + 900)}

    # ----- endpoints ----------------------------------------------------------------------

    def _includes(self, user_ids: Sequence[str]) -> dict[str, Any]:
        users = [self.users[u] for u in dict.fromkeys(user_ids) if u in self.users]
        return {"users": users} if users else {}

    def _page(self, items: list[dict[str, Any]], request: web.Request, author_key: str) -> web.Response:
        size = int(request.query.get("max_results", "10"))
        if not 1 <= size <= 100:
            self.problems.append(f"{request.path}: max_results {size}")
        start = int(request.query.get("pagination_token", "0") or 0)
        page = items[start:start + size]
        body: dict[str, Any] = {"meta": {"result_count": len(page)}}
        if page:
            body["data"] = page
            body["includes"] = self._includes([i[author_key] for i in page])
            body["meta"].update({"newest_id": page[0]["id"], "oldest_id": page[-1]["id"]})
        if start + size < len(items):
            body["meta"]["next_token"] = str(start + size)
        return web.json_response(body, headers=self._limits())

    async def _get_mentions(self, request: web.Request) -> web.Response:
        if request.match_info["id"] != self.account_id:
            self.problems.append(f"mentions of {request.match_info['id']}, not the account")
        self._need(request, "tweet.fields", TWEET_FIELDS_NEEDED)
        self._need(request, "expansions", {"author_id"})
        since = request.query.get("since_id")
        found = [t for t in self.mentions if since is None or int(t["id"]) > int(since)]
        return self._page(sorted(found, key=lambda t: -int(t["id"])), request, "author_id")

    async def _get_dm_events(self, request: web.Request) -> web.Response:
        self._need(request, "dm_event.fields", DM_FIELDS_NEEDED)
        if request.query.get("event_types") != "MessageCreate":
            self.problems.append(f"dm_events event_types={request.query.get('event_types')!r}")
        return self._page(sorted(self.dm_events, key=lambda e: -int(e["id"])), request, "sender_id")

    async def _post_tweet(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body.get("text"), str) or not body["text"]:
            return web.json_response({"title": "Invalid Request", "status": 400,
                                      "detail": "text is required"}, status=400)
        self.posted_tweets.append(body)
        tid = self.new_id()
        return web.json_response({"data": {"id": tid, "text": body["text"], "edit_history_tweet_ids": [tid]}},
                                 status=201, headers=self._limits())

    async def _post_dm(self, request: web.Request) -> web.Response:
        participant = request.match_info["participant"]
        body = await request.json()
        if participant in self.forbid_dms_to:
            return web.json_response({"title": "Forbidden", "type": "about:blank", "status": 403,
                                      "detail": "You cannot send messages to this user."}, status=403)
        self.posted_dms.append((participant, body))
        low, high = sorted((participant, self.account_id), key=int)
        data = {"dm_conversation_id": f"{low}-{high}", "dm_event_id": self.new_id()}
        return web.json_response({"data": data}, status=201, headers=self._limits())
