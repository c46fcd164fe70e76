"""Translation of psycopg and psycopg_pool errors into the persistence exceptions.

Callers of a recorder see only the PEP 249 hierarchy of
:mod:`eventsourcing.persistence`; the original error is chained as the cause.
"""

from __future__ import annotations

import psycopg
import psycopg_pool

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
)

__all__ = ["ConnectionLost", "NoAnswer", "ReadTimeout", "translate"]


class ReadTimeout(OperationalError):
    """The server did not answer within ``POSTGRES_READ_TIMEOUT``.

    The connection was discarded. A read is not retried (the server is most
    likely still silent); a write's outcome is looked for on a fresh
    connection, as after any lost connection.
    """


class NoAnswer(psycopg.OperationalError):
    """The driver-level error behind :class:`ReadTimeout` (the connection is closed)."""


_MAPPING: tuple[tuple[type[Exception], type[PersistenceError]], ...] = (
    (NoAnswer, ReadTimeout),
    (psycopg_pool.PoolClosed, InterfaceError),
    (psycopg.IntegrityError, IntegrityError),
    (psycopg.DataError, DataError),
    (psycopg.OperationalError, OperationalError),
    (psycopg.ProgrammingError, ProgrammingError),
    (psycopg.InternalError, InternalError),
    (psycopg.NotSupportedError, NotSupportedError),
    (psycopg.InterfaceError, InterfaceError),
    (psycopg.DatabaseError, DatabaseError),
    (psycopg.Error, DatabaseError),
)


class ConnectionLost(OperationalError):
    """The connection to the server broke (terminated, restarted, network).

    Raised for reads only after retrying on fresh connections failed.
    """


def translate(error: BaseException) -> PersistenceError:
    """Return the persistence exception for ``error`` (caller chains it)."""
    if isinstance(error, PersistenceError):
        return error
    for driver_cls, persistence_cls in _MAPPING:
        if isinstance(error, driver_cls):
            message = str(error).strip() or type(error).__name__
            return persistence_cls(message)
    return DatabaseError(f"{type(error).__name__}: {error}")
