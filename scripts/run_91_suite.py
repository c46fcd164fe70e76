"""Run eventsourcing 9.1.9's own example programs and tests against this project.

The promise of docs/migration.md is that programs written for 9.1 run here
unchanged. The strongest evidence is 9.1's own code: its example programs with
their tests, and the tests shipped in its sdist. They are not part of this
repository (their licence and our rule against copying): give the path of an
unpacked ``eventsourcing-9.1.9`` sdist and, for the wiki example that the sdist
does not ship, the folder of the 9.1.9 wiki package from the source tree::

    hatch run python scripts/run_91_suite.py /path/to/eventsourcing-9.1.9 \
        --wiki /path/to/eventsourcing/examples/wiki [--backend sqlite] [-- -x]

The files are copied into a temporary folder as the package ``es91``; the only
change made to them is the import path of 9.1's own packages
(``eventsourcing.examples`` -> ``es91.examples``, ``eventsourcing.tests`` ->
``es91.tests``), because ``eventsourcing`` here is this project. The example
tests run once per backend, each test with a fresh store selected through the
environment as a 9.1 user would (``INFRASTRUCTURE_FACTORY``); 9.1's own tests
set their environment themselves and run once.

Tests listed in ``NOT_APPLICABLE`` exercise 9.1's private internals; they are
deselected, each with the reason that docs/migration.md also gives.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BACKENDS = ("popo", "sqlite", "postgres")

# 9.1.9 test modules (or node IDs) that exercise 9.1's private internals or
# deliberate differences, not its public API; docs/migration.md gives each reason.
_PSYCOPG2 = "9.1's private psycopg2 Connection/Transaction and PostgresDatastore internals"
_PSYCOPG2_HELPER = "imports drop_postgres_table from test_postgres.py, which needs " + _PSYCOPG2
NOT_APPLICABLE = {
    "es91/tests/test_postgres.py": _PSYCOPG2,
    "es91/tests/test_sqlite.py": "9.1's private sqlite3 Transaction and SQLiteDatastore internals",
    "es91/tests/test_application_with_postgres.py": _PSYCOPG2_HELPER,
    "es91/tests/test_noninterleaving_notification_ids.py": _PSYCOPG2_HELPER,
    "es91/tests/test_runner.py": _PSYCOPG2_HELPER,
    "es91/tests/test_docs.py": _PSYCOPG2_HELPER + "; and runs 9.1's docs, not in the sdist",
    "es91/tests/test_infrastructure_factory.py::TestInfrastructureFactoryErrors"
    "::test_construct_raises_exception": (
        "a topic of a class that is not a factory raises ConfigurationError, not AssertionError"
    ),
    "es91/tests/test_aggregate_decorators.py::TestEventDecorator"
    "::test_raises_when_decorated_method_called_directly": (
        "a command method called on the class raises Python's own TypeError"
    ),
    "es91/tests/test_popo.py::TestPOPOInfrastructureFactory::test_createmapper_with_compressor": (
        "COMPRESSOR_TOPIC=zlib gives a Compressor wrapping the module, not the module itself"
    ),
}

# 9.1.9's own tests that fail with 9.1.9 itself on Python 3.11 and later:
# they expect TypeError messages that name a function by its bare name, and
# CPython 3.11 names it by its qualified name.
if sys.version_info >= (3, 11):
    _PY311 = "fails with eventsourcing 9.1.9 itself on Python 3.11+ (TypeError wording)"
    for _node in (
        "test_aggregate.py::TestAggregateCreation::test_id_dataclass_style",
        "test_aggregate.py::TestAggregateCreation"
        "::test_init_defined_as_dataclass_mixture_of_nondefault_and_default_values",
        "test_aggregate.py::TestAggregateCreation::test_raises_when_create_args_mismatch_created_event",
        *(
            f"test_aggregate_decorators.py::TestEventDecorator::test_raises_when_{name}"
            for name in (
                "method_gets_unexpected_keyword_argument",
                "method_missing_1_required_keyword_only_argument",
                "method_missing_1_required_positional_argument",
                "method_missing_2_required_keyword_only_arguments",
                "method_missing_2_required_positional_arguments",
                "method_missing_3_required_keyword_only_arguments",
                "method_missing_3_required_positional_arguments",
                "method_takes_1_positional_argument_but_2_were_given",
                "method_takes_2_positional_argument_but_3_were_given",
                "missing_positional_and_required_keyword_only_arguments",
            )
        ),
    ):
        NOT_APPLICABLE[f"es91/tests/{_node}"] = _PY311

REWRITES = (
    (re.compile(r"\beventsourcing\.examples\b"), "es91.examples"),
    (re.compile(r"\beventsourcing\.tests\b"), "es91.tests"),
)

CONFTEST = '''
"""Selects the backend of the example programs through 9.1's environment variables."""

