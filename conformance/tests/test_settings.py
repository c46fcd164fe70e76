"""Hypothesis settings: the same examples on every CI run."""

from __future__ import annotations

import pytest
from hypothesis import Phase

from eventsourcing_conformance.machines import conformance_settings


def test_ci_runs_are_derandomized_without_example_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    s = conformance_settings()
    assert s.derandomize is True
    assert s.database is None
    assert s.deadline is None


def test_local_runs_explore_new_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert conformance_settings().derandomize is False


def test_number_of_examples_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTSOURCING_CONFORMANCE_EXAMPLES", "7")
    assert conformance_settings().max_examples == 7
    assert conformance_settings(max_examples=3).max_examples == 3


def test_shrinking_can_be_switched_off() -> None:
    assert Phase.shrink in conformance_settings().phases
    assert Phase.shrink not in conformance_settings(shrink=False).phases
