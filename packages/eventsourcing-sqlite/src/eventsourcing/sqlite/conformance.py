"""pytest plugin: how the conformance suite gets a fresh SQLite store.

Registered under the ``pytest11`` entry point, so
``pytest --pyargs eventsourcing_conformance --eventsourcing-backend=sqlite``
works wherever ``eventsourcing-sqlite`` is installed; pytest loads it, the
backend itself never imports it. Each store is a new database file under the
test's temporary directory.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pytest

if TYPE_CHECKING:  # the suite is a test-time dependency, not a runtime one
    from eventsourcing_conformance import Backend

__all__ = ["pytest_eventsourcing_backend"]


@pytest.hookimpl(optionalhook=True)  # harmless when the suite is not installed
def pytest_eventsourcing_backend(name: str, directory: Path) -> Optional[Backend]:
    if name != "sqlite":
        return None
    from eventsourcing_conformance import Backend

    def new_store() -> dict[str, str]:
        return {"SQLITE_DBNAME": str(directory / f"store-{uuid.uuid4().hex[:8]}.sqlite")}

    return Backend(name, name, new_store=new_store, durable=True, multiprocess=True)
