"""A model of the few dial-plan features ``extensions.conf`` uses, to walk one channel through it.

Not Asterisk: just enough of ``${...}`` substitution, ``$[...]`` expressions, the functions and the
applications in the CTI dial plan to check its logic (which branch a caller takes, which UserEvents
it emits with which values). asterisklint checks the syntax; the recorded AMI sessions show the real
behaviour of the parts the recordings cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .astconf import Dialplan, Step, pattern_matches, split_args


class Stop(Exception):
    """The channel's dial plan ended (Hangup, or an application that does not return)."""


@dataclass
class Scenario:
    """What the world outside the dial plan does while the channel runs."""

    epoch: int = 1_795_460_000
    ami_sessions: dict[str, int] = field(default_factory=dict)  # AMI user -> logged-in sessions
    globals: dict[str, str] = field(default_factory=dict)  # set by the CTI server (Setvar)
    keyed: dict[str, str] = field(default_factory=dict)  # Read(VAR,...) -> what the caller keys
    # MusicOnHold in cti-hold returns after its time-out, unless the server bridged the caller
    # with the AMI Bridge action (it then set CTI_AGENT on the caller first)
    ami_bridge_agent: str | None = None
    dial_status: str = "ANSWER"  # what Dial() ends with


@dataclass
class Event:
    name: str
    headers: dict[str, str]
    context: str
    exten: str


@dataclass
class Run:
    apps: list[tuple[str, str, str, str]]  # (context, exten, app, substituted args)
    events: list[Event]
    variables: dict[str, str]
    ended_in: tuple[str, str, str]  # (context, exten, app) of the last application

    def called(self, app: str) -> list[tuple[str, str, str, str]]:
        return [a for a in self.apps if a[2].lower() == app.lower()]


_TOKEN = re.compile(r'\s*(?:("[^"]*")|(-?\d+(?:\.\d+)?)|(!=|<=|>=|=|<|>|-|\+|&|\|)|(\S))')


def _expr(text: str) -> str:
    """$[...] on already substituted text; a syntax error gives "" as in Asterisk."""
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            tokens.append(("val", m.group(1)[1:-1]))
        elif m.group(2) is not None:
            tokens.append(("val", m.group(2)))
        elif m.group(3) is not None:
            tokens.append(("op", m.group(3)))
        elif m.group(4) is not None:
            return ""
    pos = 0

    def num(v: str) -> float | None:
        try:
            return float(v)
        except ValueError:
            return None

    def operand() -> str:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos][0] != "val":
            raise SyntaxError
        pos += 1
        return tokens[pos - 1][1]

    def additive() -> str:
        nonlocal pos
        left = operand()
        while pos < len(tokens) and tokens[pos] in (("op", "-"), ("op", "+")):
            op = tokens[pos][1]
            pos += 1
            right = operand()
            a, b = num(left), num(right)
            if a is None or b is None:
                raise SyntaxError
            r = a - b if op == "-" else a + b
            left = str(int(r)) if r == int(r) else str(r)
        return left

    def comparison() -> str:
        nonlocal pos
        left = additive()
        while pos < len(tokens) and tokens[pos][1] in ("=", "!=", "<", ">", "<=", ">="):
            op = tokens[pos][1]
            pos += 1
            right = additive()
            a, b = num(left), num(right)
            x: float | str = left
            y: float | str = right
            if a is not None and b is not None:
                x, y = a, b
            result = {"=": x == y, "!=": x != y, "<": x < y, ">": x > y,  # type: ignore[operator]
                      "<=": x <= y, ">=": x >= y}[op]  # type: ignore[operator]
            left = "1" if result else "0"
        return left

    def conjunction() -> str:
        nonlocal pos
        left = comparison()
        while pos < len(tokens) and tokens[pos] == ("op", "&"):
            pos += 1
            right = comparison()
            left = "1" if left not in ("", "0") and right not in ("", "0") else "0"
        return left

    try:
        result = conjunction()
    except SyntaxError:
        return ""
    return result if pos == len(tokens) else ""


def _closing(s: str, start: int, open_: str, close: str) -> int:
    depth = 0
    for i in range(start, len(s)):
        if s[i] == open_:
            depth += 1
        elif s[i] == close:
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced {open_}{close} in {s!r}")


