"""Wire evidence: stock pyVoIP 2.0.0a4 dialling an agent's phone through kamailio (not a test).

The sibling of ``evidence.py`` (pyVoIP 1.6.8) for the 2.0 pre-release. The project pins 1.6.8, so
run it from a separate virtualenv, as root (the SIP packets are read from a raw socket on ``lo``)::

    python -m venv venv-pyvoip2
    venv-pyvoip2/bin/pip install pyVoIP==2.0.0a4 pytest 'psycopg[binary]'  # tests.conftest imports both
    PYTHONPATH=. venv-pyvoip2/bin/python -m tests.adapters.sip.evidence_v2 [--out DIR] [--line-ip IP]

It does not import ``evidence.py`` (that module imports pyVoIP 1.6.8's ``pyVoIP.VoIP.VoIP``): the
sniffer, the SIPp phones, kamailio and the report come from ``wire``, which both scripts share and
which imports no pyVoIP. It starts kamailio with the unchanged ``kamailio.cfg`` on a free port
(``peers.Kamailio``: 2.0 puts the proxy's port in the Request-URI, so no ``--alias`` is needed),
SIPp phones registered to it by a plain REGISTER, and a plain ``VoIPPhone(VoIPPhoneParameter(...))``
registered as ``line``; then it dials with ``phone.call(number)``. Nothing of pyVoIP is changed: its
``debug`` functions are replaced by a recorder, ``threading.excepthook`` and
``warnings.showwarning`` are recorded too.

The line binds ``--line-ip`` (default 127.0.0.2; kamailio and the phones are on 127.0.0.1):
pyVoIP 2.0 tells the two ends of a dialog apart by whether the To host is its own address
(``networking/sock.py`` ``determine_tags``), so with everything on one address every message
looks addressed to itself. ``--line-ip 127.0.0.1`` shows that variant.

Cases (agent.xml plus ``[last_Record-Route:]`` where marked RR, so failures are pyVoIP's; a SIPp
caller doing ACK/BYE with ``[routes]`` to that variant passes, see ``evidence.py``'s control):
  A answered (RR, talk_ms 0), never hung up: the ACK, the 200 retransmissions;
  B the same, then ``call.hangup()``: pyVoIP's BYE;
  G ``phone.call("")``: kamailio's 484 without a 100 (does ``phone.call`` block, and the line?);
  C busy (486, busy.xml written here): ACK of a non-2xx, the call state;
  D never answers (agent_noanswer.xml): ``call.hangup()``, then 2.0's ``call.cancel()``;
  E a user that is not registered: ``phone.call`` itself;
  F a full URI, ``phone.call("agentF@127.0.0.1:<port>")`` (RR, the phone hangs up after 2 s).
Traces (one file per call), pyVoIP's debug lines and ``report.txt`` go to ``--out`` (default: a
temp dir); ~2 minutes. Packet times are the kernel's receive stamps.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.adapters.sip.peers import SIPP_DIR, free_udp_port, free_udp_range
from tests.adapters.sip.wire import (
    BUSY_XML,
    Packet,
    Recorder,
    Report,
    Sniffer,
    agent_with_record_route,
    arguments,
    in_thread,
    out_dir,
    register,
    select,
    start_kamailio,
    start_phone,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pyVoIP imports audioop
    import pyVoIP
    from pyVoIP.credentials import CredentialsManager
    from pyVoIP.SIP.message import SIPMessage
    from pyVoIP.VoIP.phone import VoIPPhone, VoIPPhoneParameter

PYVOIP_MODULES = ("SIP.client", "SIP.message", "VoIP.phone", "VoIP.call", "networking.sock", "RTP")


# --- pyVoIP, stock -------------------------------------------------------------------------------

class FullRecorder(Recorder):
    """pyVoIP's ``debug()`` calls, uncaught thread exceptions and warnings (observation only)."""

    def install(self) -> None:
        for name in PYVOIP_MODULES:
            sys.modules[f"pyVoIP.{name}"].debug = self  # type: ignore[attr-defined]

        def hook(args: threading.ExceptHookArgs) -> None:
            where = where_raised(args.exc_traceback)
            name = args.thread.name if args.thread else "?"
            self(f"UNCAUGHT in thread {name!r}: {args.exc_type.__name__}: {args.exc_value} at {where}")

        def show(message: Any, category: Any, *_: Any, **__: Any) -> None:
            self(f"WARNING {category.__name__}: {message}")

        threading.excepthook = hook
        warnings.showwarning = show


