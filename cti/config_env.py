"""``${NAME}`` in the configuration file's values, replaced by the environment variable NAME.

Secrets (a Twilio auth token, an AMI secret) then stay out of the file: ``auth_token:
${TWILIO_AUTH_TOKEN}``. A variable that is not set is an error naming it and the key, never an
empty string silently kept. ``$${`` stands for a literal ``${``. Substitution runs on the parsed
values (not the text), so a value can never change the file's structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cti.config_model import path_text

_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class UnsetVariable(ValueError):
    """A ``${NAME}`` in the file names a variable that is not set."""


def substitute(data: Any, environ: Mapping[str, str], path: tuple[int | str, ...] = ()) -> Any:
    if isinstance(data, str):
        return _text(data, environ, path)
    if isinstance(data, Mapping):
        return {key: substitute(value, environ, (*path, str(key))) for key, value in data.items()}
    if isinstance(data, list):
        return [substitute(value, environ, (*path, i)) for i, value in enumerate(data)]
    return data


def _text(value: str, environ: Mapping[str, str], path: tuple[int | str, ...]) -> str:
    if "${" not in value:
        return value

    def one(found: re.Match[str]) -> str:
        name = found.group(1)
        if name is None:
            return "${"
        if name not in environ:
            raise UnsetVariable(f"{path_text(path)}: environment variable {name} is not set")
        return environ[name]

    return _VARIABLE.sub(one, value)
