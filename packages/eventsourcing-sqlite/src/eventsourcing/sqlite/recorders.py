"""SQLite recorders, in the table layout of eventsourcing 9.1.

- aggregate recorders: ``stored_{purpose}`` ``WITHOUT ROWID``;
- application recorders: ``stored_events`` with the notification ID as rowid;
- process recorders: also ``tracking`` ``WITHOUT ROWID``.

``originator_id`` is stored as ``UUID.hex`` (32 hexadecimal digits, no
dashes), which is what eventsourcing 9.1 writes and looks up. Statements
are built once per recorder; an insert is one transaction of multi-row
INSERTs, and parameters are prepared before the write lock is taken.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import product
from operator import attrgetter
from typing import Any, Callable, Dict, List, Optional, Tuple
from uuid import UUID

from eventsourcing.checks import (
    check_int,
    check_stored_event,
    check_stored_events,
    check_str,
    tracking_records,
)
from eventsourcing.lease import Lease
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    make_stored_event,
)
from eventsourcing.sqlite.copying import (
    SQLiteEventScanning,
    SQLiteNotificationInserting,
    SQLiteTrackingCopying,
)
from eventsourcing.sqlite.datastore import SQLiteDatastore, translate_error
from eventsourcing.sqlite.identifiers import validate_table_name
from eventsourcing.sqlite.lease import FileLease
from eventsourcing.sqlite.rows import notifications
from eventsourcing.sqlite.tracking import TrackingStatements
from eventsourcing.subscription import SignalledSubscription, Subscription

__all__ = [
    "SQLiteAggregateRecorder",
    "SQLiteApplicationRecorder",
    "SQLiteProcessRecorder",
]

# Tracking rows per INSERT: 2 parameters each, within the 999 parameters of
# SQLite builds before 3.32 (later ones allow 32,766).
TRACKING_ROWS_PER_INSERT = 400

# Stored events per INSERT: 4 parameters each (512 of the 999 allowed). One
# multi-row INSERT costs SQLite and the driver far less per row than
# ``executemany`` (one bind, one step and one reset per row, the GIL released
# and taken at each step): 5,000 events in one transaction, file in WAL mode,
# 5.2 ms rather than 9.0 ms (best of 15). An insert of n events runs the
# statements for the powers of two n is made of, from at most 128 down, so
# that a recorder prepares (and the connection caches) eight statements.
EVENT_ROWS_PER_INSERT = 128

_event_fields = attrgetter("originator_id", "originator_version", "topic", "state")
_NO_ID = object()  # the ID before the first event's: not even None


def _event_params(stored_events: Sequence[StoredEvent]) -> List[Any]:
    """Check stored events; return their statement parameters, four per event, in one list.

    One flat list, not a tuple per event: the INSERTs take consecutive slices
    of it, and fewer objects are kept (5,000 events: 0.67 ms, 0.89 ms with
    tuples, best of 50).
    """
    if not isinstance(stored_events, Sequence):
        check_stored_events(stored_events)  # raises
    params: List[Any] = []
    extend = params.extend
    last_id: Any = _NO_ID
    last_str = ""
    for s in stored_events:
        try:
            originator_id, version, topic, state = _event_fields(s)
        except AttributeError:
            check_stored_event(s)  # raises
            raise
        if not (
            type(version) is int
            and type(topic) is str
            and type(state) is bytes
            and isinstance(s, StoredEvent)
        ):
            check_stored_event(s)  # raises, unless only subclasses of the types
            version = int(version)
        if originator_id is not last_id:  # batches are mostly of one aggregate
            if type(originator_id) is not UUID:
                check_stored_event(s)  # raises, unless a subclass of UUID
            last_id, last_str = originator_id, originator_id.hex
        extend((last_str, version, topic, state))
    return params


class SQLiteAggregateRecorder(SQLiteEventScanning, AggregateRecorder):
    """Records the stored events of aggregates (or snapshots) in one table."""

    on_close: Optional[Callable[[Any], None]] = None

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        if not isinstance(datastore, SQLiteDatastore):
            raise TypeError(f"Expected SQLiteDatastore, got {type(datastore).__name__}")
        self.datastore = datastore
        self.events_table_name = validate_table_name(events_table_name)
        self._closed = False
        self.create_table_statements = self.construct_create_table_statements()
        table = self.events_table_name
        insert = f"INSERT INTO {table} (originator_id, originator_version, topic, state) VALUES "
        self.insert_events_statement = insert + "(?, ?, ?, ?)"
        # One statement per power of two up to EVENT_ROWS_PER_INSERT rows, built now.
        self._insert_statements: Dict[int, str] = {}
        size = 1
        while size <= EVENT_ROWS_PER_INSERT:
            self._insert_statements[size] = insert + ", ".join(["(?, ?, ?, ?)"] * size)
            size *= 2
        # One statement per combination of select_events arguments, built now.
        self._select_statements: Dict[Tuple[bool, bool, bool, bool], str] = {}
        for has_gt, has_lte, desc, has_limit in product((False, True), repeat=4):
            self._select_statements[(has_gt, has_lte, desc, has_limit)] = (
                f"SELECT originator_version, topic, state FROM {table} WHERE originator_id = ?"
                + (" AND originator_version > ?" if has_gt else "")
                + (" AND originator_version <= ?" if has_lte else "")
                + " ORDER BY originator_version"
                + (" DESC" if desc else "")
                + (" LIMIT ?" if has_limit else "")
            )

    def construct_create_table_statements(self) -> List[str]:
        return [self._create_events_table() + " WITHOUT ROWID"]

    def _create_events_table(self) -> str:
        """The events table of the 9.1 format (the rowid numbers notifications)."""
        return (
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name} ("
            "originator_id TEXT, "
            "originator_version INTEGER, "
            "topic TEXT, "
            "state BLOB, "
            "PRIMARY KEY (originator_id, originator_version))"
        )

    def table_names(self) -> List[str]:
        """The tables this recorder uses."""
        return [self.events_table_name]

    def create_table(self) -> None:
        """Create the tables if they do not exist (idempotent).

        Looks first, without the write lock, so that starting an application
        does not wait for writers in other processes when the tables exist.
        """
        self._check_open()
        names = self.table_names()
        try:
            existing = self.datastore.select(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ("
                + ", ".join("?" * len(names))
                + ")",
                names,
            )
            if len(existing) < len(names):
                self.datastore.write(self._create_tables)
        except Exception as e:
            raise translate_error(e, self.datastore.db_name) from e

    def _create_tables(self, conn: sqlite3.Connection) -> None:
        for statement in self.create_table_statements:
            conn.execute(statement)

    def close(self) -> None:
        """Stop using the datastore, releasing it to the factory that made it."""
        if self._closed:
            return
        self._closed = True
        if self.on_close is not None:
            self.on_close(self)

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError(
                f"{type(self).__name__} for {self.events_table_name!r} in "
                f"SQLite database {self.datastore.db_name!r} is closed"
            )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        self._check_open()
        params = _event_params(stored_events)  # before the lock: only SQL runs under it
        tracking = self._tracking_rows(kwargs)
        try:
            return self.datastore.write(lambda conn: self._record(conn, params, tracking))
        except Exception as e:
            raise self._error(e) from e

    def _tracking_rows(self, kwargs: Dict[str, Any]) -> List[Tuple[str, int]]:
        return []  # aggregate and application recorders do not track

    def _record(
        self, conn: sqlite3.Connection, params: List[Any], tracking: List[Tuple[str, int]]
    ) -> Optional[List[int]]:
        """Insert the events in the open transaction; return notification IDs, if any."""
        self._insert_events(conn, params)
        return None

    def _insert_events(self, conn: sqlite3.Connection, params: List[Any]) -> Optional[int]:
        """Insert the events whose parameters are ``params``; return the last rowid."""
        count = len(params) // 4
        if count == 1:  # the usual save
            return conn.execute(self.insert_events_statement, params).lastrowid
        last_id: Optional[int] = None
        start = 0
        while count:
            size = min(EVENT_ROWS_PER_INSERT, 1 << (count.bit_length() - 1))
            stop = start + 4 * size
            last_id = conn.execute(self._insert_statements[size], params[start:stop]).lastrowid
            start, count = stop, count - size
        return last_id

    def _error(self, error: Exception) -> Exception:
        if isinstance(error, sqlite3.IntegrityError):
            return IntegrityError(
                f"Nothing recorded: {self._conflict(str(error))} in SQLite database "
                f"{self.datastore.db_name!r} ({error})"
            )
        return translate_error(error, self.datastore.db_name, self.events_table_name)

    def _conflict(self, message: str) -> str:
        return "a stored event has the originator ID and version of one already recorded"

    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        self._check_open()
        if not isinstance(originator_id, UUID):
            raise InterfaceError(f"originator_id must be a UUID, got {originator_id!r}")
        params: List[Any] = [originator_id.hex]
        if gt is not None:
            check_int("gt", gt)
            params.append(gt)
        if lte is not None:
            check_int("lte", lte)
            params.append(lte)
        if limit is not None:
            check_int("limit", limit, minimum=0)  # SQLite reads LIMIT -1 as no limit
            params.append(limit)
        statement = self._select_statements[
            (gt is not None, lte is not None, bool(desc), limit is not None)
        ]
        try:
            rows = self.datastore.select(statement, params)
        except Exception as e:
            raise self._error(e) from e
        return [make_stored_event(originator_id, row[0], row[1], row[2]) for row in rows]


class SQLiteApplicationRecorder(
    SQLiteNotificationInserting, SQLiteAggregateRecorder, ApplicationRecorder
):
    """Also gives each stored event a notification ID: the row's rowid."""

    # Seconds between reads of a waiting subscription (SQLITE_SUBSCRIPTION_POLL_INTERVAL):
    # how soon it sees what other processes commit; this process's commits wake it at once.
    subscription_poll_interval = 0.1

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)
        table = self.events_table_name
        self.select_notifications_statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
            "WHERE rowid >= ?"
        )
        self.max_notification_id_statement = f"SELECT MAX(rowid) FROM {table}"
        # Built on first use, per (stop given, number of topics).
        self._notifications_statements: Dict[Tuple[bool, int], str] = {}

    def construct_create_table_statements(self) -> List[str]:
        return [self._create_events_table()]

    def _record(
        self, conn: sqlite3.Connection, params: List[Any], tracking: List[Tuple[str, int]]
    ) -> Optional[List[int]]:
        if not params:
            return []
        last_id = self._insert_events(conn, params)
        assert last_id is not None
        # Writers are serialised, and a table without AUTOINCREMENT gives each
        # new row max(rowid) + 1 (the rows of a multi-row INSERT in the order
        # of its VALUES), so the IDs of one insert are consecutive.
        count = len(params) // 4
        return list(range(last_id - count + 1, last_id + 1))

    def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        self._check_open()
        check_int("start", start)
        check_int("limit", limit, minimum=0)  # SQLite reads LIMIT -1 as no limit
        if stop is not None:
            check_int("stop", stop)
        if isinstance(topics, str) or not all(isinstance(t, str) for t in topics):
            raise InterfaceError(f"topics must be a sequence of str, got {topics!r}")
        statement, params = self._notifications_query(start, limit, stop, topics)
        try:
            rows = self.datastore.select(statement, params)
        except Exception as e:
            raise self._error(e) from e
        return notifications(rows)

    def _notifications_query(
        self, start: int, limit: int, stop: Optional[int], topics: Sequence[str]
    ) -> Tuple[str, List[Any]]:
        params: List[Any] = [start]
        if stop is not None:
            params.append(stop)
        params.extend(topics)
        params.append(limit)
        key = (stop is not None, len(topics))
        statement = self._notifications_statements.get(key)
        if statement is None:
            statement = self.select_notifications_statement
            if stop is not None:
                statement += " AND rowid <= ?"
            if topics:
                statement += " AND topic IN (" + ", ".join("?" * len(topics)) + ")"
            statement += " ORDER BY rowid LIMIT ?"
            if len(self._notifications_statements) < 64:  # topic counts vary little
                self._notifications_statements[key] = statement
        return statement, params

    def subscribe(self, gt: Optional[int] = None, topics: Sequence[str] = ()) -> Subscription:
        return SignalledSubscription(
            self,
            self.datastore.committed,
            gt=gt,
            topics=topics,
            poll_interval=self.subscription_poll_interval,
        )

    def max_notification_id(self) -> int:
        self._check_open()
        try:
            value = self.datastore.select(self.max_notification_id_statement)[0][0]
        except Exception as e:
            raise self._error(e) from e
        return int(value or 0)


