"""SQLite persistence module (placeholder until its own issue lands)."""

from __future__ import annotations

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
)


class Factory(InfrastructureFactory):
    """Placeholder: the SQLite recorders are not built yet."""

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        raise NotImplementedError("SQLite recorders are not built yet")

    def application_recorder(self) -> ApplicationRecorder:
        raise NotImplementedError("SQLite recorders are not built yet")

    def process_recorder(self) -> ProcessRecorder:
        raise NotImplementedError("SQLite recorders are not built yet")
