"""One root for the library's own exceptions, keeping each one's other bases."""

from __future__ import annotations

import sqlite3
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
from eventsourcing.errors import pep249_error_type
from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    RecordConflictError,
)
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


def test_driver_errors_map_to_the_most_specific_pep249_class_of_the_same_name() -> None:
    # sqlite3: a PEP 249 driver every Python has.
    assert pep249_error_type(sqlite3.IntegrityError("x"), sqlite3) is IntegrityError
    assert pep249_error_type(sqlite3.OperationalError("x"), sqlite3) is OperationalError
    assert pep249_error_type(sqlite3.InterfaceError("x"), sqlite3) is InterfaceError
    assert pep249_error_type(sqlite3.DatabaseError("x"), sqlite3) is DatabaseError
    # Not a class of the driver's PEP 249 hierarchy: the caller decides.
    assert pep249_error_type(sqlite3.Warning("x"), sqlite3) is None
    assert pep249_error_type(ValueError("x"), sqlite3) is None
