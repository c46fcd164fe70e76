"""Recorders storing events in PostgreSQL tables of the eventsourcing 9.1 format."""

from __future__ import annotations

import threading
from collections import abc
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)
from uuid import UUID

from psycopg import sql

from eventsourcing.checks import (
    check_int,
    check_optional_int,
    check_stored_event,
    check_stored_events,
    check_str,
    tracking_records,
)
from eventsourcing.lease import Lease
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DataError,
    InterfaceError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    make_notification,
    make_stored_event,
)
from eventsourcing.postgres.bulk import CopyingCommitter, CopyingGroupCommitter, CopyPlan
from eventsourcing.postgres.commit import (
    CHUNK,
    Committer,
    Recorded,
    Save,
)
from eventsourcing.postgres.copying import (
    PostgresEventScanning,
    PostgresNotificationInserting,
    PostgresTrackingCopying,
)
from eventsourcing.postgres.datastore import Connection, PostgresDatastore
from eventsourcing.postgres.identifiers import validate_table_name
from eventsourcing.postgres.lease import AdvisoryLockLease
from eventsourcing.postgres.schema import create_tables, tracking_table_statement
from eventsourcing.postgres.subscription import PostgresSubscription, notify_channel
from eventsourcing.postgres.wire import (
    Statement,
    Step,
    array_of_bytes,
    array_of_int8,
    array_of_text,
    array_of_uuid,
    encode_int8,
)

T = TypeVar("T")

__all__ = [
    "PostgresAggregateRecorder",
    "PostgresApplicationRecorder",
    "PostgresProcessRecorder",
]

# Integer column types (pg_type.typname) and the values they hold. New tables
# get bigint columns, as eventsourcing 9.1.9 creates them; 9.1.3 created
# integer ones, and values are checked against the column of the table there is.
_INTEGER_COLUMNS = {
    "int4": ("integer", -(2**31), 2**31 - 1),
    "int8": ("bigint", -(2**63), 2**63 - 1),
}
_NEW_COLUMN = "int8"
_BEGIN = Statement.from_sql("BEGIN")
_COMMIT = Statement.from_sql("COMMIT")
_BEGIN_STEP = Step(_BEGIN)
_COMMIT_STEP = Step(_COMMIT)


