"""Plugin registering the SQLite persistence module as ``sqlite``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from eventsourcing.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from eventsourcing.persistence import InfrastructureFactory


@hookimpl
def eventsourcing_persistence_modules() -> Mapping[str, type[InfrastructureFactory]]:
    from eventsourcing.sqlite import Factory

    return {"sqlite": Factory}
