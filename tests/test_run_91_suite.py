"""scripts/run_91_suite.py: 9.1.9's programs and tests run here, import paths aside.

The runner is checked on a miniature sdist laid out as 9.1.9's is. Running
it on the real 9.1.9 sdist is a separate, opt-in test: set ES91_SDIST to an
unpacked eventsourcing-9.1.9 sdist (and ES91_WIKI to 9.1.9's examples/wiki
folder) to run it; its source is not part of this repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "run_91_suite.py"

EXAMPLE_APP = """
import os

def expected_module():
    return "eventsourcing." + os.environ["ES91_BACKEND"]
"""

EXAMPLE_TEST = """
from eventsourcing.application import Application
from eventsourcing.examples.probe.app import expected_module


def test_the_example_runs_on_the_selected_backend():
    app = Application()
    assert type(app.factory).__module__ == expected_module()
"""

SDIST_HELPER = "VALUE = 91\n"
SDIST_TEST = """
from eventsourcing.tests.helper import VALUE


def test_helpers_of_the_test_package_import():
    assert VALUE == 91
"""


def miniature_sdist(root: Path) -> Path:
    package = root / "eventsourcing-9.1.9" / "eventsourcing"
    for folder in (package / "examples" / "probe", package / "tests"):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (package / "examples" / "__init__.py").write_text("")
    (package / "examples" / "probe" / "app.py").write_text(EXAMPLE_APP)
    (package / "examples" / "probe" / "test.py").write_text(EXAMPLE_TEST)
    (package / "tests" / "helper.py").write_text(SDIST_HELPER)
    (package / "tests" / "test_helper.py").write_text(SDIST_TEST)
    return package.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


def test_examples_run_on_each_backend_and_tests_with_their_helpers(tmp_path: Path) -> None:
    sdist = miniature_sdist(tmp_path)
    done = run(str(sdist), "--backend", "popo", "--backend", "sqlite", "--", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "examples on popo: passed" in done.stdout
    assert "examples on sqlite: passed" in done.stdout
    assert "9.1.9 tests: passed" in done.stdout
    # The sdist itself is untouched: only the copies are rewritten.
    assert (
        "eventsourcing.examples.probe"
        in (sdist / "eventsourcing" / "examples" / "probe" / "test.py").read_text()
    )


def test_a_failing_program_fails_the_run(tmp_path: Path) -> None:
    sdist = miniature_sdist(tmp_path)
    (sdist / "eventsourcing" / "tests" / "helper.py").write_text("VALUE = 0\n")
    done = run(str(sdist), "--only", "tests")
    assert done.returncode != 0
    assert "9.1.9 tests: FAILED" in done.stdout


def test_a_path_that_is_not_an_sdist_is_refused(tmp_path: Path) -> None:
    done = run(str(tmp_path))
    assert done.returncode == 2
    assert "is not an unpacked eventsourcing sdist" in done.stderr


@pytest.mark.slow
def test_the_919_examples_and_tests_pass_here() -> None:
    sdist = os.environ.get("ES91_SDIST")
    if not sdist:
        pytest.skip(
            "set ES91_SDIST to an unpacked eventsourcing-9.1.9 sdist (and ES91_WIKI to "
            "its examples/wiki folder) to run 9.1.9's own example programs and tests here"
        )
    wiki = os.environ.get("ES91_WIKI")
    done = run(sdist, *(["--wiki", wiki] if wiki else []), "--", "-q")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
