"""Hypothesis settings: the same examples on every CI run."""

from __future__ import annotations

import pytest
from hypothesis import Phase

from eventsourcing_conformance.settings import (
    DEFAULT_SHRINK_SECONDS,
    bounded_shrinking,
    conformance_settings,
    settings_from_config,
    shrink_seconds,
)


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


def test_shrinking_can_be_switched_off_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTSOURCING_CONFORMANCE_NO_SHRINK", "1")
    assert Phase.shrink not in conformance_settings().phases
    monkeypatch.setenv("EVENTSOURCING_CONFORMANCE_NO_SHRINK", "0")
    assert Phase.shrink in conformance_settings().phases


class _Config:
    def __init__(self, **options: object) -> None:
        self.options = options

    def getoption(self, name: str, default: object = None) -> object:
        return self.options.get(name, default)


def test_command_line_options_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTSOURCING_CONFORMANCE_SHRINK_SECONDS", raising=False)
    s, seconds = settings_from_config(
        _Config(eventsourcing_no_shrink=True, eventsourcing_examples=4)  # type: ignore[arg-type]
    )
    assert Phase.shrink not in s.phases
    assert s.max_examples == 4
    assert seconds == DEFAULT_SHRINK_SECONDS
    s, seconds = settings_from_config(_Config(eventsourcing_shrink_seconds=2.5))  # type: ignore[arg-type]
    assert Phase.shrink in s.phases
    assert seconds == 2.5


def test_shrinking_time_is_bounded_while_a_machine_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis.internal.conjecture import engine

    unbounded = engine.MAX_SHRINKING_SECONDS
    monkeypatch.setenv("EVENTSOURCING_CONFORMANCE_SHRINK_SECONDS", "7")
    with bounded_shrinking(shrink_seconds()):
        assert engine.MAX_SHRINKING_SECONDS == 7
    assert engine.MAX_SHRINKING_SECONDS == unbounded
