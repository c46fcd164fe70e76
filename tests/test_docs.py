"""Every code block in README.md and docs/ is checked, so no example in them can rot.

- ``python`` blocks of a page run in order, in one fresh interpreter (so topics
  of classes defined in the page resolve, and registered plugins do not leak
  into other tests), in a temporary working directory. Tracebacks name the
  Markdown file and line. Each page runs twice in the same directory, as a
  reader who runs an example again would: files it left must not break it.
- ``toml`` blocks must parse; ``text``, ``bash`` and ``console`` blocks are
  shown, not run (they install packages or start servers).
- Every block has a language, so nothing escapes by being unmarked.

A page can declare what it needs in an HTML comment: ``<!-- docs-test:
postgres -->`` runs it with ``POSTGRES_*`` settings for a fresh schema (and
skips it, or fails it in CI, when PostgreSQL is unreachable).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHOWN_ONLY = {"text", "bash", "console"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^`\s]*)\s*$")

RUNNER = """
import json, sys
for _path, _line, _source in json.load(open(sys.argv[1])):
    exec(compile("\\n" * (_line - 1) + _source, _path, "exec"), globals())
"""


@dataclass
class Block:
    page: Path
    line: int  # line number of the first line of code
    lang: str
    source: str


def code_blocks(page: Path) -> List[Block]:
    blocks: List[Block] = []
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent = len(opening["indent"])
        start = i + 1
        i = start
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        if i == len(lines):
            raise AssertionError(f"{page.name}:{start}: code block is not closed")
        source = "\n".join(line[indent:] for line in lines[start:i]) + "\n"
        blocks.append(Block(page, start + 1, opening["lang"], source))
        i += 1
    return blocks


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def needs(page: Path) -> List[str]:
    return re.findall(r"<!-- docs-test: (\w+) -->", page.read_text())


def clean_env() -> Dict[str, str]:
    """The process environment without store settings that would change what pages do."""
    prefixes = ("POSTGRES_", "SQLITE_", "PERSISTENCE_MODULE", "INFRASTRUCTURE_FACTORY", "CIPHER_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def test_pages_exist() -> None:
    names = {page_id(p) for p in PAGES}
    for expected in [
        "docs/getting-started.md",
        "docs/domain.md",
        "docs/application.md",
        "docs/persistence.md",
        "docs/system.md",
        "docs/interface.md",
        "docs/sqlite.md",
        "docs/postgres.md",
        "docs/crypto.md",
        "docs/plugins.md",
        "docs/migration.md",
        "docs/examples.md",
    ]:
        assert expected in names


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_is_marked_with_a_language(page: Path) -> None:
    for block in code_blocks(page):
        assert block.lang, f"{page_id(page)}:{block.line - 1}: code block without a language"
        assert block.lang in {"python", "toml", *SHOWN_ONLY}, (
            f"{page_id(page)}:{block.line - 1}: unexpected language {block.lang!r}"
        )


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_toml_blocks_parse(page: Path) -> None:
    tomllib = pytest.importorskip("tomllib")
    for block in code_blocks(page):
        if block.lang == "toml":
            tomllib.loads(block.source)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_links_to_other_pages_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page_id(page)}: broken link {target}"


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(p, marks=[pytest.mark.postgres] if "postgres" in needs(p) else [])
        for p in PAGES
        if any(b.lang == "python" for b in code_blocks(p))
    ],
    ids=page_id,
)
def test_python_blocks_run(page: Path, tmp_path: Path) -> None:
    env = clean_env()
    blocks = [(page_id(b.page), b.line, b.source) for b in code_blocks(page) if b.lang == "python"]
    with contextlib.ExitStack() as stack:
        if "postgres" in needs(page):
            from eventsourcing_conformance.stores import isolated_env

            store = stack.enter_context(isolated_env("postgres", tmp_path))
            env.update({k: v for k, v in store.items() if k.startswith("POSTGRES_")})
        for run in ("first", "second"):
            result = run_blocks(blocks, env, tmp_path)
            assert result.returncode == 0, (
                f"{page_id(page)} failed on its {run} run in {tmp_path}:\n"
                f"{result.stdout}\n{result.stderr}"
            )


def test_readme_example_shows_what_it_did_on_every_run(tmp_path: Path) -> None:
    page = ROOT / "README.md"
    blocks = [(page_id(page), b.line, b.source) for b in code_blocks(page) if b.lang == "python"]
    first = run_blocks(blocks, clean_env(), tmp_path)
    second = run_blocks(blocks, clean_env(), tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == "Fido can roll over; version 2\ndogs.sqlite holds 2 events\n"
    assert second.stdout == "Fido can roll over; version 2\ndogs.sqlite holds 4 events\n"


def run_blocks(
    blocks: List[tuple[str, int, str]], env: Dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    script = cwd / "docs-blocks.json"
    script.write_text(json.dumps(blocks))
    env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", RUNNER, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


README_SETUP_COMMANDS = [
    "python -m pip install hatch && hatch run demo",
    "python -m pip install hatch && hatch run test",
]


def test_readme_has_exactly_the_two_setup_commands() -> None:
    blocks = code_blocks(ROOT / "README.md")
    commands = [b.source.strip() for b in blocks if "pip install hatch" in b.source]
    assert commands == README_SETUP_COMMANDS


def test_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, f"README does not link docs/{page.name}"


def test_postgres_pages_are_marked() -> None:
    page = ROOT / "docs" / "postgres.md"
    assert "postgres" in needs(page)


def test_cheap_shell_commands_run(tmp_path: Path) -> None:
    """``python -c`` lines in bash blocks run as shown (installs and servers are not run)."""
    ran = 0
    for page in PAGES:
        for block in code_blocks(page):
            if block.lang != "bash":
                continue
            for line in block.source.splitlines():
                if not line.startswith("python -c "):
                    continue
                argv = [sys.executable, *shlex.split(line)[1:]]
                result = subprocess.run(
                    argv, cwd=tmp_path, env=clean_env(), capture_output=True, text=True
                )
                assert result.returncode == 0, f"{page_id(page)}: {line}\n{result.stderr}"
                ran += 1
    assert ran >= 1
