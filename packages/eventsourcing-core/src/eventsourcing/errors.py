"""The exceptions of the persistence layer: the PEP 249 hierarchy.

In a module of their own, below :mod:`eventsourcing.persistence` (which
re-exports them), so that modules the persistence layer builds on, such as
:mod:`eventsourcing.subscription`, can raise and catch them without
importing it back.
"""

from __future__ import annotations

from types import ModuleType
from typing import Optional, Tuple, Type

from eventsourcing.utils import EventSourcingError

__all__ = [
    "DataError",
    "DatabaseError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "PersistenceError",
    "ProgrammingError",
    "RecordConflictError",
    "WaitInterruptedError",
    "pep249_error_type",
]


class RecordConflictError(EventSourcingError):
    """Raised when a recorded event conflicts with one already recorded."""


class PersistenceError(EventSourcingError):
    """Base class for the other exceptions in this module."""


class InterfaceError(PersistenceError):
    """Errors related to the database interface rather than the database."""


class DatabaseError(PersistenceError):
    """Errors related to the database."""


class DataError(DatabaseError):
    """Errors due to problems with the processed data."""


class _UndecodableType(DataError, TypeError):
    """Stored state names a type the transcoder does not know: a DataError
    that is still the TypeError eventsourcing 9.1 raised (see the Mapper)."""


class OperationalError(DatabaseError):
    """Errors related to the database's operation (disconnects, lock timeouts)."""


class IntegrityError(DatabaseError, RecordConflictError):
    """The relational integrity of the database would be affected (conflicts)."""


class InternalError(DatabaseError):
    """The database encountered an internal error."""


class ProgrammingError(DatabaseError):
    """Programming errors, e.g. table not found or SQL syntax errors."""


class NotSupportedError(DatabaseError):
    """A method or database API was used that the database does not support."""


class WaitInterruptedError(PersistenceError):
    """A :meth:`TrackingRecorder.wait` was interrupted before its notification was processed."""


# Each before its bases, so that the first match is the most specific.
_PEP249_TYPES: Tuple[Type[DatabaseError | InterfaceError], ...] = (
    IntegrityError,
    DataError,
    OperationalError,
    ProgrammingError,
    InternalError,
    NotSupportedError,
    InterfaceError,
    DatabaseError,
)


def pep249_error_type(
    error: BaseException, driver: ModuleType
) -> Optional[Type[DatabaseError | InterfaceError]]:
    """The exception of this module named as the PEP 249 class ``error`` is an
    instance of in ``driver`` (``sqlite3``, ``psycopg``: every DB-API module
    has the same names), or None if it is none of them.

    One table for every backend's translation of its driver's errors.
    """
    for persistence_type in _PEP249_TYPES:
        if isinstance(error, getattr(driver, persistence_type.__name__)):
            return persistence_type
    return None
