"""Translation of psycopg and psycopg_pool errors into the persistence exceptions.

Callers of a recorder see only the PEP 249 hierarchy of
:mod:`eventsourcing.persistence`; the original error is chained as the cause.
"""

from __future__ import annotations

import psycopg
import psycopg_pool

from eventsourcing.errors import pep249_error_type
from eventsourcing.persistence import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    PersistenceError,
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


# Checked before the PEP 249 classes (NoAnswer is a psycopg.OperationalError).
_OWN_TYPES: tuple[tuple[type[Exception], type[PersistenceError]], ...] = (
    (NoAnswer, ReadTimeout),
    (psycopg_pool.PoolClosed, InterfaceError),
)


class ConnectionLost(OperationalError):
    """The connection to the server broke (terminated, restarted, network).

    Raised for reads only after retrying on fresh connections failed.
    """


def translate(error: BaseException) -> PersistenceError:
    """Return the persistence exception for ``error`` (caller chains it)."""
    if isinstance(error, PersistenceError):
        return error
    persistence_cls: type[PersistenceError] | None = next(
        (own for driver_cls, own in _OWN_TYPES if isinstance(error, driver_cls)), None
    ) or pep249_error_type(error, psycopg)
    if persistence_cls is None and isinstance(error, psycopg.Error):
        persistence_cls = DatabaseError
    if persistence_cls is None:
        return DatabaseError(f"{type(error).__name__}: {error}")
    return persistence_cls(str(error).strip() or type(error).__name__)
