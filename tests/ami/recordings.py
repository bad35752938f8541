"""Loads the AMI session recordings in ``tests/fixtures/ami`` (format: that folder's README)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cti.ami.frames import AmiMessage, parse_frame

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


@dataclass(frozen=True, slots=True)
class Frame:
    t: float  # seconds since this session's connect
    dir: str  # "in" (from Asterisk) or "out" (an action)
    frame: str  # the exact wire text; "" is EOF
    session: int  # 0, then +1 after every {"reconnect": true}


@dataclass(frozen=True, slots=True)
class Recording:
    name: str
    header: dict[str, Any]
    frames: tuple[Frame, ...]

    def incoming(self) -> Iterator[Frame]:
        return (f for f in self.frames if f.dir == "in")

    def messages(self) -> Iterator[AmiMessage]:
        """Every message Asterisk sent, in order (the banner and EOF give none)."""
        for f in self.incoming():
            yield from parse_frame(f.frame)

    def events(self) -> Iterator[AmiMessage]:
        return (m for m in self.messages() if m.event is not None)

    def replies(self, action_id: str) -> list[AmiMessage]:
        """The response and the list events that answer one action, in order."""
        return [m for m in self.messages() if m.action_id == action_id]


def scenario_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.jsonl"))


@cache
def load(name: str) -> Recording:
    lines = (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    frames: list[Frame] = []
    session = 0
    for line in lines[1:]:
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj.get("reconnect"):
            session += 1
            continue
        frames.append(Frame(t=float(obj["t"]), dir=obj["dir"], frame=obj["frame"], session=session))
    return Recording(name=name, header=header, frames=tuple(frames))
