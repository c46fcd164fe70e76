"""SQLite persistence module (``PERSISTENCE_MODULE=sqlite``), on stdlib ``sqlite3``.

Reads and extends database files written by eventsourcing 9.1: same tables,
same columns, same stored format.
"""

from __future__ import annotations

from eventsourcing.sqlite.datastore import SQLiteDatastore
from eventsourcing.sqlite.factory import Factory
from eventsourcing.sqlite.recorders import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteProcessRecorder,
)
from eventsourcing.sqlite.tracking import SQLiteTrackingRecorder

__all__ = [
    "Factory",
    "SQLiteAggregateRecorder",
    "SQLiteApplicationRecorder",
    "SQLiteDatastore",
    "SQLiteProcessRecorder",
    "SQLiteTrackingRecorder",
]
