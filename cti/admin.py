"""Live administration: each change to the live sections is checked with the rules of
``cti config check``, stored as a new version (audited with the admin's name), swapped into this
node and announced over the hub, so every other node loads it from the database within a second.

The file stays the bootstrap: its live sections seed version 1 on a first start; afterwards the
newest stored version is what runs. The file's other sections (addresses, secrets, channels) are
the node's own and are kept as read; what in them names a live section (the AMI default queue,
a channel's queues) is checked against each new version.

Errors: ``InvalidInput`` invalid-config (with ``problems``), no-change, would-lock-you-out;
``Conflict`` config-changed (another change was stored first); ``NotFound`` version-not-found.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cti.clock import Clock
from cti.config import AppConfig, ConfigError, with_live
from cti.config_diff import diff
from cti.config_model import LIVE_SECTIONS
from cti.domain import Role
from cti.errors import Conflict, InvalidInput
from cti.events import ConfigChanged
from cti.hub import EventHub, Subscription
from cti.live_config import ConfigVersionStore, LiveConfig, StoredVersion, VersionInfo
from cti.tasks import stop_tasks

log = logging.getLogger(__name__)

# Announcements are fire-and-forget (Redis pub/sub): a node also looks for a newer version this
# often, so one that missed an announcement (a dropped connection) catches up on its own.
RECHECK_SECONDS = 30.0

FROM_FILE = ("seed", "file")  # the versions a configuration file made
EDIT_ATTEMPTS = 3  # an edit that lost the race to another node is applied again on top of its version
Edit = Callable[[Mapping[str, Any]], Mapping[str, Any]]  # the running document -> the new one
# More rules of the composition root (the channels' queues); raises ConfigError.
Check = Callable[[AppConfig], None]


class ConfigAdmin:
    def __init__(self, *, live: LiveConfig, store: ConfigVersionStore,
                 hub: EventHub, clock: Clock, check: Check | None = None,
                 recheck_seconds: float = RECHECK_SECONDS) -> None:
        self._live = live
        self._store = store
        self._hub = hub
        self._clock = clock
        self._check = check
        self._recheck = recheck_seconds
        self._lock = asyncio.Lock()  # one load or change at a time on this node
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def live(self) -> LiveConfig:
        return self._live

    def build(self, document: Mapping[str, Any]) -> AppConfig:
        """The whole configuration with ``document`` as its live sections, or ``InvalidInput``."""
        unknown = sorted(set(document) - set(LIVE_SECTIONS))
        if unknown:
            raise InvalidInput("invalid-config", f"not live sections: {', '.join(unknown)} (they are set "
                               "in the file and need a restart)",
                               problems=[f"{k}: not a live section" for k in unknown])
        try:
            config = with_live(self._live.current, document)
            if self._check is not None:
                self._check(config)
        except ConfigError as exc:
            raise InvalidInput("invalid-config", str(exc), problems=str(exc).split("; ")) from exc
        return config

    async def start(self) -> None:
        """Seeds version 1 from the file on a first start. Later, a file whose live sections were
        edited since they were last stored becomes a new version (editing the file and restarting
        still works); otherwise the newest stored version runs, with the admins' changes."""
        for attempt in range(3):
            try:
                await self._start_from_file()
                break
            except Conflict:  # another node stored the same file at the same moment
                if attempt == 2:
                    raise
        self._sub = self._hub.subscribe(maxsize=16, wants=lambda e: isinstance(e, ConfigChanged))
        self._task = asyncio.create_task(self._follow(), name="config-follow")

    async def _start_from_file(self) -> None:
        file_document = dict(self._live.current.document)
        latest = await self._store.latest()
        if latest is None:
            info = await self._store.append(file_document, actor="file", action="seed",
                                            summary=["seeded from the configuration file"], expected=0)
            self._live.version = info.version
            return
        from_file = await self._store.latest(actions=FROM_FILE)
        if file_document == dict(latest.document):
            self._live.version = latest.info.version
        elif from_file is not None and file_document != dict(from_file.document):
            info = await self._store.append(
                file_document, actor="file", action="file", expected=latest.info.version,
                summary=["the configuration file changed", *diff(latest.document, file_document)])
            self._live.version = info.version
            log.info("live config: the file's live sections changed: version %d", info.version)
        else:
            await self._load(latest)

    async def aclose(self) -> None:
        await stop_tasks([self._task])
        if self._sub is not None:
            self._sub.close()

    async def _follow(self) -> None:
        assert self._sub is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sub.get(), self._recheck)
            self._sub.lagged = False
            try:
                await self.reload()
            except Exception:  # the database may be away for a moment: the next event or recheck retries
                log.exception("live config: loading the newest version failed")

    async def reload(self) -> int:
        """Runs the newest stored version if it is newer than this node's; returns the version run."""
        latest = await self._store.latest()
        if latest is not None and latest.info.version > self._live.version:
            await self._load(latest)
        return self._live.version

    async def _load(self, stored: StoredVersion) -> None:
        async with self._lock:
            if stored.info.version <= self._live.version:
                return
            try:
                config = self.build(stored.document)
            except InvalidInput as exc:
                # This node's own sections (a channel naming a queue) refuse it: keep running the old.
                log.error("live config: version %d does not fit this node's file: %s", stored.info.version,
                          exc.message)
                return
            await self._live.swap(config, version=stored.info.version)
            log.info("live config: running version %d (by %s)", stored.info.version, stored.info.actor)

    async def change(self, document: Mapping[str, Any], *, actor: str, action: str = "change",
                     expected: int | None = None, note: str | None = None) -> VersionInfo:
        """``document`` as the new version (whatever runs now)."""
        return await self.edit(lambda _: document, actor=actor, action=action, expected=expected, note=note)

    async def edit(self, edit: Edit, *, actor: str, action: str = "change", expected: int | None = None,
                   note: str | None = None) -> VersionInfo:
        """``edit`` applied to the running document, stored as the next version.

        With ``expected`` (the version the admin saw) a newer version stored meanwhile refuses it
        (``Conflict`` config-changed). Without, two edits never undo each other: each is applied
        to the newest version, again if another node stored one first."""
        for attempt in range(EDIT_ATTEMPTS):
            try:
                return await self._edit_once(edit, actor=actor, action=action, expected=expected, note=note)
            except Conflict:
                if expected is not None or attempt == EDIT_ATTEMPTS - 1:
                    raise
                await self.reload()  # another node's version first, then the edit on top of it
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _edit_once(self, edit: Edit, *, actor: str, action: str, expected: int | None,
                         note: str | None) -> VersionInfo:
        async with self._lock:
            base = self._live.version
            if expected is not None and expected != base:
                raise Conflict("config-changed", "the configuration changed meanwhile; reload and try again",
                               expected=expected, running=base)
            config = self.build(edit(self._live.current.document))
            _keeps_admin(self._live.current, config, actor)
            summary = diff(self._live.current.document, config.document)
            if not summary:
                raise InvalidInput("no-change", "this is the configuration already running", version=base)
            info = await self._store.append(config.document, actor=actor, action=action,
                                            summary=[*([note] if note else []), *summary], expected=base)
            await self._live.swap(config, version=info.version)
        log.info("live config: version %d by %s (%s, %d changes)", info.version, actor, action, len(summary))
        await self._hub.publish(ConfigChanged(at=self._clock.now(), version=info.version, actor=actor))
        return info

    def preview(self, document: Mapping[str, Any]) -> list[str]:
        """What ``change`` would change (checked the same way), without storing anything."""
        return diff(self._live.current.document, self.build(document).document)

    async def rollback(self, version: int, *, actor: str) -> VersionInfo:
        stored = await self._store.get(version)
        return await self.change(stored.document, actor=actor, action="rollback",
                                 note=f"rollback to version {version}")

    async def versions(self, *, limit: int = 100) -> Sequence[VersionInfo]:
        return await self._store.versions(limit=limit)

    async def version_diff(self, version: int, against: int | None = None) -> list[str]:
        """From ``against`` (default: the version before) to ``version``."""
        new = await self._store.get(version)
        if against is None and version <= 1:
            return diff({}, new.document)
        old = await self._store.get(version - 1 if against is None else against)
        return diff(old.document, new.document)

    def document(self) -> dict[str, Any]:
        return dict(self._live.current.document)


def _keeps_admin(old: AppConfig, config: AppConfig, actor: str) -> None:
    """An admin may not remove or demote themselves: the center would be left with nobody able
    to undo it through the API (the file and ``cti config import`` still can). A supervisor's
    change (their teams' canned replies) has no admin role to keep."""
    profile = config.agents.get(actor)
    before = old.agents.get(actor)
    if actor in ("file", "import") or (before is not None and before.role is not Role.ADMIN):
        return
    if profile is None or profile.role is not Role.ADMIN:
        raise InvalidInput("would-lock-you-out", "this change removes your own admin role; another admin "
                           "or `cti config import` can make it", actor=actor)
