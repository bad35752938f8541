"""What a supervisor on a SIP-line call costs: the 20 ms mix (``adapters.sip.mixer``), alone and in
the relay (``adapters.sip.media.Conference``).

``python -m bench sip --mix [--frames 20000] [--calls 20] [--seconds 10]``

First the mix alone, no socket: for each mode, ``--frames`` ticks of a three-party call, each
tick what the relay does for a 20 ms frame — read the RTP header of the three parties' packets,
decode the ones someone hears mixed, one tick (sum, clip, code each mixed party's frame). Laws:
all PCMU, then the supervisor in PCMA (the mix codes each party's own law anyway, so the two
should cost the same). Printed: CPU µs per 20 ms frame, and that as a share of one core per call.

Then the relay with sockets: ``--calls`` conferences in barge (every direction mixed) in this
process, and a second process playing the three phones of each call (50 packets a second each,
paced against a monotonic start) and counting what comes back. Printed: packets sent and received,
mixed frames sent, and this process's CPU (user + system over the wall time) per call, beside the
same calls relayed without a supervisor (two phones, pass-through) for comparison.

Measured, not asserted.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import socket
import struct
import time
from typing import Any

import numpy as np

from adapters.sip import g711
from adapters.sip.media import Conference, MediaLeg, bridge
from adapters.sip.mixer import MODES, Mixer, Party
from adapters.sip.recording import rtp_payload

RTP = struct.Struct("!BBHII")
HZ = {Party.CALLER: 1000.0, Party.AGENT: 600.0, Party.SUPERVISOR: 1400.0}


def _packet(party: Party, law: int) -> bytes:
    n = np.arange(g711.FRAME_SAMPLES)
    samples = np.round(10000 * np.sin(2 * np.pi * HZ[party] * n / 8000)).astype(np.int16)
    return RTP.pack(0x80, law, 1, 160, 7) + g711.encode(samples, law)


def mix_alone(frames: int) -> None:
    other = {**dict.fromkeys(Party, g711.PCMU), Party.SUPERVISOR: g711.PCMA}
    for laws_name, laws in (("all PCMU", dict.fromkeys(Party, g711.PCMU)), ("supervisor PCMA", other)):
        for mode in MODES:
            mixer = Mixer(laws, mode)
            packets = {party: _packet(party, law) for party, law in laws.items()}
            for _ in range(100):  # warm the tables and the allocator
                mixer.tick()
            cpu0 = time.process_time()
            for _ in range(frames):
                for party, packet in packets.items():
                    found = rtp_payload(packet)
                    if found is not None:
                        mixer.feed(party, *found)
                mixer.tick()
            per_frame = (time.process_time() - cpu0) / frames
            print(f"mix {mode:7} {laws_name:15}: {1e6 * per_frame:6.1f} us per 20 ms frame  "
                  f"({100 * per_frame / 0.02:.3f} % of a core per call; mixed: "
                  f"{', '.join(p.value for p in mixer.mixed())})")


def _bound() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received += 1


async def _phones(line_ports: list[int], sink_port: int, seconds: float, out: Any) -> dict[str, int]:
    loop = asyncio.get_running_loop()
    sink_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink_sock.bind(("127.0.0.1", sink_port))
    sink_sock.setblocking(False)
    _, sink = await loop.create_datagram_endpoint(_Sink, sock=sink_sock)
    mouth = _bound()
    out.put("talking")  # the relay's CPU is read from here: not the spawn of this process
    payload = bytes(_packet(Party.CALLER, g711.PCMU)[RTP.size:])
    start = time.monotonic()
    sent = n = 0
    while time.monotonic() - start < seconds:
        for i, port in enumerate(line_ports):
            header = RTP.pack(0x80, 0, n & 0xFFFF, (160 * n) & 0xFFFFFFFF, i)
            mouth.sendto(header + payload, ("127.0.0.1", port))
            sent += 1
        n += 1
        await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
    await asyncio.sleep(0.3)
    return {"sent": sent, "received": sink.received}


def _phone_process(line_ports: list[int], sink_port: int, seconds: float, out: Any) -> None:
    out.put(asyncio.run(_phones(line_ports, sink_port, seconds, out)))


async def _run(calls: int, seconds: float, supervised: bool) -> None:
    sink = _bound()
    sink_port = sink.getsockname()[1]
    sink.close()  # the phone process binds it: every leg's far end
    legs: list[MediaLeg] = []
    conferences: list[Conference] = []
    line_ports: list[int] = []
    parties = tuple(Party) if supervised else (Party.CALLER, Party.AGENT)
    for _ in range(calls):
        call: dict[Party, MediaLeg] = {}
        for party in parties:
            sock = _bound()
            call[party] = await MediaLeg.open(sock, ("127.0.0.1", sink_port), g711.PCMU)
            line_ports.append(sock.getsockname()[1])
        bridge(call[Party.CALLER], call[Party.AGENT])
        if supervised:
            conference = Conference(call, "barge")
            conference.start()
            conferences.append(conference)
        legs += call.values()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_phone_process, args=(line_ports, sink_port, seconds, out))
    proc.start()
    await asyncio.to_thread(out.get)
    mixed0 = sum(leg.counts.mixed for leg in legs)  # the clocks tick from the start: count from here
    cpu0, wall0 = time.process_time(), time.monotonic()
    result = await asyncio.to_thread(out.get)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    proc.join()
    mixed = sum(leg.counts.mixed for leg in legs) - mixed0
    relayed = sum(leg.counts.relayed for leg in legs)
    for conference in conferences:
        conference.close()
    for leg in legs:
        leg.close()
    what = "barge (3 legs mixed)" if supervised else "no supervisor (pass-through)"
    print(f"relay {what}: calls {calls}  seconds {seconds:.0f}  packets_sent {result['sent']}  "
          f"received {result['received']}  mixed {mixed}  relayed {relayed}")
    print(f"  cpu_percent_of_a_core: {100 * cpu / wall:.2f}  per_call: {100 * cpu / wall / calls:.3f}")


def mix(frames: int, calls: int, seconds: float) -> None:
    mix_alone(frames)
    asyncio.run(_run(calls, seconds, supervised=False))
    asyncio.run(_run(calls, seconds, supervised=True))