class PostgresAggregateRecorder(PostgresEventScanning, AggregateRecorder):
    """Stores the events of aggregates in one table (events or snapshots)."""

    on_close: Optional[Callable[[Any], None]] = None

    def __init__(
        self, datastore: PostgresDatastore, events_table_name: str = "stored_events"
    ) -> None:
        self.datastore = datastore
        self._closed = False
        self.events_table_name = validate_table_name(events_table_name)
        self.events_table = datastore.table(self.events_table_name)
        self._select_events_cache: Dict[Tuple[bool, bool, bool, bool], bytes] = {}
        self._select_events_lock = threading.Lock()
        self._insert_statement = Statement.from_sql(self._render(self._insert_events_sql()))
        # One event (the usual save of one new or changed aggregate): plain VALUES,
        # which the server runs faster than unnesting arrays.
        self._insert_one_statement = Statement.from_sql(self._render(self._insert_one_sql()))
        self.create_table_statements = self.construct_create_table_statements()
        self._integer_columns: Dict[Tuple[str, str], Tuple[str, int, int]] = {}
        self._committer = self._construct_committer()

    def _construct_committer(self) -> Committer:
        return Committer(self.datastore, self)

    # -- schema -------------------------------------------------------------

    @staticmethod
    def _render(query: sql.Composable) -> str:
        return query.as_string(None)

    def construct_create_table_statements(self) -> List[sql.Composed]:
        return [self._create_events_table()]

    def _create_events_table(self, more_columns: str = "") -> sql.Composed:
        """The events table of the 9.1 format, with ``more_columns`` before the key."""
        return sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            "originator_id uuid NOT NULL, "
            "originator_version bigint NOT NULL, "
            "topic text, "
            "state bytea, " + more_columns + "PRIMARY KEY (originator_id, originator_version))"
        ).format(self.events_table)

    def _integer_column(self, table_name: str, column: str) -> Tuple[str, int, int]:
        """SQL type name and value range of an integer column, looked up once per table.

        While the table does not exist, those of the column this library
        would create (not remembered: the table may be created later).
        """
        found = self._integer_columns.get((table_name, column))
        if found is not None:
            return found

        def select(conn: Connection) -> Optional[str]:
            row = conn.execute(
                "SELECT t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
                (self._render(self.datastore.table(table_name)), column),
            ).fetchone()
            return None if row is None else str(row[0])

        typname = self.datastore.read(select)
        if typname is None:
            return _INTEGER_COLUMNS[_NEW_COLUMN]
        found = _INTEGER_COLUMNS.get(typname, _INTEGER_COLUMNS[_NEW_COLUMN])
        self._integer_columns[(table_name, column)] = found
        return found

    def create_table(self) -> None:
        """Create the schema (if missing) and tables (if missing), in one transaction."""
        self._check_open()
        create_tables(self.datastore, self.create_table_statements)

    # -- writing ------------------------------------------------------------

    def _insert_one_sql(self) -> sql.Composable:
        return sql.SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "VALUES ($1::uuid, $2::bigint, $3::text, $4::bytea)"
        ).format(self.events_table)

    def _insert_events_sql(self) -> sql.Composable:
        return sql.SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::bytea[])"
        ).format(self.events_table)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        save = self._save_of(stored_events, kwargs)
        if save is None:
            return None
        self._committer.record(save)
        return None

    def _save_of(
        self, stored_events: Sequence[StoredEvent], kwargs: Dict[str, Any]
    ) -> Optional[Save]:
        """The checked save of an ``insert_events`` call (None: nothing to record);
        also what the async recorders (``asyncrecorders``) send."""
        stored_events = self._prepare(stored_events)
        return Save(stored_events, ()) if stored_events else None

    def _prepare(self, stored_events: Sequence[StoredEvent]) -> Sequence[StoredEvent]:
        """Check a save that fits in one statement now, and return it as a list.

        A larger save is checked a chunk at a time as it is sent (see
        :meth:`_insert_steps`): its items may be produced lazily, and are
        only then produced, while the server inserts the previous chunk.
        """
        self._check_open()
        if type(stored_events) is not list and not isinstance(stored_events, abc.Sequence):
            check_stored_events(stored_events)  # raises
        if len(stored_events) > CHUNK:
            return stored_events
        events = stored_events if type(stored_events) is list else list(stored_events)
        self._check_stored_events(events)
        return events

    def _check_stored_events(self, stored_events: Sequence[StoredEvent]) -> None:
        column = self._integer_column(self.events_table_name, "originator_version")
        _, low, high = column
        for s in stored_events:
            # Exact types first: checking thousands of events must cost little.
            try:
                usual = (
                    type(s.originator_id) is UUID
                    and type(s.originator_version) is int
                    and type(s.topic) is str
                    and s.topic.isascii()
                    and type(s.state) is bytes
                    and low <= s.originator_version <= high
                    and isinstance(s, StoredEvent)
                )
            except AttributeError:
                usual = False
            if not usual:
                self._check_stored_event(s, column)

    @staticmethod
    def _check_stored_event(s: StoredEvent, column: Tuple[str, int, int]) -> None:
        check_stored_event(s)
        version = s.originator_version
        type_name, low, high = column
        if not low <= version <= high:
            raise DataError(
                f"originator_version {version} of {s.originator_id} is out of the "
                f"range of the PostgreSQL {type_name} column"
            )
        _check_utf8(f"topic of {s.originator_id} version {version}", s.topic)

    def _events_params(self, stored_events: Sequence[StoredEvent]) -> List[bytes]:
        return [
            array_of_uuid([s.originator_id for s in stored_events]),
            array_of_int8([s.originator_version for s in stored_events]),
            array_of_text([s.topic for s in stored_events]),
            array_of_bytes([s.state for s in stored_events]),
        ]

    # -- the write engine's interface (see eventsourcing.postgres.commit) ----

    @property
    def returns_ids(self) -> bool:
        return False

    def steps(self, saves: Sequence[Save]) -> Iterator[Tuple[Optional[int], Step]]:
        (save,) = saves
        chunked = len(save.stored_events) > CHUNK
        if chunked:
            yield None, _BEGIN_STEP
        for step in self._insert_steps(save.stored_events):
            yield 0, step
        if chunked:
            yield None, _COMMIT_STEP

    def _insert_steps(self, stored_events: Sequence[StoredEvent]) -> Iterator[Step]:
        if len(stored_events) == 1:
            s = stored_events[0]
            params = [
                s.originator_id.bytes,
                encode_int8(s.originator_version),
                s.topic.encode("utf8"),
                s.state,
            ]
            yield Step(self._insert_one_statement, params)
            return
        chunked = len(stored_events) > CHUNK  # not checked yet: see _prepare
        for i in range(0, len(stored_events), CHUNK):
            chunk = stored_events[i : i + CHUNK]
            if chunked:
                self._check_stored_events(chunk)
            yield Step(self._insert_statement, self._events_params(chunk))

    def find_recorded(self, conn: Connection, saves: Sequence[Save]) -> Recorded:
        stored_events = [s for save in saves for s in save.stored_events]
        rows = conn.execute(
            sql.SQL(
                "SELECT e.originator_id, e.originator_version, e.topic, e.state{} "
                "FROM {} e JOIN unnest(%s::uuid[], %s::bigint[]) AS k(id, v) "
                "ON e.originator_id = k.id AND e.originator_version = k.v"
            ).format(self._notification_id_column(), self.events_table),
            (
                [s.originator_id for s in stored_events],
                [s.originator_version for s in stored_events],
            ),
            binary=True,
        ).fetchall()
        sent = {(s.originator_id, s.originator_version): s for s in stored_events}
        matching: Dict[Tuple[UUID, int], Optional[int]] = {}
        for row in rows:
            s = sent.get((row[0], row[1]))
            if s is not None and (row[2], row[3]) == (s.topic, s.state):
                matching[(row[0], row[1])] = row[4] if len(row) > 4 else None
        tracked = [i for i, save in enumerate(saves) if self._has_tracking(conn, save.trackings)]
        return {(row[0], row[1]) for row in rows}, matching, tracked

    def _notification_id_column(self) -> sql.Composable:
        return sql.SQL("")

    def _has_tracking(self, conn: Connection, trackings: Sequence[Tracking]) -> bool:
        return False

    # -- reading ------------------------------------------------------------

    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        query, params = self._select_events_statement(originator_id, gt, lte, desc, limit)

        def select(conn: Connection) -> List[StoredEvent]:
            return _stored_events(
                originator_id, conn.execute(query, params, binary=True).fetchall()
            )

        return self._read(select)

    def _select_events_statement(
        self,
        originator_id: UUID,
        gt: Optional[int],
        lte: Optional[int],
        desc: bool,
        limit: Optional[int],
    ) -> Tuple[bytes, List[Any]]:
        """The checked query and parameters of a ``select_events`` call (sync or async)."""
        if not isinstance(originator_id, UUID):
            raise InterfaceError(f"originator_id must be a UUID, got {originator_id!r}")
        check_optional_int("gt", gt)
        check_optional_int("lte", lte)
        check_optional_int("limit", limit, minimum=0)
        key = (gt is not None, lte is not None, bool(desc), limit is not None)
        query = self._select_events_cache.get(key)
        if query is None:
            query = self._select_events_query(*key)
        params: List[Any] = [originator_id]
        if gt is not None:
            params.append(gt)
        if lte is not None:
            params.append(lte)
        if limit is not None:
            params.append(limit)
        return query, params

    def _select_events_query(self, gt: bool, lte: bool, desc: bool, limit: bool) -> bytes:
        # Not the originator ID: it is the one asked for (and making a UUID of
        # each row's would cost more than decoding some events).
        text = "SELECT originator_version, topic, state FROM {} "
        text += "WHERE originator_id = %s"
        if gt:
            text += " AND originator_version > %s"
        if lte:
            text += " AND originator_version <= %s"
        text += " ORDER BY originator_version"
        if desc:
            text += " DESC"
        if limit:
            text += " LIMIT %s"
        query = self._render(sql.SQL(text).format(self.events_table)).encode()
        with self._select_events_lock:
            self._select_events_cache[(gt, lte, desc, limit)] = query
        return query

    def close(self) -> None:
        """Stop using the datastore, releasing it to the factory that made it.

        The factory closes the pool when its last recorder is closed (see
        :mod:`eventsourcing.sharing`); a recorder made directly on a
        datastore leaves the datastore to whoever made it.
        """
        if self._closed:
            return
        self._closed = True
        if self.on_close is not None:
            self.on_close(self)

    def _read(self, func: Callable[[Connection], T]) -> T:
        self._check_open()
        return self.datastore.read(func)

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError(f"{type(self).__name__} for {self.events_table_name!r} is closed")


