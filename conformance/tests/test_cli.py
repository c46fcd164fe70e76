"""``eventsourcing conformance NAME``: the suite through the command, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "eventsourcing"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=600, env=dict(os.environ)
    )


def test_conformance_runs_the_suite_on_an_installed_backend() -> None:
    done = _run("conformance", "sqlite", "--examples", "2", "--", "-k", "bad_input or scan")
    assert done.returncode == 0, done.stdout + done.stderr
    # bad input of 3 kinds, sync and async, and the scan of events
    assert "7 passed" in done.stdout


def test_conformance_reports_failures_with_exit_status_1() -> None:
    # A keyword that selects a check which cannot pass: -k with a missing test
    # deselects everything, which pytest reports as "no tests ran" (status 5 -> 2).
    done = _run("conformance", "sqlite", "--", "-k", "no_such_check")
    assert done.returncode == 2


def test_an_unknown_backend_is_one_line_and_exit_status_2() -> None:
    done = _run("conformance", "postgress")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "postgress" in done.stderr
    assert "installed:" in done.stderr and done.stdout == ""
