"""Plugin registering the PostgreSQL persistence module as ``postgres``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from eventsourcing.plugins import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing.persistence import InfrastructureFactory


@hookimpl
def eventsourcing_persistence_modules() -> Mapping[str, type[InfrastructureFactory]]:
    # Deferred on purpose: importing psycopg and its pool costs more than every
    # other plugin together, and is only needed once PostgreSQL is selected.
    from eventsourcing.postgres import Factory

    return {"postgres": Factory}
