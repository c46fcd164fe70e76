"""Registers the journal backend with eventsourcing as ``journal``."""

from __future__ import annotations

from typing import Mapping

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.plugins import hookimpl


@hookimpl
def eventsourcing_persistence_modules() -> Mapping[str, type[InfrastructureFactory]]:
    from es_journal import Factory

    return {"journal": Factory}
