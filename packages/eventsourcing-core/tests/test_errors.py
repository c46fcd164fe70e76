"""One root for the library's own exceptions, keeping each one's other bases."""

from __future__ import annotations

from typing import List

import pytest

from eventsourcing import (
    application,
    checks,
    compressor,
    domain,
    follower,
    inprocess,
    lease,
    logreader,
    persistence,
    plugins,
    popo,
    processrunner,
    registry,
    runner,
    system,
    topology,
    utils,
)
from eventsourcing.persistence import DatabaseError, IntegrityError, RecordConflictError
from eventsourcing.utils import ConfigurationError, EventSourcingError


def own_exceptions() -> List[type]:
    """Every exception class the core's modules define (found, not listed)."""
    modules = (application, checks, compressor, domain, persistence, plugins, popo, registry)
    systems = (follower, inprocess, lease, logreader, processrunner, runner, topology)
    found = {
        obj
        for module in (*modules, *systems, system, utils)
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and obj.__module__.startswith("eventsourcing.")
    }
    return sorted(found, key=lambda cls: cls.__name__)


def test_the_exceptions_are_found() -> None:
    names = {cls.__name__ for cls in own_exceptions()}
    assert {"AggregateNotFound", "PluginError", "IntegrityError", "VersionError"} <= names
    assert len(names) >= 16


@pytest.mark.parametrize("cls", own_exceptions(), ids=lambda cls: cls.__name__)
def test_every_own_exception_is_an_event_sourcing_error(cls: type) -> None:
    assert issubclass(cls, EventSourcingError)


def test_the_other_bases_are_kept() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(IntegrityError, RecordConflictError)
    assert issubclass(IntegrityError, DatabaseError)
    with pytest.raises(ValueError):
        raise ConfigurationError("still caught as a ValueError")


def test_importable_from_the_domain_module_too() -> None:
    assert domain.EventSourcingError is utils.EventSourcingError
