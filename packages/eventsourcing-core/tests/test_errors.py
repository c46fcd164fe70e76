"""One root for the library's own exceptions, keeping each one's other bases."""

from __future__ import annotations

import pytest

from eventsourcing import domain, utils
from eventsourcing.application import AggregateNotFound
from eventsourcing.domain import VersionError
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    RecordConflictError,
)
from eventsourcing.plugins import PluginError
from eventsourcing.system import RunnerAlreadyStarted
from eventsourcing.utils import ConfigurationError, EventSourcingError, TopicError

OWN = [
    AggregateNotFound,
    ConfigurationError,
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    PluginError,
    ProgrammingError,
    RecordConflictError,
    RunnerAlreadyStarted,
    TopicError,
    VersionError,
]


@pytest.mark.parametrize("cls", OWN, ids=lambda cls: cls.__name__)
def test_every_own_exception_is_an_event_sourcing_error(cls: type) -> None:
    assert issubclass(cls, EventSourcingError)


def test_the_other_bases_are_kept() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(IntegrityError, RecordConflictError)
    assert issubclass(IntegrityError, DatabaseError)
    assert issubclass(DataError, PersistenceError)
    with pytest.raises(ValueError):
        raise ConfigurationError("still caught as a ValueError")


def test_importable_from_the_domain_module_too() -> None:
    assert domain.EventSourcingError is utils.EventSourcingError