class SQLiteProcessRecorder(SQLiteTrackingCopying, SQLiteApplicationRecorder, ProcessRecorder):
    """Also records, in the same transaction as the events, a tracking record."""

    def __init__(
        self,
        datastore: SQLiteDatastore,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "tracking",
    ) -> None:
        self.tracking_table_name = validate_table_name(tracking_table_name)
        super().__init__(datastore, events_table_name)
        statements = TrackingStatements(self.tracking_table_name)
        self._tracking_statements = statements
        self.insert_tracking_statement = statements.insert
        self.max_tracking_id_statement = statements.max_id
        self.has_tracking_id_statement = statements.has_id

    def table_names(self) -> List[str]:
        return [*super().table_names(), self.tracking_table_name]

    def construct_create_table_statements(self) -> List[str]:
        return [
            *super().construct_create_table_statements(),
            TrackingStatements(self.tracking_table_name).create,
        ]

    max_trackings_per_insert = None

    def lease(self, follower_name: str, leader_name: str) -> Lease:
        if self.datastore.is_memory:
            return super().lease(follower_name, leader_name)
        return FileLease(follower_name, leader_name, self.datastore.db_name)

    def _tracking_rows(self, kwargs: Dict[str, Any]) -> List[Tuple[str, int]]:
        return [(t.application_name, t.notification_id) for t in tracking_records(kwargs)]

    def _record(
        self, conn: sqlite3.Connection, params: List[Any], tracking: List[Tuple[str, int]]
    ) -> Optional[List[int]]:
        if len(tracking) == 1:
            conn.execute(self.insert_tracking_statement, tracking[0])
        for i in range(0, len(tracking) if len(tracking) > 1 else 0, TRACKING_ROWS_PER_INSERT):
            chunk = tracking[i : i + TRACKING_ROWS_PER_INSERT]
            statement = self._tracking_statements.insert_rows(len(chunk))
            conn.execute(statement, [value for row in chunk for value in row])
        return super()._record(conn, params, tracking)

    def _conflict(self, message: str) -> str:
        if f"{self.tracking_table_name}." in message:
            return "the tracking record is already recorded (that notification was processed)"
        return super()._conflict(message)

    def max_tracking_id(self, application_name: str) -> int:
        self._check_open()
        check_str("application_name", application_name)
        try:
            value = self.datastore.select(self.max_tracking_id_statement, (application_name,))[0][0]
        except Exception as e:
            raise self._error(e) from e
        return int(value or 0)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        self._check_open()
        check_str("application_name", application_name)
        check_int("notification_id", notification_id)
        try:
            rows = self.datastore.select(
                self.has_tracking_id_statement, (application_name, notification_id)
            )
        except Exception as e:
            raise self._error(e) from e
        return bool(rows)