import os

import pytest

from eventsourcing_conformance.stores import isolated_env

BACKEND = os.environ.get("ES91_BACKEND", "")


@pytest.fixture(autouse=True)
def _es91_store(request, tmp_path, monkeypatch):
    if not BACKEND or "es91/examples" not in request.node.nodeid:
        yield
        return
    with isolated_env(BACKEND, tmp_path) as env:
        module = env.pop("PERSISTENCE_MODULE")
        monkeypatch.setenv("INFRASTRUCTURE_FACTORY", f"eventsourcing.{module}:Factory")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield
'''

PYTEST_INI = """
[pytest]
python_files = test*.py
addopts = -p no:cacheprovider -p no:randomly -ra
"""


def copy_tree(sdist: Path, wiki: Path | None, dest: Path) -> None:
    """Lay out ``es91`` with 9.1.9's examples and tests, import paths rewritten."""
    package = dest / "es91"
    shutil.copytree(sdist / "eventsourcing" / "examples", package / "examples")
    shutil.copytree(sdist / "eventsourcing" / "tests", package / "tests")
    if wiki is not None:
        shutil.copytree(wiki, package / "examples" / "wiki")
    (package / "__init__.py").write_text("")
    for path in package.rglob("*.py"):
        text = path.read_text()
        for pattern, replacement in REWRITES:
            text = pattern.sub(replacement, text)
        path.write_text(text)
    (dest / "conftest.py").write_text(CONFTEST)
    (dest / "pytest.ini").write_text(PYTEST_INI)


def run_pytest(dest: Path, target: str, backend: str, extra: list[str]) -> int:
    deselect = [
        f"--deselect={node}" if "::" in node else f"--ignore={node}" for node in NOT_APPLICABLE
    ]
    env_line = f"ES91_BACKEND={backend}" if backend else "9.1's own settings"
    print(f"\n=== {target} ({env_line}) ===", flush=True)
    import os

    env = dict(os.environ, ES91_BACKEND=backend)
    # A program that fails to import must not hide the results of the others.
    command = [
        sys.executable,
        "-m",
        "pytest",
        target,
        "--continue-on-collection-errors",
        *deselect,
        *extra,
    ]
    return subprocess.call(command, cwd=dest, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path, help="unpacked eventsourcing-9.1.9 sdist")
    parser.add_argument("--wiki", type=Path, help="9.1.9's examples/wiki folder")
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    parser.add_argument("--only", choices=("examples", "tests"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    pytest_args = argv[split + 1 :]
    if not (args.sdist / "eventsourcing" / "examples").is_dir():
        parser.error(f"{args.sdist} is not an unpacked eventsourcing sdist")
    print("Left out (see docs/migration.md):")
    for node, reason in NOT_APPLICABLE.items():
        print(f"  {node}: {reason}")
    dest = Path(tempfile.mkdtemp(prefix="es91-"))
    try:
        copy_tree(args.sdist, args.wiki, dest)
        results: dict[str, int] = {}
        if args.only != "tests":
            for backend in args.backend or BACKENDS:
                code = run_pytest(dest, "es91/examples", backend, pytest_args)
                results[f"examples on {backend}"] = code
        if args.only != "examples":
            results["9.1.9 tests"] = run_pytest(dest, "es91/tests", "", pytest_args)
    finally:
        if args.keep:
            print(f"kept {dest}")
        else:
            shutil.rmtree(dest)
    print()
    for name, code in results.items():
        print(f"{name}: {'passed' if code == 0 else f'FAILED (pytest exit {code})'}")
    return max(results.values(), default=0)


if __name__ == "__main__":
    sys.exit(main())
