"""docs/: an index that links every document, and the deploy guide's commands are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from cti.cli import build_parser
from tests.deploy.compose import COMPOSE_FILE, ROOT

DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#]+)(?:#[^)]*)?\)")


def _links(page: Path) -> set[Path]:
    return {(page.parent / target).resolve() for target in LINK.findall(page.read_text(encoding="utf-8"))
            if "://" not in target}


def test_the_docs_index_links_every_document_and_only_ones_that_exist() -> None:
    index = DOCS / "README.md"
    linked = _links(index)
    documents = {p.resolve() for p in DOCS.rglob("*.md") if p != index}
    assert documents <= linked, f"not in docs/README.md: {sorted(str(p) for p in documents - linked)}"
    missing = {p for p in linked if not p.exists()}
    assert not missing, missing


def test_the_readme_points_at_the_docs_index_and_the_deploy_guide() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/README.md" in readme and "docs/deploy.md" in readme


def test_the_deploy_guide_names_services_and_cti_commands_that_exist() -> None:
    guide = (DOCS / "deploy.md").read_text(encoding="utf-8")
    services = set(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"])
    verbs = r"(?:logs(?: -f)?|restart|exec|run --rm(?: --no-deps)?|build|up -d)"
    named = set(re.findall(rf"docker compose {verbs} ([a-z0-9]+)", guide))
    assert named and named <= services, named - services
    # `docker compose run … cti1 <args>` and `docker run … cti-server <args>` are cti's own commands.
    parser = build_parser()
    for args in re.findall(r"(?:cti1|cti-server) ((?:config check|hash-password|serve)[^`)\n]*)", guide):
        parser.parse_args(args.split())


def test_the_readme_leads_with_the_two_commands() -> None:
    """The first thing a new user reads is how to run it and how to test it, nothing before."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert first_block is not None
    before = readme[:first_block.start()].strip().splitlines()
    assert len(before) == 1 and before[0].startswith("# "), "only the title comes before the commands"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["./scripts/serve", "./scripts/test"]
    for script in commands:
        assert (ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"
