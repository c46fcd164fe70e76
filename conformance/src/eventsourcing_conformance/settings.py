"""How long the suite searches and how long it shrinks: options and settings.

The state machines draw small batches (large ones are fixed cases), so a
shrunk failure is short. Shrinking is still bounded, by default to
``DEFAULT_SHRINK_SECONDS`` per state machine, and can be switched off for
the fastest failing run (``--eventsourcing-no-shrink``).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator, Optional

import pytest
from hypothesis import HealthCheck, Phase, settings

__all__ = [
    "DEFAULT_EXAMPLES",
    "DEFAULT_SHRINK_SECONDS",
    "add_options",
    "bounded_shrinking",
    "conformance_settings",
    "settings_from_config",
    "shrink_seconds",
]

DEFAULT_EXAMPLES = 25
DEFAULT_SHRINK_SECONDS = 20.0
EXAMPLES_ENV = "EVENTSOURCING_CONFORMANCE_EXAMPLES"
NO_SHRINK_ENV = "EVENTSOURCING_CONFORMANCE_NO_SHRINK"
SHRINK_SECONDS_ENV = "EVENTSOURCING_CONFORMANCE_SHRINK_SECONDS"


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def add_options(group: Any) -> None:
    group.addoption(
        "--eventsourcing-examples",
        type=int,
        default=None,
        dest="eventsourcing_examples",
        metavar="N",
        help=f"Hypothesis examples per state machine (default {DEFAULT_EXAMPLES}, "
        f"or {EXAMPLES_ENV})",
    )
    group.addoption(
        "--eventsourcing-no-shrink",
        action="store_true",
        default=None,
        dest="eventsourcing_no_shrink",
        help="report the first failing example as found, without shrinking it "
        f"(or {NO_SHRINK_ENV}=1)",
    )
    group.addoption(
        "--eventsourcing-shrink-seconds",
        type=float,
        default=None,
        dest="eventsourcing_shrink_seconds",
        metavar="S",
        help="stop shrinking a failing example after S seconds per state machine "
        f"(default {DEFAULT_SHRINK_SECONDS:g}, or {SHRINK_SECONDS_ENV})",
    )


def conformance_settings(
    max_examples: Optional[int] = None,
    derandomize: Optional[bool] = None,
    shrink: Optional[bool] = None,
) -> settings:
    """Settings for the state machines.

    Derandomized (the same examples every run, no example database) when the
    ``CI`` environment variable is true, so a CI failure reproduces locally
    with ``CI=true``. ``EVENTSOURCING_CONFORMANCE_EXAMPLES`` sets the number
    of examples; ``shrink=False`` (or ``EVENTSOURCING_CONFORMANCE_NO_SHRINK``)
    reports the first failing example as found, without minimising it.
    """
    if max_examples is None:
        max_examples = int(os.environ.get(EXAMPLES_ENV, str(DEFAULT_EXAMPLES)))
    if derandomize is None:
        derandomize = _truthy(os.environ.get("CI"))
    if shrink is None:
        shrink = not _truthy(os.environ.get(NO_SHRINK_ENV))
    kwargs: dict[str, Any] = {}
    if derandomize:
        kwargs["database"] = None
    if not shrink:
        kwargs["phases"] = [p for p in Phase if p is not Phase.shrink]
    return settings(
        max_examples=max_examples,
        stateful_step_count=20,
        deadline=None,
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),
        **kwargs,
    )


def shrink_seconds(value: Optional[float] = None) -> float:
    """The shrinking budget: ``value``, else the environment, else the default."""
    if value is not None:
        return value
    return float(os.environ.get(SHRINK_SECONDS_ENV, str(DEFAULT_SHRINK_SECONDS)))


def settings_from_config(config: pytest.Config) -> tuple[settings, float]:
    """The state machines' settings and shrinking budget from the command line."""
    no_shrink = config.getoption("eventsourcing_no_shrink", None)
    return (
        conformance_settings(
            max_examples=config.getoption("eventsourcing_examples", None),
            shrink=None if not no_shrink else False,
        ),
        shrink_seconds(config.getoption("eventsourcing_shrink_seconds", None)),
    )


@contextlib.contextmanager
def bounded_shrinking(seconds: float) -> Iterator[None]:
    """Stop Hypothesis shrinking after ``seconds`` instead of its own 300.

    Hypothesis has no public setting for this; its engine reads the module
    constant ``MAX_SHRINKING_SECONDS`` when shrinking starts. A failing
    PostgreSQL state machine shrank for about 7 minutes before this bound.
    If a Hypothesis release drops the constant, shrinking is simply unbounded
    again (the bound is a convenience, not a guarantee the suite relies on).
    """
    try:
        from hypothesis.internal.conjecture import engine
    except ImportError:  # pragma: no cover - a future Hypothesis layout
        yield
        return
    if not hasattr(engine, "MAX_SHRINKING_SECONDS"):  # pragma: no cover
        yield
        return
    before = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = before
