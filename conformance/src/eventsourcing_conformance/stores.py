"""Fresh, isolated stores per test, as each backend describes them.

Every backend says how to make a store nobody else uses by implementing the
pytest hook ``pytest_eventsourcing_backend`` (see :mod:`.hookspecs`): the
ones this project ships do it in their own modules (``eventsourcing.popo_conformance``,
``eventsourcing.sqlite.conformance``, ``eventsourcing.postgres.conformance``),
registered under the ``pytest11`` entry point exactly as a third party does.
The suite knows no backend by name.

:func:`isolated_env` gives other tests (this project's, a third party's) the
same stores as an environment mapping selecting the backend.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from eventsourcing_conformance.backend import Backend

__all__ = [
    "BackendNotDescribed",
    "UndescribedBackendWarning",
    "describe_backend",
    "isolated_env",
    "missing_hook_advice",
    "skip_unless",
]

# The running session's hook relay, set by the plugin when pytest configures it,
# so that isolated_env can be called outside fixtures (helpers, doc tests).
_session_hook: Optional[Any] = None


class UndescribedBackendWarning(pytest.PytestWarning):
    """No ``pytest_eventsourcing_backend`` hook answered for a backend's name."""


class BackendNotDescribed(LookupError):
    """:func:`isolated_env` cannot isolate a backend that no hook describes."""


def missing_hook_advice(name: str) -> str:
    """What to add so that the suite knows how ``name`` isolates and keeps stores."""
    return (
        f"no pytest_eventsourcing_backend hook answered for backend {name!r}, so the suite "
        "treats it as an in-memory store: no isolation between stores, no durability "
        "check, no writer-process check. Add a hook, in a conftest.py or in a pytest "
        "plugin your distribution registers under the 'pytest11' entry point: "
        f"'def pytest_eventsourcing_backend(name, directory): return "
        f"Backend({name!r}, {name!r}, new_store=<function returning the env of a new, empty "
        "store>, durable=True, multiprocess=True) if name == "
        f"{name!r} else None' (see 'How a backend makes a fresh, isolated store' in the "
        "eventsourcing-conformance README)"
    )


def describe_backend(hook: Any, name: str, directory: Path) -> Backend:
    """The backend's own description, else an in-memory default and a warning."""
    backend: Optional[Backend] = hook.pytest_eventsourcing_backend(name=name, directory=directory)
    if backend is not None:
        return backend
    warnings.warn(UndescribedBackendWarning(missing_hook_advice(name)), stacklevel=2)
    return Backend(name, name, described=False)


@contextlib.contextmanager
def isolated_env(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Yield an environment selecting ``backend`` with a store of its own.

    Asks the backend's ``pytest_eventsourcing_backend`` hook, so it works in a
    pytest session where the suite's plugin is loaded (it is, once installed).
    A backend no hook describes cannot be isolated: that is an error here
    (an environment installed before its backend shipped the hook needs the
    backend reinstalled, so that its ``pytest11`` entry point is known).
    """
    if _session_hook is None:
        raise RuntimeError(
            "isolated_env() asks the backends' pytest_eventsourcing_backend hooks: call it "
            "in a pytest session with the eventsourcing_conformance plugin loaded"
        )
    described = _session_hook.pytest_eventsourcing_backend(name=backend, directory=tmp_path)
    if described is None:
        raise BackendNotDescribed(missing_hook_advice(backend))
    with described.store() as env:
        yield {"PERSISTENCE_MODULE": backend, **env}


def skip_unless(backend: Backend, capability: str, what: str) -> None:
    """Skip a check that needs ``capability`` (``durable``, ``multiprocess``),
    saying what to add when the backend's hook is missing."""
    if getattr(backend, capability):
        return
    if not backend.described:
        pytest.skip(f"{what} not checked: {missing_hook_advice(backend.name)}")
    pytest.skip(f"{what} not checked: backend {backend.name!r} is not declared {capability}")
