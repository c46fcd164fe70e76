"""Conformance suite for eventsourcing recorders.

Run it on installed backends with
``pytest --pyargs eventsourcing_conformance --eventsourcing-backend=NAME``, or
on your own recorder classes by subclassing :class:`RecorderConformance` and
returning a :class:`Backend` from a ``conformance_backend`` fixture (see the
README).
"""

from eventsourcing_conformance.backend import Backend
from eventsourcing_conformance.properties import PROPERTIES, PropertyViolation
from eventsourcing_conformance.suite import AsyncRecorderConformance, RecorderConformance

__all__ = [
    "PROPERTIES",
    "AsyncRecorderConformance",
    "Backend",
    "PropertyViolation",
    "RecorderConformance",
]
