"""A small reader for Asterisk ``.conf`` files and the dial plan, enough for the contract tests.

Asterisk's format is not INI: keys repeat (``member =>``, ``deny``, ``eventfilter``), sections of the
same name repeat with different ``type`` (pjsip.conf), and ``[name](!)`` / ``[name](tpl,...)``
declare and use templates. ``configparser`` copes with none of that without losing information, so
this reads the files the way Asterisk does, as far as these files need it: ``;`` comments (``\\;``
escapes), ``key = value`` and ``key => value``, templates, and ``exten``/``same`` dial-plan lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONF_DIR = REPO / "asterisk-config"
RECORDINGS = REPO / "tests" / "fixtures" / "ami"


@dataclass
class Section:
    name: str
    line: int
    is_template: bool = False
    templates: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)  # in file order, keys may repeat
    lines: list[int] = field(default_factory=list)  # the line of each option


def _strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


_CATEGORY = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?$")


def parse(text: str) -> list[Section]:
    """Sections in file order; options before the first section are an error."""
    sections: list[Section] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        if line.startswith("#"):
            raise ValueError(f"line {lineno}: #include/#exec is not supported here: {raw!r}")
        m = _CATEGORY.match(line)
        if m:
            flags = [f.strip() for f in (m.group(2) or "").split(",") if f.strip()]
            sections.append(Section(
                name=m.group(1).strip(), line=lineno, is_template="!" in flags,
                templates=[f for f in flags if f != "!"],
            ))
            continue
        if "=" not in line:
            raise ValueError(f"line {lineno}: neither a section nor an option: {raw!r}")
        if not sections:
            raise ValueError(f"line {lineno}: option outside a section: {raw!r}")
        key, value = line.split("=", 1)
        if value.startswith(">"):
            value = value[1:]
        sections[-1].options.append((key.strip(), value.strip()))
        sections[-1].lines.append(lineno)
    return sections


def load(name: str) -> list[Section]:
    return parse((CONF_DIR / name).read_text(encoding="utf-8"))


def resolved(sections: list[Section], section: Section) -> list[tuple[str, str]]:
    """The section's options with those of its templates first, as Asterisk applies them."""
    options: list[tuple[str, str]] = []
    index = sections.index(section)
    for tpl_name in section.templates:
        tpl = next((s for s in reversed(sections[:index]) if s.name == tpl_name and s.is_template), None)
        if tpl is None:
            raise KeyError(f"[{section.name}] uses template {tpl_name!r}, which is not defined before it")
        options.extend(resolved(sections, tpl))
    options.extend(section.options)
    return options


def last(options: list[tuple[str, str]], key: str) -> str | None:
    values = [v for k, v in options if k == key]
    return values[-1] if values else None


def every(options: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in options if k == key]


def by_type(sections: list[Section], type_: str) -> dict[str, list[tuple[str, str]]]:
    """pjsip.conf: concrete (non-template) sections of one ``type``, by name, options resolved."""
    found: dict[str, list[tuple[str, str]]] = {}
    for s in sections:
        if s.is_template:
            continue
        options = resolved(sections, s)
        if last(options, "type") == type_:
            found[s.name] = options
    return found


# --- dial plan --------------------------------------------------------------------------------------

@dataclass
class Step:
    context: str
    exten: str
    priority: str  # "1", "n", ...
    label: str | None
    app: str
    args: str
    line: int

    def arglist(self) -> list[str]:
        """Arguments split on top-level commas (not inside ${...}, $[...] or (...))."""
        return split_args(self.args)


@dataclass
class Dialplan:
    general: list[tuple[str, str]]
    globals: list[tuple[str, str]]
    contexts: dict[str, list[Step]]
    includes: dict[str, list[str]]

    def steps(self, context: str, exten: str) -> list[Step]:
        return [s for s in self.contexts[context] if s.exten == exten]

    def extensions(self, context: str) -> list[str]:
        return list(dict.fromkeys(s.exten for s in self.contexts[context]))

    def apps(self, context: str, exten: str, app: str) -> list[Step]:
        return [s for s in self.steps(context, exten) if s.app.lower() == app.lower()]


def split_args(args: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in args:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


_APP = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\((.*)\))?$", re.S)
_PRIO = re.compile(r"^(\d+|n)(?:\(([A-Za-z0-9_-]+)\))?$")


def parse_dialplan(text: str) -> Dialplan:
    sections = parse(text)
    general: list[tuple[str, str]] = []
    globals_: list[tuple[str, str]] = []
    contexts: dict[str, list[Step]] = {}
    includes: dict[str, list[str]] = {}
    for sec in sections:
        if sec.name == "general":
            general = sec.options
            continue
        if sec.name == "globals":
            globals_ = sec.options
            continue
        steps = contexts.setdefault(sec.name, [])
        includes.setdefault(sec.name, [])
        exten = None
        for (key, value), line in zip(sec.options, sec.lines, strict=True):
            if key == "include":
                includes[sec.name].append(value)
                continue
            if key == "exten":
                exten, value = value.split(",", 1)
            elif key != "same":
                raise ValueError(f"[{sec.name}]: unexpected {key!r}")
            if exten is None:
                raise ValueError(f"[{sec.name}]: 'same' before any 'exten'")
            prio_s, call = value.split(",", 1)
            pm = _PRIO.match(prio_s.strip())
            am = _APP.match(call.strip())
            if not pm or not am:
                raise ValueError(f"[{sec.name}]: cannot read {key} => {value!r}")
            steps.append(Step(sec.name, exten.strip(), pm.group(1), pm.group(2), am.group(1),
                              am.group(2) or "", line))
    return Dialplan(general, globals_, contexts, includes)


def load_dialplan() -> Dialplan:
    return parse_dialplan((CONF_DIR / "extensions.conf").read_text(encoding="utf-8"))


def pattern_matches(pattern: str, number: str) -> bool:
    """Asterisk extension matching: literal, or ``_`` pattern with X Z N [..] . !"""
    if not pattern.startswith("_"):
        return pattern == number
    rx = []
    i = 1
    while i < len(pattern):
        ch = pattern[i]
        if ch == "X":
            rx.append("[0-9]")
        elif ch == "Z":
            rx.append("[1-9]")
        elif ch == "N":
            rx.append("[2-9]")
        elif ch == ".":
            rx.append(".+")
        elif ch == "!":
            rx.append(".*")
        elif ch == "[":
            end = pattern.index("]", i)
            rx.append("[" + re.escape(pattern[i + 1:end]).replace("\\-", "-") + "]")
            i = end
        else:
            rx.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(rx), number) is not None


def user_event(step: Step) -> tuple[str, dict[str, str]]:
    """UserEvent(Name,Key: value,...) -> (Name, headers). Raises on a malformed header."""
    name, *body = step.arglist()
    headers: dict[str, str] = {}
    for part in body:
        key, sep, value = part.partition(": ")
        if not sep or not key or key in headers:
            raise ValueError(f"line {step.line}: bad UserEvent header {part!r}")
        headers[key] = value
    return name, headers