# The notification IDs of a statement's inserted rows, as one bigint[].
_ALL_IDS = "array_agg(notification_id ORDER BY notification_id)"


class PostgresApplicationRecorder(
    PostgresNotificationInserting, PostgresAggregateRecorder, ApplicationRecorder
):
    """Also gives each event a notification ID, in commit order.

    Each insert takes the table's ``EXCLUSIVE`` lock (as eventsourcing 9.1
    did), so notification IDs are assigned and committed one transaction at a
    time: a reader that has seen ID n will never later find an ID below n
    appear. Readers take ``ACCESS SHARE`` locks, which that lock does not block.
    """

    def __init__(
        self, datastore: PostgresDatastore, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)
        self._lock_statement = Statement.from_sql(
            self._render(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.events_table))
        )
        self._lock_step = Step(self._lock_statement, waits_for_lock=True)
        # One event, unless its position is taken: a conflict then inserts
        # nothing (no error, no notification ID used up, see steps()).
        insert_one_unless_taken = sql.SQL(
            "INSERT INTO {t} (originator_id, originator_version, topic, state) "
            "SELECT $1::uuid, $2::bigint, $3::text, $4::bytea WHERE NOT EXISTS "
            "(SELECT 1 FROM {t} WHERE originator_id = $1::uuid "
            "AND originator_version = $2::bigint) "
            "RETURNING notification_id"
        ).format(t=self.events_table)
        self._insert_one_unless_taken_statement = Statement.from_sql(
            self._render(insert_one_unless_taken)
        )
        self._notifications_cache: Dict[Tuple[bool, bool], bytes] = {}
        self._max_notification_id_query = self._render(
            sql.SQL("SELECT max(notification_id) FROM {}").format(self.events_table)
        ).encode()
        # Subscriptions (eventsourcing.postgres.subscription): the channel that
        # inserts NOTIFY and subscriptions LISTEN on; set by the factory from
        # POSTGRES_SUBSCRIPTION_NOTIFY and POSTGRES_SUBSCRIPTION_POLL_INTERVAL.
        self.notify_channel = notify_channel(datastore.schema, self.events_table_name)
        self.subscription_notify = True
        self.subscription_poll_interval = 1.0
        # A statement of its own for the large saves that are copied (see
        # eventsourcing.postgres.bulk)...
        self._notify_statement = Statement.from_sql(
            self._render(
                sql.SQL("SELECT pg_notify({}, '')").format(sql.Literal(self.notify_channel))
            )
        )
        # ...while, with NOTIFY on, each insert notifies in the same statement: a
        # statement of its own cost every save another Bind/Execute and result.
        self._notifying: Dict[Statement, Statement] = {
            self._insert_one_statement: self._notifying_statement(
                self._insert_one_sql(), "notification_id"
            ),
            self._insert_one_unless_taken_statement: self._notifying_statement(
                insert_one_unless_taken, "notification_id"
            ),
            self._insert_statement: self._notifying_statement(
                self._insert_returning_sql(), _ALL_IDS
            ),
        }

    def _notifying_statement(self, insert: sql.Composable, answer: str) -> Statement:
        """``insert``, answering ``answer`` of its rows, and notifying subscriptions.

        ``pg_notify`` is in ``FROM`` so that it runs once per statement, not
        once per inserted row; the notification is delivered at commit, and
        only if the transaction commits.
        """
        return Statement.from_sql(
            self._render(
                sql.SQL(
                    "WITH new AS ({}) SELECT (SELECT {} FROM new) FROM pg_notify({}, '')"
                ).format(insert, sql.SQL(answer), sql.Literal(self.notify_channel))
            )
        )

    def construct_create_table_statements(self) -> List[sql.Composed]:
        index = sql.Identifier(f"{self.events_table_name}_notification_id_idx")
        return [
            self._create_events_table("notification_id BIGSERIAL, "),
            sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (notification_id ASC)").format(
                index, self.events_table
            ),
        ]

    def _insert_one_sql(self) -> sql.Composable:
        return sql.SQL("{} RETURNING notification_id").format(super()._insert_one_sql())

    def _insert_events_sql(self) -> sql.Composable:
        return sql.SQL("WITH new AS ({}) SELECT {} FROM new").format(
            self._insert_returning_sql(), sql.SQL(_ALL_IDS)
        )

    def _insert_returning_sql(self) -> sql.Composable:
        return sql.SQL("{} RETURNING notification_id").format(super()._insert_events_sql())

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        save = self._save_of(stored_events, kwargs)
        if save is None:
            return []
        return self._committer.record(save) or []

    def _construct_committer(self) -> Committer:
        # Large saves by COPY: see eventsourcing.postgres.bulk.
        if not self.datastore.group_commit:
            return CopyingCommitter(self.datastore, self)
        return CopyingGroupCommitter(self.datastore, self)

    def copy_plan(self) -> CopyPlan:
        """How eventsourcing.postgres.bulk copies a large save into this table."""
        table = self.events_table
        return CopyPlan(
            lock=self._lock_statement,
            highest=Statement.from_sql(
                self._render(
                    sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(table)
                )
            ),
            copy=sql.SQL(
                "COPY {} (originator_id, originator_version, topic, state) "
                "FROM STDIN (FORMAT BINARY)"
            ).format(table),
            ids_above=Statement.from_sql(
                self._render(
                    sql.SQL(
                        "SELECT array_agg(notification_id ORDER BY notification_id) "
                        "FROM {} WHERE notification_id > $1::bigint"
                    ).format(table)
                )
            ),
            notify=self._notify_statement if self.subscription_notify else None,
            version_type=self._integer_column(self.events_table_name, "originator_version")[0],
            check=self._check_stored_events,
        )

    @property
    def returns_ids(self) -> bool:
        return True

    def steps(self, saves: Sequence[Save]) -> Iterator[Tuple[Optional[int], Step]]:
        yield None, _BEGIN_STEP
        if any(save.stored_events for save in saves):
            yield None, self._lock_step
        for i, save in enumerate(saves):
            if len(save.stored_events) == 1 and not save.trackings:
                # A conflict fails this save alone, not the transaction: it
                # returns no notification ID (see commit.GroupCommitter).
                # Not so for more events, or with tracking, as all or nothing
                # of a save must be recorded.
                (step,) = self._insert_steps(save.stored_events)
                yield i, self._notifies(Step(self._insert_one_unless_taken_statement, step.params))
                continue
            for step in self._tracking_steps(save.trackings):
                yield i, step
            for step in self._insert_steps(save.stored_events) if save.stored_events else ():
                yield i, self._notifies(step)
        yield None, _COMMIT_STEP

    def _notifies(self, step: Step) -> Step:
        """``step``, notifying subscriptions too if POSTGRES_SUBSCRIPTION_NOTIFY is on."""
        if not self.subscription_notify:
            return step
        return Step(self._notifying[step.statement], step.params)

    def _tracking_steps(self, trackings: Sequence[Tracking]) -> List[Step]:
        return []

    def _notification_id_column(self) -> sql.Composable:
        return sql.SQL(", e.notification_id")

    def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        query, params, upper = self._select_notifications_statement(start, limit, stop, topics)

        def select(conn: Connection) -> List[Notification]:
            return _notifications(conn.execute(query, params, binary=True).fetchall())

        return up_to(self._read(select), upper)

    def _select_notifications_statement(
        self, start: int, limit: int, stop: Optional[int], topics: Sequence[str]
    ) -> Tuple[bytes, List[Any], Optional[int]]:
        """The checked query and parameters of a ``select_notifications`` call.

        Also the highest notification ID to keep of what the query returns
        (see :func:`up_to`), or None.
        """
        check_int("start", start)
        check_int("limit", limit, minimum=0)
        check_optional_int("stop", stop)
        if isinstance(topics, str) or not all(isinstance(t, str) for t in topics):
            raise InterfaceError(f"topics must be a sequence of str, got {topics!r}")
        # Without topics, ``stop`` is applied here rather than in SQL: IDs are
        # unique integers, so at most stop - start + 1 rows can be in range,
        # and a lower bound alone keeps the plan an ordered index scan. With
        # both bounds, a table not yet analyzed (a new or just filled one) is
        # planned as a bitmap scan and sort of everything after ``start``.
        upper = stop
        if stop is not None and not topics:
            limit = max(0, min(limit, stop - start + 1))
            stop = None
        key = (stop is not None, bool(topics))
        query = self._notifications_cache.get(key)
        if query is None:
            query = self._select_notifications_query(*key)
        params: List[Any] = [start]
        if stop is not None:
            params.append(stop)
        if topics:
            params.append(list(topics))
        params.append(limit)
        return query, params, upper

    def _select_notifications_query(self, stop: bool, topics: bool) -> bytes:
        text = (
            "SELECT originator_id, originator_version, topic, state, notification_id "
            "FROM {} WHERE notification_id >= %s"
        )
        if stop:
            text += " AND notification_id <= %s"
        if topics:
            # As a CASE, whose selectivity the planner takes as one half rather
            # than estimate it (without statistics, 0.5% per topic): otherwise
            # a table not yet analyzed is read by a bitmap scan and sort of
            # everything after ``start`` (measured: 36 ms instead of 0.14 ms for
            # a page of 500 at the start of 100,000 rows).
            text += " AND CASE WHEN topic = ANY(%s::text[]) THEN true ELSE false END"
        text += " ORDER BY notification_id LIMIT %s"
        query = self._render(sql.SQL(text).format(self.events_table)).encode()
        with self._select_events_lock:
            self._notifications_cache[(stop, topics)] = query
        return query

    def subscribe(
        self, gt: Optional[int] = None, topics: Sequence[str] = ()
    ) -> PostgresSubscription:
        return PostgresSubscription(self, gt=gt, topics=topics)

    def max_notification_id(self) -> int:
        def select(conn: Connection) -> int:
            row = conn.execute(self._max_notification_id_query).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return self._read(select)


