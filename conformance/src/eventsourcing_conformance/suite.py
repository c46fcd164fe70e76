"""The conformance suite as a pytest test class to subclass.

A test class deriving from :class:`RecorderConformance` runs every check on
the :class:`~eventsourcing_conformance.backend.Backend` returned by its
``conformance_backend`` fixture. The plugin's own fixture selects installed
backends by name (``--eventsourcing-backend``); a third party overrides the
fixture in its subclass to test its own recorder classes.

Each group of checks is a small class of its own; a new port (a tracking
recorder, async recorders) adds its module of checks and one class here.
"""

from __future__ import annotations

import pytest

from eventsourcing_conformance.awaited import awaited
from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.badinput import check_bad_input
from eventsourcing_conformance.batches import check_large_batch, check_lazy_batch
from eventsourcing_conformance.concurrency import (
    check_total_order,
    check_total_order_with_conflicts,
)
from eventsourcing_conformance.copying import CopyingConformance
from eventsourcing_conformance.durability import check_reopened
from eventsourcing_conformance.kinds import RECORDER_KINDS
from eventsourcing_conformance.machines import run_machine
from eventsourcing_conformance.pages import PageConformance
from eventsourcing_conformance.paging import check_empty_store, check_limits_and_bounds
from eventsourcing_conformance.purpose import check_purpose
from eventsourcing_conformance.settings import settings_from_config
from eventsourcing_conformance.stores import skip_unless
from eventsourcing_conformance.subscriptions import SubscriptionConformance

__all__ = ["RECORDER_KINDS", "AsyncRecorderConformance", "RecorderConformance"]

kinds = pytest.mark.parametrize("kind", RECORDER_KINDS)


class ModelChecks:
    """Random sequences of operations compared with the reference model."""

    @kinds
    def test_recorder_against_model(
        self, conformance_backend: Backend, kind: str, request: pytest.FixtureRequest
    ) -> None:
        """Uniqueness, atomicity, ordering, paging, gaps, types, tracking, durability."""
        settings_, shrink_for = settings_from_config(request.config)
        run_machine(kind, conformance_backend, settings_, shrink_for)


class BatchChecks:
    @kinds
    def test_large_batch(self, conformance_backend: Backend, kind: str) -> None:
        check_large_batch(conformance_backend, kind)

    @kinds
    def test_lazily_produced_batch(self, conformance_backend: Backend, kind: str) -> None:
        check_lazy_batch(conformance_backend, kind)


class ReadChecks:
    @kinds
    def test_empty_store(self, conformance_backend: Backend, kind: str) -> None:
        check_empty_store(conformance_backend, kind)

    @kinds
    def test_limits_and_bounds(self, conformance_backend: Backend, kind: str) -> None:
        check_limits_and_bounds(conformance_backend, kind)


class PurposeChecks:
    @kinds
    def test_recorders_by_purpose(self, conformance_backend: Backend, kind: str) -> None:
        check_purpose(conformance_backend, kind)


class DurabilityChecks:
    @kinds
    def test_durability(self, conformance_backend: Backend, kind: str) -> None:
        skip_unless(conformance_backend, "durable", "durability")
        check_reopened(conformance_backend, kind)


class BadInputChecks:
    @kinds
    def test_bad_input(self, conformance_backend: Backend, kind: str) -> None:
        check_bad_input(conformance_backend, kind)


class TotalOrderChecks:
    def test_total_order_with_writer_threads(self, conformance_backend: Backend) -> None:
        check_total_order(conformance_backend, threads=4)

    def test_total_order_with_conflicts_and_held_inserts(
        self, conformance_backend: Backend
    ) -> None:
        check_total_order_with_conflicts(conformance_backend)


class WriterProcessChecks:
    def test_total_order_with_writer_processes(self, conformance_backend: Backend) -> None:
        skip_unless(conformance_backend, "multiprocess", "writer processes")
        check_total_order(conformance_backend, threads=2, processes=2)


class RecorderConformance(
    ModelChecks,
    BatchChecks,
    ReadChecks,
    PurposeChecks,
    DurabilityChecks,
    BadInputChecks,
    TotalOrderChecks,
    WriterProcessChecks,
    SubscriptionConformance,
    CopyingConformance,
    PageConformance,
):
    """Every property of the recorder contract, for one backend per test."""


class AsyncRecorderConformance(
    ModelChecks,
    BatchChecks,
    ReadChecks,
    PurposeChecks,
    DurabilityChecks,
    BadInputChecks,
    TotalOrderChecks,
):
    """The same properties, of the backend's async recorders
    (``InfrastructureFactory.async_*_recorder()``), each call awaited in an
    event loop of the factory's own (see :mod:`eventsourcing_conformance.awaited`).

    Writer processes are not run (a child process has no loop of the
    factory's); subscriptions, copying and pages are the sync recorders'
    checks (the async ones add no code of their own there).
    """

    @pytest.fixture
    def conformance_backend(self, conformance_backend: Backend) -> Backend:
        return awaited(conformance_backend)
