"""docker-compose.yml as ``docker-compose config`` resolves it, with an ``.env`` made from
``.env.example`` the way docs/deploy.md says (every value filled, real argon2id hashes)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from cti.passwords import hash_password
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SERVER_IMAGE = "cti-server"
SERVER_NODES = ("cti1", "cti2")

# `${NAME}`, `${NAME:-default}`, `${NAME:?message}` in the compose file; `$$` is a literal `$`.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def compose_command() -> list[str]:
    """``docker-compose`` (Debian's package, 1.29), else the ``docker compose`` plugin."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False,
                                 timeout=60).returncode == 0:
        return [docker, "compose"]
    if IN_CI:
        pytest.fail("neither docker-compose nor docker compose is installed (Debian: docker-compose)")
    pytest.skip("neither docker-compose nor docker compose is installed (Debian: docker-compose)")


def example_env() -> dict[str, str]:
    """``.env.example``'s names and values, quotes taken off as compose takes them off."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = ENV_LINE.match(line.strip())
        if m:
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            found[m.group(1)] = value
    return found


def filled_env() -> dict[str, str]:
    """Every value of ``.env.example`` filled as an admin would: random-looking secrets, real
    hashes (full of ``$``), an address; the ones with a default keep it."""
    env = example_env()
    for name, value in env.items():
        if value:
            continue
        if name.endswith("_PASSWORD_HASH"):
            env[name] = hash_password(f"pw-{name.lower()}")
        elif name == "SIP_EXTERNAL_ADDRESS":
            env[name] = "192.0.2.10"
        elif name.startswith("SIP_PROVIDER_"):
            continue  # optional: left empty, the example trunk stays
        else:
            env[name] = f"{name.lower().replace('_', '')}0123456789abcdef0123456789abcdef"
    return env


def write_env(path: Path, env: dict[str, str]) -> Path:
    # Single quotes, as .env.example asks for the hashes: literal for compose v1 and v2.
    path.write_text("".join(f"{k}='{v}'\n" for k, v in env.items()), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Resolved:
    doc: dict[str, Any]
    env: dict[str, str]

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.doc["services"]
        return services


def run_config(env_file: Path, project_dir: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*compose_command(), "--project-directory", str(project_dir),
                           "-f", str(project_dir / "docker-compose.yml"), "--env-file", str(env_file),
                           "config"], cwd=project_dir, capture_output=True, text=True, timeout=120,
                          check=False)


def resolve(tmp_path: Path) -> Resolved:
    env = filled_env()
    done = run_config(write_env(tmp_path / "filled.env", env))
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(done.stdout)
    return Resolved(doc=doc, env=env)


def literal(value: str) -> str:
    """A value of ``config``'s output as the container gets it (``$$`` is one ``$``)."""
    return value.replace("$$", "$")


def entrypoint_module() -> ModuleType:
    """``deploy/cti/entrypoint.py``, the nodes' entry point (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("cti_entrypoint", ROOT / "deploy" / "cti" / "entrypoint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
