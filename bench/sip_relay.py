"""The SIP line's RTP relay (``adapters.sip.media``) alone: what N relayed calls cost.

``python -m bench sip --relay [--calls 50] [--seconds 20]``

This process holds ``--calls`` bridged pairs of media legs (caller leg, agent leg) on loopback,
as the line does once an agent answers. A second process plays both phones: for each call it
sends 20 ms G.711 packets (50 a second, paced against a monotonic start) to the caller leg and
reads what the relay sends on to the agent's address. Each packet carries its send time
(``time.monotonic_ns``, one clock for both processes), so the receiver measures the delay the
relay added (loopback and both processes' scheduling included). Printed: calls, packets sent and
relayed, lost, delay p50/p99, the drift (the last second's median delay minus the first
second's), and the relay process's CPU per call (user + system over the wall time).

Measured, not asserted.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import socket
import statistics
import struct
import time
from typing import Any

from adapters.sip.media import MediaLeg, bridge

RTP = struct.Struct("!BBHII")
STAMP = struct.Struct("!Q")


def _bound() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


class _Ear(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (received at, delay) in seconds

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        now = time.monotonic_ns()
        sent = STAMP.unpack_from(data, RTP.size)[0]
        self.samples.append((now / 1e9, (now - sent) / 1e9))


async def _phones(line_ports: list[int], ears: list[socket.socket], seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    listeners = []
    for sock in ears:
        _, ear = await loop.create_datagram_endpoint(_Ear, sock=sock)
        listeners.append(ear)
    mouth = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mouth.setblocking(False)
    start = time.monotonic()
    sent = 0
    n = 0
    while time.monotonic() - start < seconds:
        for i, port in enumerate(line_ports):
            header = RTP.pack(0x80, 0, n & 0xFFFF, (160 * n) & 0xFFFFFFFF, i)
            stamp = STAMP.pack(time.monotonic_ns())
            mouth.sendto(header + stamp + bytes(160 - STAMP.size), ("127.0.0.1", port))
            sent += 1
        n += 1
        await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
    await asyncio.sleep(0.3)
    delays = sorted(d for e in listeners for _, d in e.samples)
    drifts = []
    for e in listeners:
        if len(e.samples) > 100:
            first = statistics.median(d for _, d in e.samples[:50])
            last = statistics.median(d for _, d in e.samples[-50:])
            drifts.append(last - first)
    return {"sent": sent, "received": len(delays),
            "p50_ms": 1e3 * delays[len(delays) // 2] if delays else None,
            "p99_ms": 1e3 * delays[int(len(delays) * 0.99)] if delays else None,
            "drift_ms": 1e3 * max(drifts, key=abs) if drifts else None}


def _phone_process(line_ports: list[int], ear_ports: list[int], seconds: float, out: Any) -> None:
    ears = []
    for port in ear_ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", port))
        s.setblocking(False)
        ears.append(s)
    out.put(asyncio.run(_phones(line_ports, ears, seconds)))


async def relay(calls: int, seconds: float) -> None:
    legs: list[MediaLeg] = []
    line_ports, ear_ports = [], []
    for _ in range(calls):
        caller_sock, agent_sock = _bound(), _bound()
        ear = _bound()
        ear_port = ear.getsockname()[1]
        ear.close()  # the phone process binds it
        caller = await MediaLeg.open(caller_sock, ("127.0.0.1", 9), 0)  # the caller's far end: unused
        agent = await MediaLeg.open(agent_sock, ("127.0.0.1", ear_port), 0)
        bridge(caller, agent)
        legs += [caller, agent]
        line_ports.append(caller_sock.getsockname()[1])
        ear_ports.append(ear_port)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_phone_process, args=(line_ports, ear_ports, seconds, out))
    cpu0, wall0 = time.process_time(), time.monotonic()
    proc.start()
    result = await asyncio.to_thread(out.get)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    proc.join()
    relayed = sum(leg.counts.relayed for leg in legs)
    for leg in legs:
        leg.close()
    print(f"calls: {calls}  seconds: {seconds:.0f}")
    print(f"packets_sent: {result['sent']}  relayed: {relayed}  received: {result['received']}  "
          f"lost: {result['sent'] - result['received']}")
    print(f"delay_p50_ms: {result['p50_ms']:.3f}  delay_p99_ms: {result['p99_ms']:.3f}  "
          f"drift_ms: {result['drift_ms']:+.3f}")
    print(f"relay_cpu_percent_of_a_core: {100 * cpu / wall:.2f}  per_call: {100 * cpu / wall / calls:.3f}")
