"""The pages' code is ES modules served as files: no inline script, no globals, every import there.

Read from the files (no browser): a broken import or a forgotten preload is caught here, before a
Chromium test fails with a blank page.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from desktop_api.app import MODULE_ROUTE, MODULES, STATIC, module_file

PAGES = {"agent.html": "agent/main.js", "supervisor.html": "supervisor/main.js",
         "admin.html": "admin/main.js", "reports.html": "reports/main.js",
         "wallboard.html": "wallboard/main.js", "kb_editor.html": "knowledge/main.js"}
IMPORT = re.compile(r"""^(?:import|export)\s+(?:\{([^}]*)\}\s+from\s+|\*\s+as\s+\w+\s+from\s+)?'([^']+)';""",
                    re.MULTILINE)
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|const|let|class)\s+([\w$]+)", re.MULTILINE)
RE_EXPORT = re.compile(r"^export\s+\{([^}]*)\}\s+from", re.MULTILINE)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed((STATIC / page).read_text())
    return tags


def modules() -> list[Path]:
    return sorted(MODULES.rglob("*.js"))


def imports(module: Path) -> list[tuple[Path, list[str]]]:
    found = []
    for names, source in IMPORT.findall(module.read_text()):
        target = (module.parent / source).resolve()
        found.append((target, [n.split(" as ")[0].strip() for n in names.split(",") if n.strip()]))
    return found


def exports(module: Path) -> set[str]:
    text = module.read_text()
    names = set(EXPORT.findall(text))
    for group in RE_EXPORT.findall(text):
        names |= {n.split(" as ")[-1].strip() for n in group.split(",") if n.strip()}
    return names


def graph(entry: Path) -> list[Path]:
    seen: list[Path] = []
    todo = [entry.resolve()]
    while todo:
        module = todo.pop(0)
        if module not in seen:
            seen.append(module)
            todo.extend(target for target, _ in imports(module))
    return seen


def test_pages_load_one_module_and_no_inline_script() -> None:
    for page, entry in PAGES.items():
        tags = parse(page)
        scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
        assert scripts == [{"type": "module", "src": f"/assets/js/{entry}"}], page
        assert tags.inline == [], page
        handlers = [(tag, name) for tag, attrs in tags.tags for name in attrs if name.startswith("on")]
        assert handlers == [], page


def test_every_import_names_a_module_and_what_it_exports() -> None:
    assert modules(), "no modules found"
    for module in modules():
        for target, names in imports(module):
            assert target.is_file(), f"{module.name} imports {target} which is not there"
            assert target.is_relative_to(MODULES.resolve()), f"{module.name} imports from outside js/"
            missing = set(names) - exports(target)
            assert not missing, f"{module.name} imports {missing}, not exported by {target.name}"


def test_page_code_sets_no_globals() -> None:
    for module in modules():
        text = module.read_text()
        assert not re.search(r"\bwindow\.\w+\s*=(?!=)", text), module
        assert "window.Desk" not in text and "globalThis" not in text, module


def test_pages_preload_every_module_they_import() -> None:
    # Fetched all at once instead of one level of imports after another.
    for page, entry in PAGES.items():
        wanted = {f"/assets/js/{m.relative_to(MODULES.resolve()).as_posix()}"
                  for m in graph(MODULES / entry)[1:]}
        preloaded = {attrs["href"] for tag, attrs in parse(page).tags
                     if tag == "link" and attrs.get("rel") == "modulepreload"}
        assert preloaded == wanted, page


async def test_modules_are_served_as_javascript_and_nothing_else_is() -> None:
    app = web.Application()
    app.router.add_get(MODULE_ROUTE, module_file)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/assets/js/agent/main.js")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/javascript")
        assert "boot()" in await resp.text()
        for path in ("/assets/js/agent/nope.js", "/assets/js/../app.py", "/assets/js/%2e%2e/headers.py",
                     "/assets/js/..%2f..%2fapp.js", "/assets/js/agent", "/assets/js/agent/"):
            assert (await client.get(path)).status == 404, path
