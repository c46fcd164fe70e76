"""pytest plugin: how the conformance suite makes a fresh journal per store."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pytest

if TYPE_CHECKING:  # the suite is a test-time dependency, not a runtime one
    from eventsourcing_conformance import Backend


@pytest.hookimpl(optionalhook=True)  # harmless when the suite is not installed
def pytest_eventsourcing_backend(name: str, directory: Path) -> Optional[Backend]:
    if name != "journal":
        return None
    from eventsourcing_conformance import Backend

    def new_store() -> dict[str, str]:
        return {"JOURNAL_PATH": str(directory / f"{uuid.uuid4().hex}.jsonl")}

    return Backend(name, name, new_store=new_store, durable=True, multiprocess=True)
