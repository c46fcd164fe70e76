"""Without a PostgreSQL server, its tests skip and the report says why once.

pytest runs in a subprocess, in a directory of its own, with ``POSTGRES_PORT``
pointing at a port nothing listens on, on tests that reach the server in each
way the suite offers: a ``postgres`` mark, :func:`isolated_env`,
:func:`require_postgres` called at run time, and the conformance suite run
with ``--eventsourcing-backend=postgres``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict

from eventsourcing_conformance.stores import ENABLE_POSTGRES_HINT, POSTGRES_SKIP_REASON

TESTS = """
import pytest

from eventsourcing_conformance.stores import isolated_env, require_postgres


@pytest.mark.postgres
@pytest.mark.parametrize("n", range(3))
def test_marked(n):
    require_postgres()
    raise AssertionError("unreachable")


def test_isolated_env(tmp_path):
    with isolated_env("postgres", tmp_path):
        raise AssertionError("unreachable")


def test_require_postgres():
    require_postgres()
    raise AssertionError("unreachable")


def test_unrelated():
    pass
"""


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def run_pytest(directory: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (directory / "test_needs_postgres.py").write_text(TESTS, encoding="utf-8")
    env: Dict[str, str] = {k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")}
    env.pop("CI", None)
    env.update({"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(closed_port())})
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-ra",
            "test_needs_postgres.py",
            "--pyargs",
            "eventsourcing_conformance",
            "--eventsourcing-backend=postgres",
            "--eventsourcing-examples=1",
        ],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_without_a_server_the_hint_is_printed_once(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, ci=False)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    summary = re.findall(r"(\d+) passed, (\d+) skipped", out)
    assert summary, out
    passed, skipped = map(int, summary[-1])
    assert passed == 1 and skipped >= 6, out
    assert out.count(ENABLE_POSTGRES_HINT) == 1, out
    assert out.count("Connection refused") == 1, out
    # The reason and the hint come last, after the short list of skips.
    tail = out.split("short test summary info")[1]
    last_section = tail.split("PostgreSQL tests skipped")[1]
    assert f"{skipped} skipped: cannot connect to PostgreSQL" in last_section
    skip_lines = [line for line in tail.splitlines() if line.startswith("SKIPPED")]
    assert skip_lines and all(line.endswith(POSTGRES_SKIP_REASON) for line in skip_lines), out
    # The marked tests are skipped by their mark, which pytest lists as one line.
    assert any(line.startswith("SKIPPED [3] test_needs_postgres.py:") for line in skip_lines), out


def test_in_ci_a_missing_server_fails_the_tests(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, ci=True)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    # Five tests fail; the conformance suite's fixtures raise errors.
    assert re.search(r"== 5 failed, 1 passed, \d+ errors in", out.splitlines()[-1]), out
    assert "PostgreSQL is required in CI: cannot connect to PostgreSQL" in out
    assert "PostgreSQL tests skipped" not in out
