"""The configuration every part of a running node reads, swapped whole when an admin changes it.

Parts keep the holder (never an ``AppConfig``) and read ``current`` when they need it, so a change
counts at their next read; one reference assignment swaps it, so a reader never sees half of a
change. Parts that derive something from the configuration (an index of phones, the wallboard's
targets, the routing store's agents) register a ``watch`` callback, called after each swap.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cti.config import AppConfig

log = logging.getLogger(__name__)

Watcher = Callable[[AppConfig, AppConfig], Awaitable[None]]  # (old, new)


class LiveConfig:
    def __init__(self, config: AppConfig, *, version: int = 0) -> None:
        self._current = config
        self.version = version
        self._watchers: list[Watcher] = []

    @property
    def current(self) -> AppConfig:
        return self._current

    def watch(self, watcher: Watcher) -> None:
        self._watchers.append(watcher)

    async def swap(self, config: AppConfig, *, version: int) -> bool:
        """Runs ``config`` from now on, unless this node already runs ``version`` or a newer one
        (announcements may cross). True when it was swapped."""
        if version <= self.version and version != 0:
            return False
        old, self._current, self.version = self._current, config, version
        for watcher in self._watchers:
            try:
                await watcher(old, config)
            except Exception:  # one part failing to follow must not stop the others
                log.exception("live config: a part failed to follow version %d", version)
        return True


def as_live(config: AppConfig | LiveConfig) -> LiveConfig:
    """Parts take either: tests hand a fixed configuration, the composition root the holder."""
    return config if isinstance(config, LiveConfig) else LiveConfig(config)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    at: float
    actor: str
    action: str  # seed, change, import, rollback
    summary: Sequence[str]


@dataclass(frozen=True, slots=True)
class StoredVersion:
    info: VersionInfo
    document: Mapping[str, Any] = field(repr=False)


class ConfigVersionStore(Protocol):
    """Where the versions live (the database, shared by the nodes)."""

    async def latest(self, *, actions: Collection[str] | None = None) -> StoredVersion | None:
        """The newest version (of those made by ``actions``)."""
        ...

    async def get(self, version: int) -> StoredVersion: ...

    async def versions(self, *, limit: int) -> Sequence[VersionInfo]: ...

    async def append(self, document: Mapping[str, Any], *, actor: str, action: str,
                     summary: Sequence[str], expected: int | None) -> VersionInfo:
        """A new version after ``expected`` (``Conflict`` config-changed when another change came
        first; None: after whatever is newest), audited in the same transaction."""
        ...
