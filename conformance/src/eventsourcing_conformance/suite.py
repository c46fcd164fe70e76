"""The conformance suite as a pytest test class to subclass.

A test class deriving from :class:`RecorderConformance` runs every check on
the :class:`~eventsourcing_conformance.backend.Backend` returned by its
``conformance_backend`` fixture. The plugin's own fixture selects installed
backends by name (``--eventsourcing-backend``); a third party overrides the
fixture in its subclass to test its own recorder classes.
"""

from __future__ import annotations

from typing import Optional

import pytest
from hypothesis import settings

from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.badinput import check_bad_input
from eventsourcing_conformance.concurrency import check_total_order
from eventsourcing_conformance.machines import conformance_settings, run_machine
from eventsourcing_conformance.pages import PageConformance
from eventsourcing_conformance.subscriptions import SubscriptionConformance

__all__ = ["RECORDER_KINDS", "RecorderConformance"]

RECORDER_KINDS = ("aggregate", "application", "process")


def _settings(request: pytest.FixtureRequest) -> settings:
    examples: Optional[int] = request.config.getoption("eventsourcing_examples", None)
    return conformance_settings(max_examples=examples)


class RecorderConformance(SubscriptionConformance, PageConformance):
    """Every property of the recorder contract, for one backend per test."""

    @pytest.mark.parametrize("kind", RECORDER_KINDS)
    def test_recorder_against_model(
        self, conformance_backend: Backend, kind: str, request: pytest.FixtureRequest
    ) -> None:
        """Uniqueness, atomicity, ordering, gaps, tracking and durability."""
        run_machine(kind, conformance_backend, _settings(request))

    @pytest.mark.parametrize("kind", RECORDER_KINDS)
    def test_bad_input(self, conformance_backend: Backend, kind: str) -> None:
        check_bad_input(conformance_backend, kind)

    def test_total_order_with_writer_threads(self, conformance_backend: Backend) -> None:
        check_total_order(conformance_backend, threads=4)

    def test_total_order_with_writer_processes(self, conformance_backend: Backend) -> None:
        if not conformance_backend.multiprocess:
            pytest.skip(
                f"backend {conformance_backend.name!r} is not declared multiprocess "
                "(its store cannot be shared by several processes)"
            )
        check_total_order(conformance_backend, threads=2, processes=2)
