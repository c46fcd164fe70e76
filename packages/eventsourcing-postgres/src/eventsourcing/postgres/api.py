"""The PostgreSQL persistence module's public classes, under the package's topics.

Imported by :mod:`eventsourcing.postgres` on first use of one of its names
(it imports psycopg and psycopg_pool).
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
    _cls.__module__ = "eventsourcing.postgres"
del _cls
