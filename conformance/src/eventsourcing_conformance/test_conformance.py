"""The suite, once per backend chosen with ``--eventsourcing-backend``."""

from eventsourcing_conformance.suite import AsyncRecorderConformance, RecorderConformance


class TestConformance(RecorderConformance):
    """Uses the plugin's ``conformance_backend`` fixture (selection by name)."""


class TestAsyncConformance(AsyncRecorderConformance):
    """The backend's async recorders, with the same checks."""
