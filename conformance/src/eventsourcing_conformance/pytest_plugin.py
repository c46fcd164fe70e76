"""pytest plugin: ``--eventsourcing-backend NAME`` runs the suite on installed backends.

``pytest --pyargs eventsourcing_conformance --eventsourcing-backend=sqlite``
collects :mod:`eventsourcing_conformance.test_conformance` and runs it once
per selected backend (all installed persistence modules when none is given).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generator, Optional

import pytest

from eventsourcing.plugins import persistence_modules, resolve_persistence_module
from eventsourcing.utils import ConfigurationError
from eventsourcing_conformance import hookspecs
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.stores import (
    ENABLE_POSTGRES_HINT,
    POSTGRES_SKIP_REASON,
    isolated_env,
    postgres_skip_mark,
    postgres_unavailable_reason,
    require_postgres,
)

__all__ = ["builtin_backend"]


def pytest_addhooks(pluginmanager: Any) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("eventsourcing", "eventsourcing recorder conformance suite")
    group.addoption(
        "--eventsourcing-backend",
        action="append",
        dest="eventsourcing_backends",
        default=[],
        metavar="NAME",
        help="run the conformance suite against the persistence module registered as "
        "NAME (repeatable; default: every installed persistence module)",
    )
    group.addoption(
        "--eventsourcing-examples",
        type=int,
        default=None,
        dest="eventsourcing_examples",
        metavar="N",
        help="Hypothesis examples per state machine (default 25, or "
        "EVENTSOURCING_CONFORMANCE_EXAMPLES)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs the PostgreSQL server (skipped when unreachable)"
    )
    for name in config.getoption("eventsourcing_backends") or []:
        try:
            resolve_persistence_module(name, variable="--eventsourcing-backend")
        except ConfigurationError as e:
            raise pytest.UsageError(str(e)) from None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip tests marked ``postgres`` at once when the server is unavailable.

    Skipped by a mark, they are listed one line per file in the short test
    summary (pytest folds them), rather than one line per test.
    """
    needing = [item for item in items if item.get_closest_marker("postgres")]
    mark = postgres_skip_mark() if needing else None
    if mark is not None:
        for item in needing:
            item.add_marker(mark)


# A wrapper that runs first, so its output comes after pytest's own summary
# (the short test summary, where every skip is listed): the last thing read.
@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None, None, None]:
    """Say once, not per skipped test, why PostgreSQL tests were skipped."""
    yield
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if POSTGRES_SKIP_REASON in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep("=", "PostgreSQL tests skipped")
        terminalreporter.write_line(
            f"{len(skipped)} skipped: {postgres_unavailable_reason() or 'unknown reason'}"
        )
        terminalreporter.write_line(ENABLE_POSTGRES_HINT)


def selected_backends(config: pytest.Config) -> list[str]:
    """The names given with --eventsourcing-backend, else every installed one."""
    names = list(dict.fromkeys(config.getoption("eventsourcing_backends") or []))
    return names or sorted(persistence_modules())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "eventsourcing_backend_name" in metafunc.fixturenames:
        names = selected_backends(metafunc.config)
        metafunc.parametrize(
            "eventsourcing_backend_name",
            [
                pytest.param(n, id=n, marks=[pytest.mark.postgres] if n == "postgres" else [])
                for n in names
            ],
        )


@pytest.fixture
def conformance_backend(
    eventsourcing_backend_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Backend:
    """The backend selected by name, with its way of making fresh stores."""
    backend: Optional[Backend] = request.config.hook.pytest_eventsourcing_backend(
        name=eventsourcing_backend_name, directory=tmp_path
    )
    if backend is None:  # pragma: no cover - the built-in implementation always answers
        raise pytest.UsageError(f"no backend description for {eventsourcing_backend_name!r}")
    return backend


def builtin_backend(name: str, directory: Path) -> Backend:
    """Backends this project ships, isolated by :func:`~.stores.isolated_env`.

    Any other name gets a backend without isolation, declared neither durable
    nor multiprocess: right for in-memory stores; a durable backend should
    implement ``pytest_eventsourcing_backend`` to say how to isolate it.
    """
    if name == "postgres":
        require_postgres()

    def new_store() -> Any:
        return isolated_env(name, directory)

    if name == "popo":
        return Backend(name, name, new_store=new_store)
    if name in ("sqlite", "postgres"):
        return Backend(name, name, new_store=new_store, durable=True, multiprocess=True)
    return Backend(name, name)


@pytest.hookimpl(trylast=True)
def pytest_eventsourcing_backend(name: str, directory: Path) -> Optional[Backend]:
    return builtin_backend(name, directory)
