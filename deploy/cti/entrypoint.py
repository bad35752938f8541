#!/usr/bin/env python3
"""The server image's entry point: ``cti``, with its configuration made from a template.

Docker hands a container its secrets as environment variables (docker-compose.yml takes them
from ``.env``), while ``cti serve --config`` reads a file. With ``CTI_CONFIG_TEMPLATE`` naming a
file, each ``${NAME}`` in it is replaced by the environment variable NAME, written as a quoted
YAML string (a value can neither break the file nor add a key to it), and the result, readable by
this user only, is given to ``cti serve`` (``--config``) and ``cti config check``. A NAME that is
unset or empty stops the start with one line naming every such NAME. Without
``CTI_CONFIG_TEMPLATE`` the arguments go to ``cti`` untouched.

Written by hand because it is a dozen lines: ``string.Template`` would also take ``$name``, which
argon2 hashes (``$argon2id$v=19$...``) are full of, and ``os.path.expandvars`` leaves unset names
in place silently.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

TEMPLATE_VARIABLE = "CTI_CONFIG_TEMPLATE"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingVariables(Exception):
    """Placeholders of the template that the environment does not fill."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"not set: {', '.join(names)} (see .env.example)")
        self.names = tuple(names)


def placeholders(template: str) -> set[str]:
    return {m.group(1) for m in PLACEHOLDER.finditer(template)}


def render(template: str, env: Mapping[str, str]) -> str:
    missing = sorted(name for name in placeholders(template) if not env.get(name))
    if missing:
        raise MissingVariables(missing)
    # JSON strings are YAML double-quoted scalars.
    return PLACEHOLDER.sub(lambda m: json.dumps(env[m.group(1)]), template)


def _subcommand_at(args: Sequence[str]) -> int:
    """Where the subcommand is, past the global options."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] == "--log-level" else 1
    return i


def reads_config(argv: Sequence[str]) -> bool:
    i = _subcommand_at(argv)
    return list(argv[i:i + 1]) == ["serve"] or list(argv[i:i + 2]) == ["config", "check"]


def with_config(argv: Sequence[str], path: str) -> list[str]:
    """``argv`` with the rendered file given to the subcommands that read one."""
    args = list(argv)
    i = _subcommand_at(args)
    if args[i:i + 1] == ["serve"]:
        return [*args[:i + 1], "--config", path, *args[i + 1:]]
    if args[i:i + 2] == ["config", "check"]:
        return [*args[:i + 2], path, *args[i + 2:]]
    return args


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    template_path = env.get(TEMPLATE_VARIABLE)
    args = list(argv)
    # hash-password and the others run without the template: its hashes may not exist yet.
    if template_path and reads_config(args):
        try:
            text = render(Path(template_path).read_text(encoding="utf-8"), env)
        except (OSError, MissingVariables) as exc:
            print(f"cti: configuration template {template_path}: {exc}", file=sys.stderr)
            return 2
        fd, rendered = tempfile.mkstemp(prefix="cti-config-", suffix=".yaml")  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        args = with_config(args, rendered)
    os.execvp("cti", ["cti", *args])
    return 127  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
