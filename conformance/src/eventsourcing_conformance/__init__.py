"""Conformance suite for eventsourcing recorders.

Run it on installed backends with
``pytest --pyargs eventsourcing_conformance --eventsourcing-backend=NAME``, or
on your own recorder classes by subclassing :class:`RecorderConformance` and
returning a :class:`Backend` from a ``conformance_backend`` fixture (see the
README).

:class:`RecorderConformance` is imported on first use (PEP 562): it needs
pytest and Hypothesis, and this package is also loaded as the ``eventsourcing``
command's plugin (``eventsourcing conformance``), where importing them would
cost every run of the command (``eventsourcing --help`` included) about half a
second of CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.properties import PROPERTIES, PropertyViolation

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing_conformance.suite import AsyncRecorderConformance, RecorderConformance

__all__ = [
    "PROPERTIES",
    "AsyncRecorderConformance",
    "Backend",
    "PropertyViolation",
    "RecorderConformance",
]

_DEFERRED = ("AsyncRecorderConformance", "RecorderConformance")


def __getattr__(name: str) -> Any:
    if name in _DEFERRED:
        from eventsourcing_conformance import suite  # deferred: see above

        value = getattr(suite, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
