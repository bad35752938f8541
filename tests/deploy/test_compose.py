"""docker-compose.yml: it parses with ``docker-compose config``, its server commands and
environment names are what the code reads, its ports and volumes are asterisk-config/'s, and the
README says the same. No Docker daemon is needed: ``config`` only resolves the file."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cti.cli import build_parser
from cti.config import load_config
from tests.asterisk_config.astconf import by_type, last, load
from tests.deploy.compose import (
    COMPOSE_FILE,
    COMPOSE_VARIABLE,
    ENV_EXAMPLE,
    ROOT,
    SERVER_IMAGE,
    SERVER_NODES,
    Resolved,
    entrypoint_module,
    example_env,
    literal,
    resolve,
    run_config,
    write_env,
)

pytestmark = pytest.mark.integration  # docker-compose, a real peer


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Resolved:
    return resolve(tmp_path_factory.mktemp("compose"))


def _server_services(resolved: Resolved) -> dict[str, Any]:
    return {name: s for name, s in resolved.services.items() if s.get("image") == SERVER_IMAGE}


def _serve_args(service: dict[str, Any]) -> argparse.Namespace:
    command = [literal(str(a)) for a in service["command"]]
    return build_parser().parse_args(command)  # an unknown flag exits (SystemExit) here


# --- the file -------------------------------------------------------------------------------------

def test_it_parses_and_runs_the_whole_center(resolved: Resolved) -> None:
    services = resolved.services
    assert {"postgres", "redis", "proxy", "asterisk", *SERVER_NODES} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["asterisk"]["build"]["context"] == str(ROOT / "asterisk-config")
    for node in SERVER_NODES:
        assert services[node]["build"]["context"] == str(ROOT)
        assert services[node]["build"]["dockerfile"] == "Dockerfile"


def test_a_secret_left_empty_stops_it_with_the_name_to_set(tmp_path: Path) -> None:
    env = {name: value for name, value in example_env().items()}  # as copied, nothing filled in
    done = run_config(write_env(tmp_path / "empty.env", env))
    assert done.returncode != 0
    assert re.search(r"set [A-Z_]+ in \.env", done.stderr), done.stderr


def test_every_variable_it_uses_is_in_env_example_and_the_reverse() -> None:
    used = set(COMPOSE_VARIABLE.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    assert used == set(example_env()), "docker-compose.yml and .env.example disagree"


def test_env_is_ignored_by_git_and_its_example_is_not() -> None:
    def ignored(name: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False).returncode == 0

    assert ignored(".env")
    assert not ignored(".env.example")
    assert not ignored("docker-compose.yml")
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in dockerignore  # no secret is copied into an image either


# --- the server nodes ------------------------------------------------------------------------------

def test_the_nodes_commands_are_cti_serve_flags_sharing_postgresql_and_redis(resolved: Resolved) -> None:
    nodes = {name: _serve_args(s) for name, s in _server_services(resolved).items()
             if s["command"][0] == "serve"}
    assert set(nodes) == set(SERVER_NODES)
    args = list(nodes.values())
    assert all(a.command == "serve" for a in args)
    assert len({a.node_id for a in args}) == len(args), "each node its own --node-id"
    assert len({a.db for a in args}) == 1 and args[0].db.startswith("postgresql+psycopg://")
    assert len({a.redis for a in args}) == 1 and args[0].redis.startswith("redis://")
    assert f":{resolved.env['POSTGRES_PASSWORD']}@postgres:5432/" in args[0].db
    assert f":{resolved.env['REDIS_PASSWORD']}@redis:6379/" in args[0].redis
    assert {a.host for a in args} == {"0.0.0.0"} and {a.port for a in args} == {8080}


def test_the_migrations_run_once_before_the_nodes(resolved: Resolved) -> None:
    services = resolved.services
    migrate = build_parser().parse_args([literal(str(a)) for a in services["migrate"]["command"]])
    assert (migrate.command, migrate.db_command) == ("db", "upgrade")
    assert migrate.db == _serve_args(services["cti1"]).db
    for node in SERVER_NODES:
        assert services[node]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_nodes_environment_is_what_the_entrypoint_and_the_template_read(resolved: Resolved) -> None:
    entrypoint = entrypoint_module()
    template = (ROOT / "deploy" / "cti" / "center.yaml").read_text(encoding="utf-8")
    wanted = entrypoint.placeholders(template) | {entrypoint.TEMPLATE_VARIABLE}
    for name, service in _server_services(resolved).items():
        given = set(service["environment"])
        assert given == wanted, f"{name}: given {sorted(given - wanted)}, missing {sorted(wanted - given)}"
        mounted = {v.split(":")[1] for v in service["volumes"] if isinstance(v, str)}
        assert service["environment"][entrypoint.TEMPLATE_VARIABLE] in mounted


def test_the_configuration_the_nodes_get_passes_cti_config_check(resolved: Resolved, tmp_path: Path) -> None:
    entrypoint = entrypoint_module()
    service = resolved.services["cti1"]
    env = {k: literal(str(v)) for k, v in service["environment"].items()}
    template = (ROOT / "deploy" / "cti" / "center.yaml").read_text(encoding="utf-8")
    rendered = tmp_path / "center.yaml"
    rendered.write_text(entrypoint.render(template, env), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "cti.cli", "config", "check", str(rendered)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    config = load_config(rendered)
    assert config.token_secret == resolved.env["CTI_TOKEN_SECRET"]
    # Where the nodes listen is where the proxy and the health check knock.
    assert (config.http.host, config.http.port) == ("0.0.0.0", _serve_args(service).port)
    assert config.traffic.trusted_proxies == (resolved.doc["networks"]["cti"]["ipam"]["config"][0]["subnet"],)
    # The AMI link goes to the asterisk service, as manager.conf's user cti.
    manager = load("manager.conf")
    general = next(s for s in manager if s.name == "general").options
    assert config.ami is not None
    assert config.ami.host == "asterisk" and "asterisk" in resolved.services
    assert config.ami.port == int(last(general, "port") or 0)
    assert config.ami.username in {s.name for s in manager}
    assert config.ami.secret == resolved.env["AMI_SECRET"]
    # Every agent's phone is an endpoint of pjsip.conf.
    endpoints = set(by_type(load("pjsip.conf"), "endpoint"))
    phones = {a.endpoints["pjsip"] for a in config.agents.values() if "pjsip" in a.endpoints}
    assert phones and {p.removeprefix("PJSIP/") for p in phones} <= endpoints


def test_only_the_proxy_and_asterisk_publish_ports(resolved: Resolved) -> None:
    published = {name for name, s in resolved.services.items() if s.get("ports")}
    assert published == {"proxy", "asterisk"}


# --- Asterisk ---------------------------------------------------------------------------------------

def _published(service: dict[str, Any], protocol: str) -> dict[int, int]:
    return {int(p["published"]): int(p["target"]) for p in service["ports"]
            if p.get("protocol", "tcp") == protocol}


def test_asterisk_publishes_the_sip_and_rtp_ports_of_its_configuration(resolved: Resolved) -> None:
    asterisk = resolved.services["asterisk"]
    udp = _published(asterisk, "udp")
    transports = by_type(load("pjsip.conf"), "transport")
    sip_ports = {int((last(t, "bind") or "").rsplit(":", 1)[1]) for t in transports.values()
                 if last(t, "protocol") == "udp"}
    assert sip_ports == {5060}
    rtp = next(s for s in load("rtp.conf") if s.name == "general").options
    rtp_ports = set(range(int(last(rtp, "rtpstart") or 0), int(last(rtp, "rtpend") or 0) + 1))
    assert len(rtp_ports) > 100
    assert set(udp) == sip_ports | rtp_ports and all(k == v for k, v in udp.items())
    assert not _published(asterisk, "tcp")


def test_ami_stays_inside_the_compose_network(resolved: Resolved) -> None:
    asterisk = resolved.services["asterisk"]
    general = next(s for s in load("manager.conf") if s.name == "general").options
    ami_port = int(last(general, "port") or 0)
    assert str(ami_port) in asterisk["expose"]
    assert ami_port not in _published(asterisk, "tcp")


def test_asterisk_gets_asterisk_config_mounted_where_its_entrypoint_reads_it(resolved: Resolved) -> None:
    asterisk = resolved.services["asterisk"]
    mounts = {v.split(":")[0]: v.split(":")[1:] for v in asterisk["volumes"]}
    assert mounts[str(ROOT / "asterisk-config")] == ["/etc/asterisk-cti", "ro"]
    script = (ROOT / "asterisk-config" / "docker" / "entrypoint.sh").read_text(encoding="utf-8")
    assert "SRC=${CTI_ASTERISK_CONFIG:-/etc/asterisk-cti}" in script
    # Every variable the entrypoint insists on is given.
    needed = set(re.search(r"for var in ([A-Z0-9_ \\\n]+); do", script).group(1).split()) - {"\\"}  # type: ignore[union-attr]
    assert needed <= set(asterisk["environment"])
    for name in asterisk["environment"]:
        assert f"${name}" in script or f"${{{name}" in script, f"{name} is given but never read"


# --- the README ---------------------------------------------------------------------------------------

def test_the_readme_says_what_the_compose_file_does(resolved: Resolved) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docker compose up" in readme and "docs/deploy.md" in readme and ".env.example" in readme
    proxy = _published(resolved.services["proxy"], "tcp")
    rtp = next(s for s in load("rtp.conf") if s.name == "general").options
    for port in (*proxy, "5060/udp", f"{last(rtp, 'rtpstart')}-{last(rtp, 'rtpend')}/udp"):
        assert str(port) in readme, port
    asterisk_readme = (ROOT / "asterisk-config" / "README.md").read_text(encoding="utf-8")
    assert f"UDP {last(rtp, 'rtpstart')}-{last(rtp, 'rtpend')}" in asterisk_readme
    assert "rtp.conf" in asterisk_readme


def test_env_example_is_plain_names_and_values() -> None:
    for lineno, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        assert not line.strip() or line.startswith("#") or re.match(r"^[A-Z_0-9]+=", line), (lineno, line)
    # A value filled in by mistake would be a secret committed.
    secrets = {k: v for k, v in example_env().items() if k not in {"CTI_NETWORK", "CTI_PUBLIC_NAME"}}
    assert not any(secrets.values()), secrets


def test_the_compose_file_itself_is_plain_yaml() -> None:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert "version" not in doc  # the Compose Specification: both docker-compose 1.29 and v2 read it
