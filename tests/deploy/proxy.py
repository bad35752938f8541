"""deploy/proxy/nginx.conf, copied to run outside its container: its certificate made by the
image's own entry point, its folders in a temporary one, the nodes' names (which only the compose
network resolves) and its ports given here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.deploy.compose import ROOT

PROXY_DIR = ROOT / "deploy" / "proxy"


def need(command: str, package: str) -> str:
    found = shutil.which(command) or next((p for p in (f"/usr/sbin/{command}", f"/sbin/{command}")
                                           if os.path.exists(p)), None)
    if found:
        return found
    if IN_CI:
        pytest.fail(f"{command} is missing (Debian package {package}); CI must run this test")
    pytest.skip(f"{command} is missing (Debian package {package})")


def first_start(tls: Path, public_name: str | None = None) -> subprocess.CompletedProcess[str]:
    """The image's entry point, as on a container's start, with ``true`` for nginx."""
    env = {"PATH": os.environ["PATH"], "CTI_TLS_DIR": str(tls)}
    if public_name:
        env["CTI_PUBLIC_NAME"] = public_name
    return subprocess.run(["sh", str(PROXY_DIR / "docker-entrypoint.sh"), "true"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def proxy_copy(tmp_path: Path, *, upstreams: tuple[str, str] = ("127.0.0.1:9", "127.0.0.1:9"),
               plain: int = 8080, tls_port: int = 8443, public_name: str = "cti.example.com") -> Path:
    tls = tmp_path / "tls"
    tls.mkdir()
    done = first_start(tls, public_name)
    assert done.returncode == 0, done.stderr
    text = (PROXY_DIR / "nginx.conf").read_text(encoding="utf-8")
    text = text.replace("/etc/nginx/tls", str(tls)).replace("/tmp/nginx", str(tmp_path / "run"))
    for node, address in zip(("cti1", "cti2"), upstreams, strict=True):
        text = text.replace(f"server {node}:8080", f"server {address}")
    text = re.sub(r"listen 8080 ", f"listen 127.0.0.1:{plain} ", text)
    text = re.sub(r"listen 8443 ", f"listen 127.0.0.1:{tls_port} ", text)
    (tmp_path / "run").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf
