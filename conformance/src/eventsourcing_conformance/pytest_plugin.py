"""pytest plugin: ``--eventsourcing-backend NAME`` runs the suite on installed backends.

``pytest --pyargs eventsourcing_conformance --eventsourcing-backend=sqlite``
collects :mod:`eventsourcing_conformance.test_conformance` and runs it once
per selected backend (all installed persistence modules when none is given).
How to make a fresh store of a backend is the backend's own answer to the
``pytest_eventsourcing_backend`` hook; the suite knows no backend by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventsourcing.plugins import persistence_modules, resolve_persistence_module
from eventsourcing.utils import ConfigurationError
from eventsourcing_conformance import hookspecs, stores
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.settings import add_options

__all__: list[str] = []


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
    add_options(group)


def pytest_configure(config: pytest.Config) -> None:
    for name in config.getoption("eventsourcing_backends") or []:
        try:
            resolve_persistence_module(name, variable="--eventsourcing-backend")
        except ConfigurationError as e:
            raise pytest.UsageError(str(e)) from None
    stores._session_hook = config.hook


def pytest_unconfigure(config: pytest.Config) -> None:
    if stores._session_hook is config.hook:
        stores._session_hook = None


def selected_backends(config: pytest.Config) -> list[str]:
    """The names given with --eventsourcing-backend, else every installed one."""
    names = list(dict.fromkeys(config.getoption("eventsourcing_backends") or []))
    return names or sorted(persistence_modules())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "eventsourcing_backend_name" in metafunc.fixturenames:
        names = selected_backends(metafunc.config)
        metafunc.parametrize("eventsourcing_backend_name", names, ids=names)


@pytest.fixture
def conformance_backend(
    eventsourcing_backend_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Backend:
    """The backend selected by name, as its ``pytest_eventsourcing_backend`` hook describes it."""
    return stores.describe_backend(request.config.hook, eventsourcing_backend_name, tmp_path)
