"""Fixtures for the PostgreSQL backend's tests: a schema of their own per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator

import psycopg
import pytest

from eventsourcing.postgres import Factory
from eventsourcing.postgres.conformance import connect, require_postgres
from eventsourcing_conformance.stores import isolated_env


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def pg_env(tmp_path: Path) -> Iterator[Dict[str, str]]:
    """Settings selecting a fresh schema (dropped afterwards), with a small pool."""
    with isolated_env("postgres", tmp_path) as env:
        env["POSTGRES_POOL_SIZE"] = "2"
        env["POSTGRES_MAX_OVERFLOW"] = "4"
        yield env


@pytest.fixture
def factory(pg_env: Dict[str, str]) -> Iterator[Factory]:
    with Factory(application_name="", env=pg_env) as f:
        yield f


def connect_admin() -> psycopg.Connection[Any]:
    """A plain psycopg connection to the test database (autocommit)."""
    return connect(autocommit=True)


@pytest.fixture
def admin() -> Iterator[psycopg.Connection[Any]]:
    require_postgres()
    with connect_admin() as conn:
        yield conn
