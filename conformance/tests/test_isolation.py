"""A backend whose ``new_store`` hands out the same store twice is told so."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventsourcing_conformance import Backend
from eventsourcing_conformance.machines import StoreNotIsolated, conformance_settings, run_machine


def test_a_shared_store_is_reported_as_not_isolated(tmp_path: Path) -> None:
    shared = {"SQLITE_DBNAME": str(tmp_path / "shared.sqlite")}
    backend = Backend("sqlite-shared", "sqlite", new_store=lambda: shared, durable=True)
    with pytest.raises(StoreNotIsolated, match="new_store must return a new, empty store"):
        run_machine("aggregate", backend, conformance_settings(20, derandomize=True))


def test_isolated_env_gives_every_example_an_empty_store(tmp_path: Path) -> None:
    from eventsourcing_conformance.stores import isolated_env

    backend = Backend(
        "sqlite", "sqlite", new_store=lambda: isolated_env("sqlite", tmp_path), durable=True
    )
    run_machine("aggregate", backend, conformance_settings(5, derandomize=True))
    assert len(list(tmp_path.glob("store-*.sqlite"))) >= 5
