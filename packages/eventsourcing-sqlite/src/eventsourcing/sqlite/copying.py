"""The copying capabilities (:mod:`eventsourcing.copying`) of the SQLite recorders.

Kept apart from the ports so that the recorders stay readable: the recorder
classes mix these in. A notification ID is the row's ``rowid``; inserting a
row with a given rowid is plain SQL, and SQLite gives the next ordinary row
``max(rowid) + 1``, so the sequence advances past copied IDs by itself.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, List, Optional, Sequence, Tuple
from uuid import UUID

from eventsourcing.checks import check_int, check_tracking
from eventsourcing.copying import (
    EventScanning,
    NotificationInserting,
    TrackingCopying,
    check_scan_key,
)
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    StoredEvent,
    Tracking,
    make_stored_event,
)
from eventsourcing.sqlite.datastore import SQLiteDatastore, translate_error

__all__ = ["SQLiteEventScanning", "SQLiteNotificationInserting", "SQLiteTrackingCopying"]


class _SQLiteRecorder:
    """What the mixins use of the recorder they are mixed into."""

    datastore: SQLiteDatastore
    events_table_name: str
    _check_open: Callable[[], None]
    _error: Callable[[Exception], Exception]

    def _write_rows(
        self, statement: str, rows: List[Tuple[Any, ...]], error: Callable[[Exception], Exception]
    ) -> None:
        """Insert ``rows`` in one write transaction: all of them or none."""

        def insert(conn: sqlite3.Connection) -> None:
            conn.executemany(statement, rows)

        try:
            self.datastore.write(insert)
        except Exception as e:
            raise error(e) from e


class SQLiteEventScanning(_SQLiteRecorder, EventScanning):
    def scan_stored_events(
        self, after: Optional[Tuple[UUID, int]] = None, limit: int = 1000
    ) -> List[StoredEvent]:
        self._check_open()
        check_int("limit", limit, minimum=0)
        statement = (
            f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name}"
        )
        params: List[Any] = []
        if after is not None:
            originator_id, version = check_scan_key(after)
            statement += " WHERE (originator_id, originator_version) > (?, ?)"
            params += [originator_id.hex, version]
        statement += " ORDER BY originator_id, originator_version LIMIT ?"
        params.append(limit)
        try:
            rows = self.datastore.select(statement, params)
        except Exception as e:
            raise self._error(e) from e
        return [make_stored_event(UUID(r[0]), r[1], r[2], r[3]) for r in rows]


class SQLiteNotificationInserting(_SQLiteRecorder, NotificationInserting):
    def insert_notifications(self, notifications: Sequence[Notification]) -> None:
        self._check_open()
        rows: List[Tuple[Any, ...]] = []
        for n in notifications:
            if not isinstance(n, Notification):
                raise InterfaceError(f"Expected Notification objects, got {n!r}")
            check_int("notification id", n.id, minimum=1)
            rows.append((n.id, n.originator_id.hex, n.originator_version, n.topic, n.state))
        statement = (
            f"INSERT INTO {self.events_table_name} "
            "(rowid, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)"
        )
        self._write_rows(statement, rows, self._error)


class SQLiteTrackingCopying(_SQLiteRecorder, TrackingCopying):
    tracking_table_name: str

    def select_tracking(
        self, after: Optional[Tracking] = None, limit: int = 1000
    ) -> List[Tracking]:
        self._check_open()
        check_int("limit", limit, minimum=0)
        statement = f"SELECT application_name, notification_id FROM {self.tracking_table_name}"
        params: List[Any] = []
        if after is not None:
            check_tracking(after)
            statement += " WHERE (application_name, notification_id) > (?, ?)"
            params += [after.application_name, after.notification_id]
        statement += " ORDER BY application_name, notification_id LIMIT ?"
        params.append(limit)
        try:
            rows = self.datastore.select(statement, params)
        except Exception as e:
            raise self._tracking_error(e) from e
        return [Tracking(r[0], r[1]) for r in rows]

    def insert_tracking(self, records: Sequence[Tracking]) -> None:
        self._check_open()
        rows: List[Tuple[Any, ...]] = []
        for t in records:
            check_tracking(t)
            rows.append((t.application_name, t.notification_id))
        statement = (
            f"INSERT INTO {self.tracking_table_name} (application_name, notification_id) "
            "VALUES (?, ?)"
        )
        self._write_rows(statement, rows, self._tracking_error)

    def _tracking_error(self, error: Exception) -> Exception:
        if isinstance(error, sqlite3.IntegrityError):
            return self._error(error)
        return translate_error(error, self.datastore.db_name, self.tracking_table_name)
