"""PostgreSQL persistence module (psycopg 3, psycopg_pool), registered as ``postgres``.

Reads and extends databases written by eventsourcing 9.1: same tables, same
columns, same stored format.
"""

from __future__ import annotations

from eventsourcing.postgres.datastore import PostgresDatastore
from eventsourcing.postgres.factory import Factory
from eventsourcing.postgres.recorders import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
)
from eventsourcing.postgres.subscription import PostgresSubscription
from eventsourcing.postgres.tracking import PostgresTrackingRecorder

__all__ = [
    "Factory",
    "PostgresAggregateRecorder",
    "PostgresApplicationRecorder",
    "PostgresDatastore",
    "PostgresProcessRecorder",
    "PostgresSubscription",
    "PostgresTrackingRecorder",
]

# Public classes are known by the reference's topics (``eventsourcing.postgres:Factory``).
for _cls in (
    Factory,
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
    PostgresSubscription,
    PostgresTrackingRecorder,
):
    _cls.__module__ = __name__
del _cls
