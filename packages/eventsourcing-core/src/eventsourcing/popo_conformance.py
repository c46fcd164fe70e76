"""pytest plugin: how the conformance suite gets a fresh in-memory store.

Registered under the ``pytest11`` entry point, as every backend's is, so
``pytest --pyargs eventsourcing_conformance --eventsourcing-backend=popo``
knows the backend is in-memory: each factory has a memory of its own, so
there is nothing to isolate, and nothing survives closing (not durable).
pytest loads this module; the core itself never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pytest

if TYPE_CHECKING:  # the suite is a test-time dependency, not a runtime one
    from eventsourcing_conformance import Backend

__all__ = ["pytest_eventsourcing_backend"]


@pytest.hookimpl(optionalhook=True)  # harmless when the suite is not installed
def pytest_eventsourcing_backend(name: str, directory: Path) -> Optional[Backend]:
    if name != "popo":
        return None
    from eventsourcing_conformance import Backend

    return Backend(name, name, new_store=dict)
