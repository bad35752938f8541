"""RTP packets that carry their send time, and what the delays they measure say.

A caller stand-in sends 20 ms G.711 packets paced against a monotonic start; each payload begins
with a magic, the call's number and ``time.monotonic_ns()`` at the send. Whoever reads them on the
same machine (one clock) gets the delay the path added to each packet. The line relays payloads
untouched (no transcoding, no re-pacing), so the stamp survives the relay.

The statistics are plain functions over ``Sample`` lists so they are tested with plain data
(``test_stamped_rtp.py``): the drift (last window's median delay minus the first's), the drift
per minute (least-squares slope), and the added delay variation (each delay over its call's
lowest, the part of the delay that is not the path's fixed cost).
"""

from __future__ import annotations

import math
import socket
import statistics
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

RTP = struct.Struct("!BBHII")
STAMP = struct.Struct("!4sIQ")  # magic, call number, send time (monotonic ns)
MAGIC = b"DRFT"
FRAME_BYTES = 160  # 20 ms of G.711 at 8 kHz
FRAME_SECONDS = 0.02
SSRC_BASE = 0x5EED0000


@dataclass(frozen=True)
class Sample:
    call: int
    sent: float  # seconds, monotonic
    delay: float  # seconds


def stamped_packet(call: int, n: int, payload_type: int, now_ns: int) -> bytes:
    """The ``n``-th 20 ms packet of ``call``, stamped ``now_ns``."""
    header = RTP.pack(0x80, payload_type & 0x7F, n & 0xFFFF, (160 * n) & 0xFFFFFFFF,
                      (SSRC_BASE + call) & 0xFFFFFFFF)
    stamp = STAMP.pack(MAGIC, call, now_ns)
    return header + stamp + b"\xff" * (FRAME_BYTES - STAMP.size)  # 0xFF: μ-law silence


def read_stamp(packet: bytes, arrived_ns: int) -> Sample | None:
    """The sample a received packet gives, or None for any other RTP (hold audio, a phone's own)."""
    if len(packet) < RTP.size + STAMP.size:
        return None
    magic, call, sent = STAMP.unpack_from(packet, RTP.size)
    if magic != MAGIC:
        return None
    return Sample(call, sent / 1e9, (arrived_ns - sent) / 1e9)


def window_median(samples: Sequence[Sample], start: float, end: float) -> float | None:
    """The median delay of the packets sent in [start, end)."""
    inside = [s.delay for s in samples if start <= s.sent < end]
    return statistics.median(inside) if inside else None


def drift(samples: Sequence[Sample], window: float) -> float | None:
    """The median delay of the packets sent in the last ``window`` seconds minus that of the
    first ``window`` seconds (one call's samples); None when a window is empty."""
    if not samples:
        return None
    first_sent = min(s.sent for s in samples)
    last_sent = max(s.sent for s in samples)
    first = window_median(samples, first_sent, first_sent + window)
    last = window_median(samples, last_sent - window, last_sent + 1e-9)
    return None if first is None or last is None else last - first


def drift_per_minute(samples: Sequence[Sample], window: float) -> float | None:
    """``drift`` spread over the minutes between the two windows' middles (medians, so a burst of
    late packets at either end does not tilt it as a least-squares slope would)."""
    change = drift(samples, window)
    if change is None:
        return None
    span = max(s.sent for s in samples) - min(s.sent for s in samples) - window
    return None if span <= 0 else 60 * change / span


def added_variation(samples: Sequence[Sample]) -> list[float]:
    """Each packet's delay over the lowest delay of its call, sorted."""
    lowest: dict[int, float] = {}
    for s in samples:
        lowest[s.call] = min(lowest.get(s.call, s.delay), s.delay)
    return sorted(s.delay - lowest[s.call] for s in samples)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (0 to 100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(0, min(len(sorted_values), math.ceil(p / 100 * len(sorted_values))) - 1)
    return sorted_values[rank]


def by_call(samples: Sequence[Sample]) -> dict[int, list[Sample]]:
    calls: dict[int, list[Sample]] = {}
    for s in samples:
        calls.setdefault(s.call, []).append(s)
    return calls


# --- the talking stand-in (blocking, for a thread) ----------------------------------------------

def learn_far_end(sock: socket.socket, timeout: float) -> tuple[str, int]:
    """The address the line's RTP comes from (its hold audio): where to send (symmetric RTP)."""
    sock.settimeout(timeout)
    _, addr = sock.recvfrom(2048)
    return addr[0], addr[1]


def talk_and_listen(mouth: socket.socket, far_end: tuple[str, int], ear: socket.socket, seconds: float,
                    payload_type: int = 0) -> tuple[int, list[Sample]]:
    """Send stamped 20 ms packets from ``mouth`` to ``far_end`` for ``seconds`` (paced against a
    monotonic start, so the sender does not drift) while another thread reads ``ear``; the count
    sent and the samples heard (each with its arrival read at once, on a blocking socket)."""
    heard: list[Sample] = []
    done = threading.Event()

    def listen() -> None:
        ear.settimeout(0.2)
        while not done.is_set():
            try:
                data = ear.recv(2048)
            except TimeoutError:
                continue
            sample = read_stamp(data, time.monotonic_ns())
            if sample is not None:
                heard.append(sample)

    listener = threading.Thread(target=listen, name="rtp-ear", daemon=True)
    listener.start()
    start = time.monotonic()
    # A count of packets, not a time: a sender held up by a busy machine catches up on its
    # schedule instead of sending fewer.
    n = round(seconds / FRAME_SECONDS)
    for seq in range(n):
        time.sleep(max(0.0, start + seq * FRAME_SECONDS - time.monotonic()))
        mouth.sendto(stamped_packet(0, seq, payload_type, time.monotonic_ns()), far_end)
    time.sleep(0.5)  # the last packets' way through the relay
    done.set()
    listener.join(2)
    return n, heard
