"""Fixtures shared by every package's tests.

``backend`` is parametrised over the persistence modules this project ships
that are installed here; ``store_env`` gives an environment for a fresh,
isolated store of that backend (see :mod:`eventsourcing_conformance.stores`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from eventsourcing.plugins import persistence_modules
from eventsourcing_conformance.stores import isolated_env

SHIPPED_BACKENDS = ("popo", "sqlite", "postgres")


def installed_backends() -> list[str]:
    installed = persistence_modules()
    return [b for b in SHIPPED_BACKENDS if b in installed]


@pytest.fixture(
    params=[
        pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else [])
        for b in installed_backends()
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def store_env(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    with isolated_env(backend, tmp_path) as env:
        yield env
