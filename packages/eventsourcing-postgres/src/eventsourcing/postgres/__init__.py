"""PostgreSQL persistence module (placeholder until its own issue lands)."""

from __future__ import annotations

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
)


class Factory(InfrastructureFactory):
    """Placeholder: the PostgreSQL recorders are not built yet."""

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        raise NotImplementedError("PostgreSQL recorders are not built yet")

    def application_recorder(self) -> ApplicationRecorder:
        raise NotImplementedError("PostgreSQL recorders are not built yet")

    def process_recorder(self) -> ProcessRecorder:
        raise NotImplementedError("PostgreSQL recorders are not built yet")