class PostgresProcessRecorder(
    PostgresTrackingCopying, PostgresApplicationRecorder, ProcessRecorder
):
    """Also records, in the same transaction as the events, what was processed."""

    max_trackings_per_insert = None

    def lease(self, follower_name: str, leader_name: str) -> Lease:
        datastore = self.datastore
        return AdvisoryLockLease(
            follower_name, leader_name, datastore.schema, datastore.connect_kwargs
        )

    def __init__(
        self,
        datastore: PostgresDatastore,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        self.tracking_table_name = validate_table_name(tracking_table_name)
        self.tracking_table = datastore.table(self.tracking_table_name)
        super().__init__(datastore, events_table_name)
        self._insert_tracking_statement = Statement.from_sql(
            self._render(
                sql.SQL(
                    "INSERT INTO {} (application_name, notification_id) "
                    "VALUES ($1::text, $2::bigint)"
                ).format(self.tracking_table)
            )
        )
        # A page's tracking records in one statement: the server plans and
        # checks one INSERT per page, not one per notification.
        self._insert_trackings_statement = Statement.from_sql(
            self._render(
                sql.SQL(
                    "INSERT INTO {} (application_name, notification_id) "
                    "SELECT * FROM unnest($1::text[], $2::bigint[])"
                ).format(self.tracking_table)
            )
        )
        self._max_tracking_query = self._render(
            sql.SQL("SELECT max(notification_id) FROM {} WHERE application_name = %s").format(
                self.tracking_table
            )
        ).encode()
        self._has_tracking_query = self._render(
            sql.SQL(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE application_name = %s "
                "AND notification_id = %s)"
            ).format(self.tracking_table)
        ).encode()

    def construct_create_table_statements(self) -> List[sql.Composed]:
        return [
            *super().construct_create_table_statements(),
            tracking_table_statement(self.tracking_table),
        ]

    def _save_of(
        self, stored_events: Sequence[StoredEvent], kwargs: Dict[str, Any]
    ) -> Optional[Save]:
        stored_events = self._prepare(stored_events)
        trackings = tracking_records(kwargs)
        for tracking in trackings:
            _check_utf8("tracking.application_name", tracking.application_name)
            type_name, low, high = self._integer_column(self.tracking_table_name, "notification_id")
            if not low <= tracking.notification_id <= high:
                raise DataError(
                    f"Tracking notification_id {tracking.notification_id!r} is not an "
                    f"integer in the range of the PostgreSQL {type_name} column"
                    + (
                        f" of {self.tracking_table_name} (a table made by eventsourcing "
                        "9.1.3: ALTER its notification_id column TYPE bigint to hold "
                        "larger IDs)"
                        if type_name == "integer"
                        else ""
                    )
                )
        if not trackings and not stored_events:
            return None
        return Save(stored_events, trackings)

    def _tracking_steps(self, trackings: Sequence[Tracking]) -> List[Step]:
        if len(trackings) == 1:
            (t,) = trackings
            params = [t.application_name.encode("utf8"), encode_int8(t.notification_id)]
            return [Step(self._insert_tracking_statement, params)]
        if not trackings:
            return []
        params = [
            array_of_text([t.application_name for t in trackings]),
            array_of_int8([t.notification_id for t in trackings]),
        ]
        return [Step(self._insert_trackings_statement, params)]

    def _has_tracking(self, conn: Connection, trackings: Sequence[Tracking]) -> bool:
        """Whether any of ``trackings`` is recorded (they are recorded together)."""
        for t in trackings:
            row = conn.execute(
                self._has_tracking_query, (t.application_name, t.notification_id)
            ).fetchone()
            if row and row[0]:
                return True
        return False

    def max_tracking_id(self, application_name: str) -> int:
        check_str("application_name", application_name)

        def select(conn: Connection) -> int:
            row = conn.execute(self._max_tracking_query, (application_name,)).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return self._read(select)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        check_str("application_name", application_name)
        check_int("notification_id", notification_id)

        def select(conn: Connection) -> bool:
            row = conn.execute(
                self._has_tracking_query, (application_name, notification_id)
            ).fetchone()
            return bool(row and row[0])

        return self._read(select)


def _stored_events(originator_id: UUID, rows: List[Tuple[Any, ...]]) -> List[StoredEvent]:
    """The stored events of one aggregate, all with the same ``originator_id``
    object (which also lets mutate() compare IDs by identity)."""
    return [make_stored_event(originator_id, v, t, s) for v, t, s in rows]


def up_to(notifications: List[Notification], upper: Optional[int]) -> List[Notification]:
    """``notifications`` without those after ``upper`` (None: all of them)."""
    if upper is not None and notifications and notifications[-1].id > upper:
        return [n for n in notifications if n.id <= upper]
    return notifications


def _notifications(rows: List[Tuple[Any, ...]]) -> List[Notification]:
    return [make_notification(*row) for row in rows]


def _check_utf8(name: str, value: str) -> None:
    """Refuse text with no UTF-8 form (lone surrogates) before it joins a group.

    Encoding happens while a group's transaction is being sent, where the
    error would fail every save of the group.
    """
    try:
        value.encode("utf8")
    except UnicodeEncodeError as e:
        raise DataError(f"{name} {value!r} cannot be encoded as UTF-8: {e}") from None
