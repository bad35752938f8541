"""A real HTTP receiver on loopback that plays a subscriber: it answers each request as its script
says (fail with 500, hang past the sender's timeout, redirect, or accept) and keeps what it got."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

OK, FAIL, HANG, REDIRECT = "ok", "fail", "hang", "redirect"


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: str  # what the script made of it


@dataclass
class Receiver:
    url: str
    # Per path: what the next requests get, one entry each; when used up, ``then``.
    script: dict[str, list[str]] = field(default_factory=dict)
    then: dict[str, str] = field(default_factory=dict)
    got: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)  # ends every hanging request

    def at(self, path: str, *answers: str, then: str = OK) -> str:
        self.script[path] = list(answers)
        self.then[path] = then
        return f"{self.url}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.got if r.path == path]

    def accepted(self, path: str) -> list[Received]:
        return [r for r in self.on(path) if r.answered == OK]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        answers = self.script.get(request.path, [])
        answer = answers.pop(0) if answers else self.then.get(request.path, OK)
        self.got.append(Received(path=request.path, headers=dict(request.headers), body=await request.read(),
                                 answered=answer))
        if answer == FAIL:
            return web.Response(status=500, text="down for maintenance")
        if answer == HANG:
            await self.release.wait()
            return web.Response(status=200)
        if answer == REDIRECT:
            # 307 keeps the method: a client following it would post the signed body there too.
            raise web.HTTPTemporaryRedirect(location="/elsewhere")
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    receiver = Receiver(url="")
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiver.url = str(server.make_url("")).rstrip("/")
    try:
        yield receiver
    finally:
        receiver.release.set()
        await server.close()
