"""SQLite persistence module (``PERSISTENCE_MODULE=sqlite``), on stdlib ``sqlite3``.

Reads and extends database files written by eventsourcing 9.1: same tables,
same columns, same stored format.
"""

from __future__ import annotations

from eventsourcing.sqlite.datastore import DEFAULT_LOCK_TIMEOUT, SQLiteDatastore
from eventsourcing.sqlite.factory import Factory
from eventsourcing.sqlite.recorders import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteProcessRecorder,
)
from eventsourcing.sqlite.tracking import SQLiteTrackingRecorder

__all__ = [
    "SQLITE3_DEFAULT_LOCK_TIMEOUT",
    "Factory",
    "SQLiteAggregateRecorder",
    "SQLiteApplicationRecorder",
    "SQLiteDatastore",
    "SQLiteProcessRecorder",
    "SQLiteTrackingRecorder",
]

# 9.1's name for the lock timeout used when SQLITE_LOCK_TIMEOUT is not set (seconds).
SQLITE3_DEFAULT_LOCK_TIMEOUT = DEFAULT_LOCK_TIMEOUT

# Public classes are known by the reference's topics (``eventsourcing.sqlite:Factory``),
# also when printed.
for _cls in (
    Factory,
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteDatastore,
    SQLiteProcessRecorder,
):
    _cls.__module__ = __name__
del _cls