class Channel:
    """One channel walking the dial plan."""

    def __init__(self, dialplan: Dialplan, scenario: Scenario, *, name: str, caller: str = "") -> None:
        self.dp = dialplan
        self.sc = scenario
        self.globals = {k: v for k, v in dialplan.globals}
        self.globals.update(scenario.globals)
        self.vars: dict[str, str] = {}
        self.name = name
        self.caller = caller
        self.context = ""
        self.exten = ""
        self.apps: list[tuple[str, str, str, str]] = []
        self.events: list[Event] = []
        self.stack: list[tuple[str, str, int]] = []

    # --- substitution ---
    def subst(self, s: str) -> str:
        out = []
        i = 0
        while i < len(s):
            if s.startswith("${", i):
                j = _closing(s, i + 1, "{", "}")
                out.append(self._lookup(self.subst(s[i + 2:j])))
                i = j + 1
            elif s.startswith("$[", i):
                j = _closing(s, i + 1, "[", "]")
                out.append(_expr(self.subst(s[i + 2:j])))
                i = j + 1
            else:
                out.append(s[i])
                i += 1
        return "".join(out)

    def _lookup(self, inner: str) -> str:
        m = re.fullmatch(r"([A-Z_]+)\((.*)\)", inner, re.S)
        if m:
            return self._function(m.group(1), m.group(2))
        name, _, offset = inner.partition(":")
        value = self._variable(name)
        return value[int(offset):] if offset else value

    def _variable(self, name: str) -> str:
        builtins = {"EXTEN": self.exten, "CONTEXT": self.context, "CHANNEL": self.name,
                    "EPOCH": str(self.sc.epoch)}
        if name in builtins:
            return builtins[name]
        if name in self.vars:
            return self.vars[name]
        return self.globals.get(name, "")

    def _function(self, fn: str, arg: str) -> str:
        if fn == "IF":
            cond, _, rest = arg.partition("?")
            yes, _, no = rest.partition(":")
            return yes if cond.strip() not in ("", "0") else no
        if fn == "FILTER":
            allowed, _, value = arg.partition(",")
            return "".join(c for c in value if c in allowed)
        if fn == "GLOBAL":
            return self.globals.get(arg, "")
        if fn == "AMI_CLIENT":
            user, _, what = arg.partition(",")
            assert what == "sessions"
            if user not in self.sc.ami_sessions:
                return ""  # Asterisk: "There's no manager user called ..." and no value
            return str(self.sc.ami_sessions[user])
        if fn == "CALLERID":
            return self.caller
        raise NotImplementedError(fn)

    # --- control flow ---
    def _find_exten(self, context: str, exten: str) -> str:
        names = self.dp.extensions(context)
        if exten in names:
            return exten
        for pattern in names:
            if pattern_matches(pattern, exten):
                return pattern
        raise LookupError(f"no extension {exten!r} in [{context}]")

    def _index(self, context: str, pattern: str, prio: str) -> int:
        steps = self.dp.steps(context, pattern)
        if prio.isdigit():
            return int(prio) - 1
        for i, step in enumerate(steps):
            if step.label == prio:
                return i
        raise LookupError(f"no label {prio!r} in {pattern}@{context}")

    def _goto(self, target: str) -> tuple[str, str, int]:
        parts = [p.strip() for p in target.split(",")]
        if len(parts) == 1:
            context, exten, prio = self.context, self.exten, parts[0]
        elif len(parts) == 2:
            context, exten, prio = self.context, parts[0], parts[1]
        else:
            context, exten, prio = parts
        self.context, self.exten = context, exten
        return context, exten, self._index(context, self._find_exten(context, exten), prio)

    def run(self, context: str, exten: str, limit: int = 200) -> Run:
        self.context, self.exten = context, exten
        index = 0
        last = (context, exten, "")
        try:
            for _ in range(limit):
                steps = self.dp.steps(self.context, self._find_exten(self.context, self.exten))
                if index >= len(steps):
                    raise Stop  # fell off the end: Asterisk hangs up
                step = steps[index]
                last = (self.context, self.exten, step.app)
                jump = self._execute(step.app, step.args, step)
                index = jump if jump is not None else index + 1
            else:
                raise AssertionError("dial plan loop")
        except Stop:
            pass
        return Run(self.apps, self.events, dict(self.vars), last)

    def _execute(self, app: str, raw_args: str, step: Step) -> int | None:
        args = self.subst(raw_args)
        self.apps.append((self.context, self.exten, app, args))
        a = app.lower()
        if a in ("noop", "answer", "wait", "playback"):
            return None
        if a == "set":
            name, _, value = args.partition("=")
            local = re.fullmatch(r"LOCAL\((\w+)\)", name)
            self.vars[local.group(1) if local else name] = value
            return None
        if a == "execif":
            cond, _, call = args.partition("?")
            if cond.strip() not in ("", "0"):
                m = re.fullmatch(r"(\w+)\((.*)\)", call.split(":")[0], re.S)
                assert m, call
                return self._execute(m.group(1), m.group(2), step)
            return None
        if a == "read":
            var, _prompt, maxdigits, *_ = split_args(args)
            keyed = self.sc.keyed.get(var, "").split("#")[0]
            self.vars[var] = keyed[: int(maxdigits)] if maxdigits else keyed
            return None
        if a == "gotoif":
            cond, _, targets = args.partition("?")
            yes, _, no = targets.partition(":")
            target = yes if cond.strip() not in ("", "0") else no
            return self._goto(target)[2] if target else None
        if a == "goto":
            return self._goto(args)[2]
        if a == "gosub":
            self.stack.append((self.context, self.exten, self._current_index(step) + 1))
            return self._goto(args)[2]
        if a == "return":
            self.vars["GOSUB_RETVAL"] = args
            self.context, self.exten, index = self.stack.pop()
            return index
        if a == "userevent":
            name, *body = split_args(args)
            headers = dict(part.split(": ", 1) for part in body)
            self.events.append(Event(name, headers, self.context, self.exten))
            return None
        if a == "musiconhold":
            if self.sc.ami_bridge_agent is not None:
                self.vars["CTI_AGENT"] = self.sc.ami_bridge_agent
            return None
        if a == "queue":
            return None  # nobody answered within the queue's time-out
        if a == "dial":
            self.vars["DIALSTATUS"] = self.sc.dial_status
            options = [*split_args(args), "", "", ""][2]
            if self.sc.dial_status == "ANSWER" and "g" not in options:
                raise Stop  # talked, then the agent hung up: Dial without g hangs up the caller
            return None  # not answered, or answered with g: the dial plan goes on
        if a in ("bridge", "hangup"):
            raise Stop
        raise NotImplementedError(app)

    def _current_index(self, step: Step) -> int:
        steps = self.dp.steps(step.context, step.exten)
        return next(i for i, s in enumerate(steps) if s is step)
