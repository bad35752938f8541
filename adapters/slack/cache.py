"""A small bounded cache with per-entry expiry, on an injected clock (pure).

Used for the event ids already accepted (Slack redelivers the same ``event_id`` for up to
about five minutes) and for users' display names (one ``users.info`` call per user, not per
message).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from cti.clock import Clock

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, clock: Clock, *, max_entries: int) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}  # insertion order: oldest first

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` while the entry lives, else ``(False, None)``."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry[0] <= self._clock.now():
            del self._entries[key]
            return False, None
        return True, entry[1]

    def put(self, key: K, value: V, *, ttl: float) -> None:
        self._entries.pop(key, None)
        self._entries[key] = (self._clock.now() + ttl, value)
        while len(self._entries) > self._max:
            del self._entries[next(iter(self._entries))]

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class RecentEvents:
    """Event ids claimed in the last ``ttl`` seconds: the first claim wins, retries lose."""

    def __init__(self, clock: Clock, *, ttl: float = 3600.0, max_entries: int = 50_000) -> None:
        self._seen: TtlCache[str, bool] = TtlCache(clock, max_entries=max_entries)
        self._ttl = ttl

    def claim(self, event_id: str) -> bool:
        if self._seen.get(event_id)[0]:
            return False
        self._seen.put(event_id, True, ttl=self._ttl)
        return True

    def release(self, event_id: str) -> None:
        """The event could not be stored: let Slack's next retry in."""
        self._seen.discard(event_id)
