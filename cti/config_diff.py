"""What changed between two versions of the live configuration, one line each (pure).

Named items (queues, agents, teams, canned replies) are compared by name, so a reordered list is
no change; a password is said to change, never shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

KEYS = {"teams": "name", "queues": "name", "agents": "id", "canned_replies": "id"}
SETS = ("dispositions", "away_reasons")
HIDDEN = frozenset({"password"})
MAX_LINES = 200


def _flat(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            _flat(inner, f"{path}.{key}", out)
    else:
        out[path] = value


def _entities(document: Mapping[str, Any], section: str) -> dict[str, Any]:
    key = KEYS[section]
    return {str(item.get(key)): item for item in document.get(section) or [] if isinstance(item, Mapping)}


def _show(path: str, value: Any) -> str:
    if path.rsplit(".", 1)[-1] in HIDDEN:
        return "(hidden)"
    return json.dumps(value, ensure_ascii=False, default=str)


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for section in sorted(set(old) | set(new)):
        before, after = old.get(section), new.get(section)
        if before == after:
            continue
        if section in KEYS:
            a, b = _entities(old, section), _entities(new, section)
            lines += [f"{section}.{name}: added" for name in b if name not in a]
            lines += [f"{section}.{name}: removed" for name in a if name not in b]
            for name in (n for n in b if n in a and a[n] != b[n]):
                lines += _changes(f"{section}.{name}", a[name], b[name])
        elif section in SETS:
            was, now = list(before or []), list(after or [])
            lines += [f"{section}: added {v!r}" for v in now if v not in was]
            lines += [f"{section}: removed {v!r}" for v in was if v not in now]
            if not any(v not in was for v in now) and not any(v not in now for v in was):
                lines.append(f"{section}: reordered")
        else:
            lines += _changes(section, before, after)
    return lines[:MAX_LINES] + ([f"... and {len(lines) - MAX_LINES} more"] if len(lines) > MAX_LINES else [])


def _changes(path: str, before: Any, after: Any) -> list[str]:
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flat(before, path, a)
    _flat(after, path, b)
    lines = []
    for key in sorted(set(a) | set(b)):
        if key not in a:
            lines.append(f"{key}: set to {_show(key, b[key])}")
        elif key not in b:
            lines.append(f"{key}: removed")
        elif a[key] != b[key]:
            if key.rsplit(".", 1)[-1] in HIDDEN:
                lines.append(f"{key}: changed")
            else:
                lines.append(f"{key}: {_show(key, a[key])} -> {_show(key, b[key])}")
    return lines
