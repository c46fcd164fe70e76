"""The pytest hook by which a backend supplies fresh, isolated stores.

Implement :func:`pytest_eventsourcing_backend` in a ``conftest.py`` or in a
pytest plugin (entry point ``pytest11``) shipped with the backend, to tell the
suite how to make a store for ``--eventsourcing-backend NAME``, as the
backends shipped with eventsourcing do (``eventsourcing.sqlite.conformance``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing_conformance.backend import Backend


@pytest.hookspec(firstresult=True)
def pytest_eventsourcing_backend(name: str, directory: Path) -> Optional[Backend]:
    """Describe the persistence module registered as ``name`` for the suite.

    Return a :class:`~eventsourcing_conformance.backend.Backend` whose
    ``new_store`` makes a store nobody else uses (files may go under
    ``directory``, a temporary directory of the test), or ``None`` if ``name``
    is not yours. The first non-None answer wins. Every backend answers for
    itself, the ones shipped with eventsourcing included; for a name nobody
    answers, the suite warns and runs it as an in-memory store (no isolation,
    no durability or writer-process checks).
    """