def where_raised(tb: Any) -> str:
    frames = [f for f in traceback.extract_tb(tb) if "pyVoIP" in f.filename] or traceback.extract_tb(tb)
    if not frames:
        return "?"
    f = frames[-1]
    return f"{f.filename.split('pyVoIP/')[-1]}:{f.lineno} ({f.line})"


def start_line(kamailio_port: int, line_ip: str) -> VoIPPhone:
    low = free_udp_range(20)
    phone = VoIPPhone(VoIPPhoneParameter(
        server="127.0.0.1", port=kamailio_port, user="line", credentials_manager=CredentialsManager(),
        bind_ip=line_ip, bind_port=free_udp_port(), rtp_port_low=low, rtp_port_high=low + 19))
    phone.start()
    return phone


def attempt(rep: Report, label: str, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
    """``fn()`` on a thread (pyVoIP may block for ever); reports its result, exception or block."""
    rep.say(f">>> {label}")
    outcome = in_thread(fn, label, timeout)
    if outcome.blocked:
        rep.say(f"<<< still blocked after {timeout:.0f} s")
    elif (exc := outcome.error) is not None:
        where = where_raised(exc.__traceback__)
        rep.say(f"<<< raised {type(exc).__name__}: {exc} after {outcome.took:.2f} s at {where}")
    else:
        value = outcome.value
        state = f", state {value.state.name}, Call-ID {value.call_id}" if hasattr(value, "state") else ""
        rep.say(f"<<< returned after {outcome.took:.3f} s{state}")
    return outcome.value


# --- report -----------------------------------------------------------------------------------

def analyse(rep: Report, pkts: list[Packet], line: int, kam: int, agent: int) -> None:
    """Counts, and each request pyVoIP sent compared with its INVITE and the dialog it should use."""
    t0 = pkts[0].t if pkts else 0.0

    def sel(src: int, dst: int, start: str, method: str = "") -> list[Packet]:
        return select(pkts, src, dst, start, method)

    rep.say("--- counts (times in s) ---")
    for label, found in (
            ("agent's 200 OK (INVITE)", sel(agent, kam, "SIP/2.0 200", "INVITE")),
            ("200 OK (INVITE) to pyVoIP", sel(kam, line, "SIP/2.0 200", "INVITE")
             + sel(agent, line, "SIP/2.0 200", "INVITE")),
            ("ACK reaching the agent", sel(kam, agent, "ACK ") + sel(line, agent, "ACK ")),
            ("BYE reaching the agent", sel(kam, agent, "BYE ") + sel(line, agent, "BYE ")),
            ("CANCEL reaching the agent", sel(kam, agent, "CANCEL ")),
            ("final >= 300 to pyVoIP",
             [p for p in sel(kam, line, "SIP/2.0 ") if p.status >= 300]),
    ):
        if found:
            rep.say(f"  {label}: {len(found)} at [{', '.join(f'{p.t - t0:.1f}' for p in found)}]")
    invite = next((p for p in pkts if p.src == line and p.first.startswith("INVITE ")), None)
    if invite is None:
        return
    ok = next((p for p in pkts if p.dst == line and p.first.startswith("SIP/2.0 200")
               and p.header("cseq").endswith("INVITE")), None)
    contact = re.sub(r"^.*<([^>]*)>.*$", r"\1", ok.header("contact")) if ok else "-"
    remote_tag = ok.to_tag if ok else next((p.to_tag for p in pkts if p.dst == line and p.to_tag), "-")
    rep.say(f"--- pyVoIP's requests (INVITE: {invite.uri}, branch {invite.branch}, "
            f"CSeq {invite.header('cseq')}; remote target {contact}, remote tag {remote_tag}) ---")
    seen: set[str] = set()
    for p in pkts:
        if p.src != line or p.first.startswith(("INVITE ", "SIP/")):
            continue
        key = f"{p.first}|{p.branch}|{p.to_tag}"
        if key in seen:
            continue
        seen.add(key)
        rep.say(f"  {p.first}  -> {rep.name(p.dst)}")
        rep.say(f"     R-URI = INVITE's: {p.uri == invite.uri}; = remote Contact: {p.uri == contact}; "
                f"branch = INVITE's: {p.branch == invite.branch}; To tag {p.to_tag or '(none)'} "
                f"(remote's: {p.to_tag == remote_tag}); Route: {p.header('route') or '(none)'}; "
                f"CSeq {p.header('cseq')}")


def deterministic(value: str, limit: int = 64) -> str:
    """Which counter value ``value`` is the SHA-256 of, as pyVoIP's gen_call_id makes them."""
    for n in range(limit):
        h = hashlib.sha256(str(n).encode()).hexdigest()
        if value.startswith(h[:25]) or value.startswith("z9hG4bK" + h[:25]):
            return f"sha256('{n}')"
    return "not a counter hash"


# --- the run -----------------------------------------------------------------------------------

def run(rep: Report, workdir: Path, line_ip: str) -> None:
    kam = start_kamailio(workdir, "kamailio")
    rep.names[kam.port] = "kamailio"
    busy_xml = workdir / "busy.xml"
    busy_xml.write_text(BUSY_XML)
    agent_rr = agent_with_record_route(workdir)
    ring = ("-set", "ring_ms", "500")
    phones = {
        "agentA": start_phone(workdir, "agentA", agent_rr, *ring, "-set", "talk_ms", "0"),
        "agentB": start_phone(workdir, "agentB", agent_rr, *ring, "-set", "talk_ms", "0"),
        "agentC": start_phone(workdir, "agentC", busy_xml),
        "agentD": start_phone(workdir, "agentD", SIPP_DIR / "agent_noanswer.xml"),
        "agentF": start_phone(workdir, "agentF", agent_rr, *ring, "-set", "talk_ms", "2000"),
    }
    for name, ph in phones.items():
        rep.names[ph.port] = name
        rep.say(f"{name} REGISTER: {register(kam.port, name, ph.port)}")
    phone = start_line(kam.port, line_ip)
    line = phone.sip.bind_port
    rep.names[line] = "pyVoIP"
    rep.say(f"pyVoIP {line_ip}:{line} status: {phone.get_status().name}")
    cpu0, wall0 = time.process_time(), time.monotonic()
    calls: dict[str, Any] = {}
    try:
        calls["A"] = attempt(rep, "A: phone.call('agentA')", lambda: phone.call("agentA"))
        calls["B"] = attempt(rep, "B: phone.call('agentB')", lambda: phone.call("agentB"))
        deadline = time.monotonic() + 5
        while calls["B"] is not None and calls["B"].state.name != "ANSWERED" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        if (b := calls["B"]) is not None:
            attempt(rep, f"B: call.hangup() in state {b.state.name}", b.hangup)
            rep.say(f"    call B state now {b.state.name}")
        time.sleep(1)
        attempt(rep, "G: phone.call('') (kamailio: 484, no 100)", lambda: phone.call(""))
        calls["C"] = attempt(rep, "C: phone.call('agentC')", lambda: phone.call("agentC"))
        calls["D"] = attempt(rep, "D: phone.call('agentD')", lambda: phone.call("agentD"))
        time.sleep(2)
        if (d := calls["D"]) is not None:
            attempt(rep, f"D: call.hangup() in state {d.state.name} (ringing)", d.hangup)
            attempt(rep, f"D: call.cancel() in state {d.state.name}", d.cancel)
            rep.say(f"    call D state now {d.state.name}")
        calls["E"] = attempt(rep, "E: phone.call('nobody')", lambda: phone.call("nobody"))
        full = f"agentF@127.0.0.1:{phones['agentF'].port}"
        calls["F"] = attempt(rep, f"F: phone.call({full!r})", lambda: phone.call(full))
        # D without a CANCEL: kamailio's fr_inv_timer is 60 s; A: the 200 is retransmitted for 32 s
        wait_until = time.monotonic() + 100
        while time.monotonic() < wait_until and any(p.proc.poll() is None for p in phones.values()):
            time.sleep(0.5)
        time.sleep(5)  # the last retransmissions of finals to pyVoIP
        for key in "ABGCDEF":
            name = f"agent{key}"
            c = calls.get(key)
            rep.rule()
            rep.say(f"CASE {key} ({name})")
            user = {"G": "127.0.0.1", "E": "nobody@"}.get(key, f"{name}@")
            cid = c.call_id if c is not None else rep.last_invite(user, line)
            pkts = rep.trace(f"{key}-{name}", cid)
            analyse(rep, pkts, line, kam.port, phones[name].port if name in phones else -1)
            rep.kamailio(kam, cid)
            if c is not None:
                rep.say(f"pyVoIP call state now: {c.state.name}; in phone.calls: {cid in phone.calls}")
            if name in phones:
                rep.sipp(phones[name], pkts[0].t if pkts else None)
        rep.rule()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        rep.say(f"CPU used by this process during the calls: {cpu:.0f} s in {wall:.0f} s")
        rep.say(f"RTP ports still assigned: {len(phone.assignedPorts)}; calls known: "
                + ", ".join(f"{v.state.name}" for v in phone.calls.values()))
        rep.say(f"pyVoIP socket thread alive: {phone.sip.s.is_alive()}; threads: {threading.active_count()}")
        mine = [p for p in rep.sniffer.packets if p.src == line]
        for p in mine:
            if p.first.startswith(("INVITE ", "REGISTER ")):
                rep.say(f"  {p.first.split()[0]:8} Call-ID {p.call_id} = {deterministic(p.call_id)}; "
                        f"branch {p.branch} = {deterministic(p.branch)}")
        rep.say("pyVoIP's message buffer at the end (received, never read by anyone):")
        cur = phone.sip.s.buffer.cursor()
        for call_id, msg in cur.execute('SELECT "call_id", "msg" FROM "msgs"').fetchall():
            rep.say(f"  {call_id[:12]}…  {msg.split(chr(13), 1)[0]}")
        cur.close()
        rep.say("Datagrams to pyVoIP that its parser rejects (VoIPSocket drops them silently):")
        for p in rep.sniffer.packets:
            if p.dst == line:
                try:
                    SIPMessage(p.text.encode())
                except Exception as exc:
                    rep.say(f"  {p.first} ({p.call_id[:12]}…): {type(exc).__name__}: {str(exc)[:100]}")
    finally:
        for ph in phones.values():
            ph.kill()
        thread = threading.Thread(target=phone.stop, name="stop", daemon=True)
        thread.start()
        thread.join(5)
        kam.stop()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--line-ip", default="127.0.0.2", help="pyVoIP's bind address (default 127.0.0.2)")
    args = parser.parse_args()
    out = out_dir(args.out, "sip-evidence-v2-")
    recorder = FullRecorder()
    recorder.install()
    sniffer = Sniffer()
    rep = Report(out, sniffer, collapse_repeats=True, sipp_codes="0 = call completed, 1 = failed")
    t0 = time.time()
    rep.say(f"pyVoIP {pyVoIP.__version__}, output in {out}")
    try:
        run(rep, out, args.line_ip)
    finally:
        sniffer.stop()
        rep.rule()
        rep.say("pyVoIP debug() lines about errors, uncaught thread exceptions, warnings (first of each):")
        keys = ("rror", "TODO", "Unknown", "UNCAUGHT", "WARNING", "not a 401", "Canceled", "failed",
                "FAILED", "Unable", "other than ACK", "Terminat")
        seen: set[str] = set()
        for t, text in recorder.lines:
            first = text.splitlines()[0] if text else ""
            if any(k in text for k in keys) and first[:80] not in seen:
                seen.add(first[:80])
                rep.say(f"  {t - t0:7.1f}s  {first[:200]}")
        (out / "pyvoip-debug.txt").write_text("".join(f"{t - t0:8.3f} {s}\n" for t, s in recorder.lines))
        rep.save()
        os._exit(0)  # pyVoIP's threads (receivers polling for ever, register timer) would keep us


if __name__ == "__main__":
    main()
