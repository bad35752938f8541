"""The agent's phone a real softphone: baresip registered at kamailio answers the line's INVITE
(auto-answer), and its audio reaches the caller through the relay.

baresip is another SIP and RTP stack than SIPp's and our own: its answer, its ACK handling and its
BYE through kamailio's record-route are what an agent's desk phone does. Its microphone is a
600 Hz tone (a WAV played by ``aufile``); the caller's SDP names a socket of this test, which first hears the
line's hold audio, then, once baresip answers, baresip's tone.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from adapters.sip import g711
from cti.domain import Interaction, InteractionState
from tests.adapters.center import Center
from tests.adapters.sip.peers import free_udp_port, start_sipp
from tests.adapters.sip.sipcore_line import all_dialogs_ended, no_route_refusals
from tests.adapters.sip.test_g711 import peak_hz, tone
from tests.adapters.sip.test_line import CALLER, LINE, until, voice_interactions
from tests.adapters.sip.test_line_agent import sip_center
from tests.adapters.sip.test_line_drift import loopback_socket, silent_caller_at
from tests.conftest import IN_CI

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RTP_HEADER = 12
PHONE_HZ = 600
MODULES = "/usr/lib/baresip/modules"
# One call to the line, keying '#' (no account), hanging up only when hung up on.
CALLER_ARGS = ("-s", LINE, "-m", "1", "-key", "dtmf", "#", "-key", "cli", CALLER, "-set", "hangup_ms", "0")


@contextlib.contextmanager
def baresip_phone(folder: Path, user: str, proxy_port: int) -> Iterator[subprocess.Popen[str]]:
    """baresip as ``user``'s desk phone, registered at the proxy, answering every call at once."""
    binary = shutil.which("baresip")
    if binary is None or not Path(MODULES).is_dir():
        if IN_CI:
            pytest.fail("baresip is not installed; CI must run this test")
        pytest.skip("baresip is not installed")
    folder.mkdir()
    # The microphone: a 16-bit WAV of the tone (aufile); the speaker: aubridge, a sound card in
    # memory (there is no audio device here). Loopback only (the SDP's address too).
    write_wav(folder / "tone.wav", tone(PHONE_HZ, 60, dbfs=-10))
    (folder / "config").write_text(
        f"poll_method epoll\nsip_listen 127.0.0.1:{free_udp_port()}\nnet_interface 127.0.0.1\n"
        f"audio_player aubridge,phone\naudio_source aufile,{folder / 'tone.wav'}\n"
        f"audio_alert aubridge,alert\nmodule_path {MODULES}\n"
        + "".join(f"module {m}.so\n" for m in ("g711", "aubridge", "aufile"))
        + "module_app account.so\nmodule_app menu.so\n")
    (folder / "accounts").write_text(
        f"<sip:{user}@127.0.0.1:{proxy_port}>;answermode=auto;regint=60;audio_codecs=PCMU,PCMA\n")
    log = (folder / "baresip.log").open("w")
    proc = subprocess.Popen([binary, "-f", str(folder), "-v"], stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.astype("<i2").tobytes())


def said(folder: Path) -> str:
    return (folder / "baresip.log").read_text(errors="replace")


def tone_of(payloads: list[bytes]) -> float:
    return peak_hz(np.concatenate([g711.decode(p, g711.PCMU) for p in payloads]))


def heard_since(ear: socket.socket, seconds: float) -> list[bytes]:
    """The RTP payloads the caller's socket reads over ``seconds``."""
    ear.settimeout(0.5)
    got: list[bytes] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(TimeoutError):
            data, _ = ear.recvfrom(2048)
            if len(data) > RTP_HEADER:
                got.append(data[RTP_HEADER:])
    return got


async def _active(center: Center) -> Interaction | None:
    return next((i for i in await voice_interactions(center) if i.state is InteractionState.ACTIVE), None)


async def test_a_baresip_desk_phone_answers_and_the_caller_hears_it(tmp_path: Path) -> None:
    with loopback_socket() as ear:
        async with sip_center(tmp_path) as calls:
            folder = tmp_path / "baresip"
            with baresip_phone(folder, "alice", calls.kamailio.port) as phone:
                await until(lambda: "200 OK" in said(folder), 15, "baresip to register")
                desk = await calls.center.agent_socket("alice")
                scenario = silent_caller_at(tmp_path, ear.getsockname()[1])
                proxy = f"127.0.0.1:{calls.kamailio.port}"
                caller = await start_sipp(tmp_path, "caller", str(scenario), proxy, *CALLER_ARGS)
                try:
                    hold = await asyncio.to_thread(heard_since, ear, 1.0)  # waiting: the hold audio
                    assert hold and abs(tone_of(hold) - PHONE_HZ) > 50
                    active = await until(lambda: _active(calls.center), 30, "baresip to answer")
                    assert active.agent_id == "alice"
                    await asyncio.sleep(0.5)  # the relay switched from the hold audio to the phone
                    talk = await asyncio.to_thread(heard_since, ear, 2.0)
                    assert len(talk) >= 60, len(talk)
                    frequency = tone_of(talk)
                    print(f"the caller hears baresip: {frequency:.1f} Hz over {len(talk)} packets")
                    assert abs(frequency - PHONE_HZ) <= 8, frequency

                    status, body = await calls.center.api("alice", "POST",
                                                          f"/api/interactions/{active.id}/hangup")
                    assert status == 202, body
                    assert await caller.wait(10) == 0, caller.messages()[-3000:]
                    await until(lambda: "BYE" in said(folder) or "terminated" in said(folder).lower(), 10,
                                "baresip to be hung up")
                    no_route_refusals(calls.kamailio)
                    await all_dialogs_ended(calls.kamailio)
                finally:
                    caller.kill()
                    await desk.close()
                assert phone.poll() is None, said(folder)[-3000:]  # still running: nothing crashed
