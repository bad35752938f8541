"""The images docker-compose.yml builds, checked without Docker: the server's Dockerfile, the
nodes' entry point, Asterisk's Dockerfile and entry point against asterisk-config/, and the
proxy's nginx configuration (``nginx -t``) and first-start certificate."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cti.cli import build_parser
from tests.asterisk_config.astconf import by_type, every, last, parse
from tests.deploy.compose import ROOT, entrypoint_module, literal, resolve
from tests.deploy.proxy import PROXY_DIR, first_start, need, proxy_copy

ASTERISK_DIR = ROOT / "asterisk-config"


def _stages(dockerfile: Path) -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), one list per stage."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


# --- the server image --------------------------------------------------------------------------------

def test_the_server_image_is_multi_stage_non_root_with_a_health_check_on_healthz() -> None:
    stages = _stages(ROOT / "Dockerfile")
    assert len(stages) >= 2
    final = stages[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    health = " ".join(line for line in final if line.startswith("HEALTHCHECK "))
    assert "http://127.0.0.1:8080/healthz" in health
    # What it runs is the entry point, then `cti` with the flags of its CMD.
    cmd = next(line for line in final if line.startswith("CMD "))
    args = build_parser().parse_args(yaml.safe_load(cmd.removeprefix("CMD ")))
    assert args.command == "serve" and args.port == 8080
    for line in final:
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_the_docker_build_context_keeps_out_secrets_and_the_venv() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", ".git"} <= set(ignored)
    for line in _stages(ROOT / "Dockerfile")[0]:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert source not in ignored, source


# --- the nodes' entry point ---------------------------------------------------------------------------

def test_values_go_in_as_quoted_strings_that_cannot_break_the_file() -> None:
    entrypoint = entrypoint_module()
    nasty = 'x"\n  role: admin\nq: \\ $argon2id$v=19${HOME}'
    text = entrypoint.render("token_secret: ${S}\nother: ${T}\n", {"S": nasty, "T": "plain"})
    assert yaml.safe_load(text) == {"token_secret": nasty, "other": "plain"}


def test_every_missing_value_is_named_at_once() -> None:
    entrypoint = entrypoint_module()
    with pytest.raises(entrypoint.MissingVariables) as caught:
        entrypoint.render("a: ${B}\nc: ${A}\nd: ${SET}\ne: ${EMPTY}\n", {"SET": "1", "EMPTY": ""})
    assert caught.value.names == ("A", "B", "EMPTY")


def test_the_rendered_file_goes_to_serve_and_config_check_only() -> None:
    entrypoint = entrypoint_module()
    assert entrypoint.with_config(["serve", "--port", "8080"], "/f") == [
        "serve", "--config", "/f", "--port", "8080"]
    assert entrypoint.with_config(["--log-level", "DEBUG", "serve"], "/f") == [
        "--log-level", "DEBUG", "serve", "--config", "/f"]
    assert entrypoint.with_config(["config", "check", "--strict"], "/f") == [
        "config", "check", "/f", "--strict"]
    assert entrypoint.with_config(["hash-password"], "/f") == ["hash-password"]
    assert not entrypoint.reads_config(["hash-password"]) and not entrypoint.reads_config(["db", "upgrade"])
    # What the parser makes of them: the file is where cti reads it.
    assert build_parser().parse_args(entrypoint.with_config(["serve"], "/f")).config == "/f"
    assert build_parser().parse_args(entrypoint.with_config(["config", "check"], "/f")).file == "/f"


def test_a_missing_value_stops_the_start_in_one_line(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("token_secret: ${CTI_TOKEN_SECRET}\n", encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "CTI_CONFIG_TEMPLATE": str(template)}
    done = subprocess.run(["python3", str(ROOT / "deploy" / "cti" / "entrypoint.py"), "serve"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == (f"cti: configuration template {template}: not set: CTI_TOKEN_SECRET "
                           "(see .env.example)\n")


# --- Asterisk -----------------------------------------------------------------------------------------

def _modules_conf(kind: str) -> set[str]:
    modules = next(s for s in parse((ASTERISK_DIR / "modules.conf").read_text(encoding="utf-8"))
                   if s.name == "modules")
    return {m.removesuffix(".so") for m in every(modules.options, kind)}


def test_the_asterisk_image_builds_22_lts_with_the_modules_the_configuration_requires() -> None:
    dockerfile = (ASTERISK_DIR / "Dockerfile").read_text(encoding="utf-8")
    version = re.search(r"^ARG ASTERISK_VERSION=(\S+)$", dockerfile, re.M)
    assert version and version.group(1).startswith("22.")
    assert "downloads.asterisk.org/pub/telephony/asterisk/releases/" in dockerfile
    assert "sha256sum -c" in dockerfile
    # The list it builds: modules.conf's require lines, through the Dockerfile's own sed.
    sed = re.search(r"sed -n '([^']+)' /tmp/modules\.conf", dockerfile)
    assert sed
    listed = subprocess.run(["sed", "-n", sed.group(1), str(ASTERISK_DIR / "modules.conf")],
                            capture_output=True, text=True, check=True, timeout=30).stdout.split()
    assert set(listed) == _modules_conf("require") and listed
    extra = re.search(r'^ARG EXTRA_MODULES="([^"]+)"', dockerfile, re.M | re.S)
    assert extra
    extras = set(extra.group(1).replace("\\\n", " ").split())
    assert extras and not extras & _modules_conf("noload")
    # Nothing else: every module category off before the wanted ones go on.
    assert "--disable-category MENUSELECT_%s" in dockerfile
    for category in ("APPS", "CHANNELS", "RES", "FUNCS", "PBX", "CODECS", "FORMATS", "BRIDGES",
                     "CORE_SOUNDS"):
        assert re.search(rf"for c in [A-Z_ \\\n]*\b{category}\b", dockerfile), category
    stages = _stages(ASTERISK_DIR / "Dockerfile")
    users = [line.split()[1] for line in stages[-1] if line.startswith("USER ")]
    assert users and users[-1] != "root"
    assert any(line.startswith("HEALTHCHECK ") for line in stages[-1])
    for line in stages[-1]:
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ASTERISK_DIR / source).exists(), source


SITE = {"AMI_SECRET": "s3cret|with&odd\\chars", "CTI_NETWORK": "172.28.0.0/24",
        "SIP_AGENT1_PASSWORD": "pw-a1", "SIP_AGENT2_PASSWORD": "pw-a2", "SIP_AGENT3_PASSWORD": "pw-a3",
        "SIP_SUPER1_PASSWORD": "pw-s1", "SIP_EXTERNAL_ADDRESS": "192.0.2.10",
        "SIP_PROVIDER_HOST": "sip.example.net", "SIP_PROVIDER_ADDRESS": "198.51.100.20",
        "SIP_PROVIDER_USER": "acme", "SIP_PROVIDER_PASSWORD": "pw-trunk"}


def _asterisk_start(tmp_path: Path, site: dict[str, str]) -> subprocess.CompletedProcess[str]:
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "CTI_ASTERISK_CONFIG": str(ASTERISK_DIR), "ASTERISK_ETC": str(etc),
           "CTI_ASTERISK_EXTRA": str(ASTERISK_DIR / "docker"), **site}
    return subprocess.run(["sh", str(ASTERISK_DIR / "docker" / "entrypoint.sh"), "echo", "started"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_asterisks_start_puts_the_sites_values_in_a_copy_of_asterisk_config(tmp_path: Path) -> None:
    done = _asterisk_start(tmp_path, SITE)
    assert done.returncode == 0 and done.stdout == "started\n", done.stderr
    etc = tmp_path / "etc"
    manager = parse((etc / "manager.conf").read_text(encoding="utf-8"))
    general = next(s for s in manager if s.name == "general").options
    cti = next(s for s in manager if s.name == "cti").options
    assert last(general, "bindaddr") == "0.0.0.0"
    assert last(cti, "secret") == SITE["AMI_SECRET"]
    assert every(cti, "permit") == [SITE["CTI_NETWORK"]]
    pjsip = parse((etc / "pjsip.conf").read_text(encoding="utf-8"))
    auths = by_type(pjsip, "auth")
    for n in ("1", "2", "3"):
        assert last(auths[f"agent{n}"], "password") == SITE[f"SIP_AGENT{n}_PASSWORD"]
    assert last(auths["super1"], "password") == SITE["SIP_SUPER1_PASSWORD"]
    assert last(auths["my-provider"], "username") == "acme"
    assert last(by_type(pjsip, "identify")["my-provider"], "match") == SITE["SIP_PROVIDER_ADDRESS"]
    transport = by_type(pjsip, "transport")["transport-udp"]
    assert last(transport, "external_media_address") == SITE["SIP_EXTERNAL_ADDRESS"]
    assert last(transport, "external_signaling_address") == SITE["SIP_EXTERNAL_ADDRESS"]
    assert last(transport, "local_net") == SITE["CTI_NETWORK"]
    assert {p.name for p in etc.iterdir()} >= {"extensions.conf", "rtp.conf", "asterisk.conf", "logger.conf"}
    # The reference files in the repository keep their placeholders.
    assert "CHANGE-ME-ami-secret" in (ASTERISK_DIR / "manager.conf").read_text(encoding="utf-8")


def test_asterisk_does_not_start_with_a_secret_missing(tmp_path: Path) -> None:
    done = _asterisk_start(tmp_path, {k: v for k, v in SITE.items() if k != "SIP_AGENT2_PASSWORD"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "asterisk: SIP_AGENT2_PASSWORD is not set (see .env.example)\n"


# --- the proxy ----------------------------------------------------------------------------------------

@pytest.mark.integration
def test_the_proxy_configuration_passes_nginx_t(tmp_path: Path) -> None:
    nginx = need("nginx", "nginx-light")
    conf = proxy_copy(tmp_path)
    done = subprocess.run([nginx, "-e", "stderr", "-t", "-c", str(conf)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    broken = tmp_path / "broken.conf"
    text = conf.read_text(encoding="utf-8")
    broken.write_text(text.replace("proxy_read_timeout 90s;", "proxy_read_timeout;"), encoding="utf-8")
    assert subprocess.run([nginx, "-e", "stderr", "-t", "-c", str(broken)], capture_output=True,
                          timeout=60, check=False).returncode != 0


def test_the_proxy_passes_websockets_with_time_outs_and_limits() -> None:
    conf = (PROXY_DIR / "nginx.conf").read_text(encoding="utf-8")
    assert re.findall(r"server (cti\d):8080", conf) == ["cti1", "cti2"]
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    for directive in ("client_header_timeout", "client_body_timeout", "keepalive_timeout", "send_timeout",
                      "limit_conn per_address", "worker_connections", "ssl_certificate", "listen 8443 ssl"):
        assert directive in conf, directive
    # The socket paths the server has (agent, supervisor, visitor) are under the /ws/ location.
    from desktop_api.auth import SOCKETS

    assert "location /ws/" in conf and all(path.startswith("/ws/") for path in (*SOCKETS, "/ws/chat"))


def test_the_first_start_makes_a_certificate_and_later_starts_keep_it(tmp_path: Path) -> None:
    openssl = need("openssl", "openssl")
    proxy_copy(tmp_path)
    tls = tmp_path / "tls"
    cert = (tls / "cert.pem").read_bytes()
    assert stat.S_IMODE((tls / "key.pem").stat().st_mode) == 0o600
    shown = subprocess.run([openssl, "x509", "-noout", "-subject", "-ext", "subjectAltName",
                            "-in", str(tls / "cert.pem")],
                           capture_output=True, text=True, timeout=30, check=True).stdout
    assert "CN = cti.example.com" in shown and "DNS:cti.example.com" in shown
    again = first_start(tls)
    assert again.returncode == 0 and again.stdout == ""
    assert (tls / "cert.pem").read_bytes() == cert


@pytest.mark.integration
def test_the_entrypoint_runs_cti_with_the_configuration_it_made(tmp_path: Path) -> None:
    """The image's start as docker-compose.yml makes it, with the real ``cti`` (this checkout's
    code): the template's values from the environment, ``config check`` given the result."""
    cti = Path(sys.executable).with_name("cti")
    if not cti.exists():
        cti = Path(shutil.which("cti") or "")
    assert cti.is_file(), "the project is installed with its `cti` command beside this Python"
    compose_env = {k: literal(str(v)) for k, v in resolve(tmp_path).services["cti1"]["environment"].items()}
    env = {"PATH": f"{cti.parent}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path),
           **compose_env, "CTI_CONFIG_TEMPLATE": str(ROOT / "deploy" / "cti" / "center.yaml")}
    done = subprocess.run([sys.executable, str(ROOT / "deploy" / "cti" / "entrypoint.py"), "config", "check"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rendered = re.match(r"cti: (\S+) is valid$", done.stdout.splitlines()[0])
    assert rendered, done.stdout
    path = Path(rendered.group(1))
    assert path.parent == tmp_path and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "Asterisk at asterisk:5038" in done.stdout
