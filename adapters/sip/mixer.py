"""Who hears whom on a SIP-line call a supervisor has joined, and the 20 ms mix (pure: numpy, no I/O).

Three parties: the caller, the agent's phone and the supervisor's phone. ``HEARS`` says, for each
monitoring mode, whose voices each party hears:

- listen: the supervisor hears caller and agent; nobody hears the supervisor;
- whisper: the supervisor hears both, the agent hears caller and supervisor, the caller only the agent;
- barge: everyone hears the other two.

A party that hears exactly one other party in the same G.711 law is relayed packet by packet, as
with no supervisor (``Mixer.passes``): no decoding, no added delay. The others get a mixed frame
each 20 ms tick (``Mixer.tick``): each source's payloads are decoded into a bounded queue of
20 ms frames (whatever their packet size), one frame of each is taken per tick (a missing one is
silence), the frames each party hears are summed and clipped to 16 bits, then coded in that
party's law. The queue holds at most ``DEPTH`` frames: a phone whose clock runs faster than ours
loses its oldest frame rather than piling up delay.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np

from adapters.sip import g711
from adapters.sip.g711 import Samples

FRAME_SAMPLES = g711.FRAME_SAMPLES
DEPTH = 3  # frames a source may have waiting (60 ms): the most delay the mix adds to a phone's jitter
SILENCE: Samples = np.zeros(FRAME_SAMPLES, dtype=np.int16)


class Party(enum.StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    SUPERVISOR = "supervisor"


C, A, S = Party.CALLER, Party.AGENT, Party.SUPERVISOR
HEARS: Mapping[str, Mapping[Party, frozenset[Party]]] = {
    "listen": {C: frozenset({A}), A: frozenset({C}), S: frozenset({C, A})},
    "whisper": {C: frozenset({A}), A: frozenset({C, S}), S: frozenset({C, A})},
    "barge": {C: frozenset({A, S}), A: frozenset({C, S}), S: frozenset({C, A})},
}
MODES = tuple(HEARS)


class MixError(ValueError):
    """A mode the mixer does not know, or a party without a law."""


def mix(frames: Sequence[Samples | None]) -> Samples:
    """The sum of 20 ms frames, clipped to 16 bits; None (a frame that did not come) is silence."""
    present = [f for f in frames if f is not None]
    if not present:
        return SILENCE
    if len(present) == 1:
        return present[0]
    total = present[0].astype(np.int32)
    for frame in present[1:]:
        total += frame
    # minimum/maximum in place: a third of np.clip's cost on 160 samples (bench sip --mix)
    np.minimum(total, 32767, out=total)
    np.maximum(total, -32768, out=total)
    clipped: Samples = total.astype(np.int16)
    return clipped


class FrameQueue:
    """One source's audio, re-cut into 20 ms frames, at most ``depth`` of them kept."""

    def __init__(self, depth: int = DEPTH) -> None:
        self.depth = depth
        self.dropped = 0  # frames let go because the queue was full
        self._frames: deque[Samples] = deque()
        self._partial = np.zeros(0, dtype=np.int16)  # the start of a frame (packets of 10 or 30 ms)

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, samples: Samples) -> None:
        data = np.concatenate([self._partial, np.asarray(samples, dtype=np.int16)])
        whole = len(data) - len(data) % FRAME_SAMPLES
        for start in range(0, whole, FRAME_SAMPLES):
            self._frames.append(data[start:start + FRAME_SAMPLES])
        self._partial = data[whole:]
        while len(self._frames) > self.depth:
            self._frames.popleft()
            self.dropped += 1

    def pop(self) -> Samples | None:
        return self._frames.popleft() if self._frames else None


class Mixer:
    """The mix of one call in one mode: ``feed`` every payload as it arrives, ``tick`` every 20 ms."""

    def __init__(self, laws: Mapping[Party, int], mode: str) -> None:
        missing = set(Party) - set(laws)
        if missing:
            raise MixError(f"no law for {sorted(missing)}")
        for law in laws.values():
            if law not in (g711.PCMU, g711.PCMA):
                raise MixError(f"payload type {law} is not G.711")
        self.laws = dict(laws)
        self._queues = {party: FrameQueue() for party in Party}
        self.mode = mode
        self._hears: Mapping[Party, frozenset[Party]] = {}
        self._passes: dict[Party, Party] = {}
        self._mixed: tuple[Party, ...] = ()
        self._sources: frozenset[Party] = frozenset()
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        hears = HEARS.get(mode)
        if hears is None:
            raise MixError(f"mode is one of {', '.join(MODES)}, not {mode!r}")
        self.mode, self._hears = mode, hears
        passes: dict[Party, Party] = {}
        for party, sources in hears.items():
            if len(sources) == 1:
                (source,) = sources
                if self.laws[source] == self.laws[party] and source not in passes:
                    passes[source] = party
        self._passes = passes
        self._mixed = tuple(p for p in Party if p not in passes.values())
        self._sources = frozenset(s for p in self._mixed for s in hears[p])
        for party in Party:
            if party not in self._sources:  # no stale audio when it is heard again
                self._queues[party] = FrameQueue()

    def passes(self) -> Mapping[Party, Party]:
        """source -> the one party it is relayed to untouched (same law, heard alone)."""
        return dict(self._passes)

    def mixed(self) -> tuple[Party, ...]:
        """The parties that get a mixed frame each tick."""
        return self._mixed

    def hears(self, party: Party) -> frozenset[Party]:
        return self._hears[party]

    def feed(self, party: Party, payload_type: int, payload: bytes) -> None:
        """A payload ``party`` sent; ignored unless someone hears it mixed and it is G.711."""
        if party in self._sources and payload_type in (g711.PCMU, g711.PCMA):
            self._queues[party].push(g711.decode(payload, payload_type))

    def tick(self) -> dict[Party, bytes]:
        """One 20 ms frame for each mixed party, coded in its law."""
        frames = {source: self._queues[source].pop() for source in self._sources}
        return {party: g711.encode(mix([frames[s] for s in self._hears[party]]), self.laws[party])
                for party in self._mixed}

    def dropped(self, party: Party) -> int:
        return self._queues[party].dropped
