"""Plugin registering the SQLite persistence module as ``sqlite``."""

from __future__ import annotations

from typing import Mapping

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.plugins import hookimpl
from eventsourcing.sqlite import Factory


@hookimpl
def eventsourcing_persistence_modules() -> Mapping[str, type[InfrastructureFactory]]:
    return {"sqlite": Factory}
