"""Recorders storing events in PostgreSQL tables of the eventsourcing 9.1 format."""

from __future__ import annotations

import copy
import os
import threading
import weakref
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
    cast,
    overload,
)
from uuid import UUID

import psycopg
from psycopg import sql

from eventsourcing.checks import (
    check_int,
    check_optional_int,
    check_stored_event,
    check_str,
    check_tracking,
)
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DataError,
    IntegrityError,
    InterfaceError,
    Mapper,
    Notification,
    OperationalError,
    PersistenceError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres.copying import (
    PostgresEventScanning,
    PostgresNotificationInserting,
    PostgresTrackingCopying,
)
from eventsourcing.postgres.datastore import Connection, PostgresDatastore, is_lost
from eventsourcing.postgres.identifiers import validate_table_name
from eventsourcing.postgres.wire import (
    INT8_OID,
    Statement,
    Step,
    array_of_bytes,
    array_of_int4,
    array_of_text,
    array_of_uuid,
    decode_int8_array,
    encode_int4,
    failed_step,
    run_pipeline,
)

__all__ = [
    "PostgresAggregateRecorder",
    "PostgresApplicationRecorder",
    "PostgresProcessRecorder",
]

_INT4_MIN = -(2**31)
_INT4_MAX = 2**31 - 1
# Key of the advisory lock that serialises table creation across processes.
_DDL_LOCK_KEY = 0x6576656E74  # "event"
# How many times a write whose connection broke is re-sent, after checking
# that it was not recorded.
_WRITE_ATTEMPTS = 3

# Most saves sent together in one transaction (group commit).
_MAX_GROUP = 100
# Events per INSERT statement of a large batch (see _steps).
_CHUNK = 500

_BEGIN = Statement.from_sql("BEGIN")
_COMMIT = Statement.from_sql("COMMIT")


class Save:
    """One call of ``insert_events``: recorded all or nothing, maybe with others."""

    __slots__ = ("outcome", "stored_events", "tracking")

    def __init__(self, stored_events: Sequence[StoredEvent], tracking: Optional[Tracking]) -> None:
        self.stored_events = stored_events
        self.tracking = tracking
        # The notification IDs, or the exception to raise, once recorded (or not).
        self.outcome: Union[List[int], BaseException, None] = None


class PostgresAggregateRecorder(PostgresEventScanning, AggregateRecorder):
    """Stores the events of aggregates in one table (events or snapshots)."""

    def __init__(
        self, datastore: PostgresDatastore, events_table_name: str = "stored_events"
    ) -> None:
        self.datastore = datastore
        self.events_table_name = validate_table_name(events_table_name)
        self.events_table = datastore.table(self.events_table_name)
        self._select_events_cache: Dict[Tuple[bool, bool, bool, bool], bytes] = {}
        self._select_events_lock = threading.Lock()
        self._insert_statement = Statement.from_sql(self._render(self._insert_events_sql()))
        # One event (the usual save of one new or changed aggregate): plain VALUES,
        # which the server runs faster than unnesting arrays.
        self._insert_one_statement = Statement.from_sql(self._render(self._insert_one_sql()))
        self.create_table_statements = self.construct_create_table_statements()

    # -- schema -------------------------------------------------------------

    @staticmethod
    def _render(query: sql.Composable) -> str:
        return query.as_string(None)

    def construct_create_table_statements(self) -> List[sql.Composed]:
        return [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "originator_id uuid NOT NULL, "
                "originator_version integer NOT NULL, "
                "topic text, "
                "state bytea, "
                "PRIMARY KEY (originator_id, originator_version))"
            ).format(self.events_table)
        ]

    def create_table(self) -> None:
        """Create the schema (if missing) and tables (if missing), in one transaction."""
        schema = self.datastore.schema

        def create(conn: Connection) -> None:
            with conn.transaction():
                # Concurrent "IF NOT EXISTS" can still collide in the catalogue.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_KEY,))
                exists = conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
                ).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                for statement in self.create_table_statements:
                    conn.execute(statement)

        self.datastore.read(create)

    # -- writing ------------------------------------------------------------

    def _insert_one_sql(self) -> sql.Composable:
        return sql.SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "VALUES ($1::uuid, $2::integer, $3::text, $4::bytea)"
        ).format(self.events_table)

    def _insert_events_sql(self) -> sql.Composable:
        return sql.SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::bytea[])"
        ).format(self.events_table)

    def insert_events(
        self, stored_events: List[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        self._check_stored_events(stored_events)
        if not stored_events:
            return None
        self._write([Save(stored_events, None)])
        return None

    def _check_stored_events(self, stored_events: List[StoredEvent]) -> None:
        if not isinstance(stored_events, (list, tuple)):
            raise InterfaceError(
                f"Expected a list of StoredEvent, got {type(stored_events).__name__}"
            )
        for s in stored_events:
            # Exact types first: checking thousands of events must cost little.
            try:
                usual = (
                    type(s.originator_id) is UUID
                    and type(s.originator_version) is int
                    and type(s.topic) is str
                    and s.topic.isascii()
                    and type(s.state) is bytes
                    and _INT4_MIN <= s.originator_version <= _INT4_MAX
                    and isinstance(s, StoredEvent)
                )
            except AttributeError:
                usual = False
            if not usual:
                self._check_stored_event(s)

    @staticmethod
    def _check_stored_event(s: StoredEvent) -> None:
        check_stored_event(s)
        version = s.originator_version
        if not _INT4_MIN <= version <= _INT4_MAX:
            raise DataError(
                f"originator_version {version} of {s.originator_id} is out of the "
                "range of the PostgreSQL integer column"
            )
        _check_utf8(f"topic of {s.originator_id} version {version}", s.topic)

    def _events_params(self, stored_events: Sequence[StoredEvent]) -> List[bytes]:
        return [
            array_of_uuid([s.originator_id for s in stored_events]),
            array_of_int4([s.originator_version for s in stored_events]),
            array_of_text([s.topic for s in stored_events]),
            array_of_bytes([s.state for s in stored_events]),
        ]

    def _steps(self, saves: List[Save], owners: List[Optional[int]]) -> Iterator[Step]:
        """The statements of one transaction; ``owners`` gets the save of each.

        Generated as they are sent, so that the server starts on the first
        rows of a large batch while the next are being encoded.
        """
        (save,) = saves
        chunked = len(save.stored_events) > _CHUNK
        if chunked:
            owners.append(None)
            yield Step(_BEGIN)
        for step in self._insert_steps(save.stored_events):
            owners.append(0)
            yield step
        if chunked:
            owners.append(None)
            yield Step(_COMMIT)

    def _insert_steps(self, stored_events: Sequence[StoredEvent]) -> Iterator[Step]:
        if len(stored_events) == 1:
            s = stored_events[0]
            params = [
                s.originator_id.bytes,
                encode_int4(s.originator_version),
                s.topic.encode("utf8"),
                s.state,
            ]
            yield Step(self._insert_one_statement, params)
            return
        for i in range(0, len(stored_events), _CHUNK):
            chunk = stored_events[i : i + _CHUNK]
            yield Step(self._insert_statement, self._events_params(chunk))

    def _send(self, conn: Connection, saves: List[Save]) -> List[Optional[List[int]]]:
        """One transaction, in one round trip; the notification IDs of each save."""
        owners: List[Optional[int]] = []
        try:
            results = run_pipeline(conn, self._steps(saves, owners))
        except psycopg.Error as e:
            step = failed_step(e)
            e.failed_save = None if step is None else owners[step]  # type: ignore[attr-defined]
            raise
        return self._notification_ids(results, owners, len(saves))

    def _notification_ids(
        self, results: List[Any], owners: List[Optional[int]], count: int
    ) -> List[Optional[List[int]]]:
        return [None] * count

    def _write(self, saves: List[Save]) -> List[Optional[List[int]]]:
        """Send one transaction; if the connection broke, find out what happened.

        After a broken connection the commit may or may not have happened.
        The old server process is made to end, then the rows are looked for:
        found means recorded (the IDs are returned), absent means not
        recorded, and only then is the transaction sent again.
        """
        attempt = 0
        while True:
            attempt += 1
            pid: Optional[int] = None
            conn: Optional[Connection] = None
            try:
                with self.datastore.connection() as conn:
                    pid = conn.info.backend_pid
                    try:
                        return self._send(conn, saves)
                    except psycopg.Error:
                        raise
                    except BaseException:
                        # Protocol state unknown: never reuse this connection.
                        conn.close()
                        raise
            except OperationalError as e:
                if conn is None or not is_lost(conn):
                    raise
                outcome = self._resolve_unknown_outcome(pid, saves, e)
                if outcome is not None:
                    return outcome
                if attempt >= _WRITE_ATTEMPTS:
                    count = sum(len(save.stored_events) for save in saves)
                    raise OperationalError(
                        f"Not recorded: the connection to PostgreSQL was lost {attempt} "
                        f"times while recording {count} event(s): {e}"
                    ) from e

    def _resolve_unknown_outcome(
        self, pid: Optional[int], saves: List[Save], error: Exception
    ) -> Optional[List[Optional[List[int]]]]:
        """The IDs of each save if the transaction was committed, None if it was not."""
        stored_events = [s for save in saves for s in save.stored_events]
        trackings = [save.tracking for save in saves if save.tracking is not None]

        def inspect(
            conn: Connection,
        ) -> Tuple[Set[Tuple[UUID, int]], Dict[Tuple[UUID, int], Optional[int]], List[int]]:
            if pid is not None:
                # Until the old session is gone it might still commit.
                conn.execute(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE pid = %s",
                    (pid,),
                )
            existing, matching = self._find_recorded(conn, stored_events)
            tracked_saves = [
                i for i, save in enumerate(saves) if self._has_tracking(conn, save.tracking)
            ]
            return existing, matching, tracked_saves

        try:
            existing, matching, tracked_saves = self.datastore.read(inspect)
        except PersistenceError as e:
            raise OperationalError(
                f"The connection to PostgreSQL was lost while recording "
                f"{len(stored_events)} event(s) and whether they were recorded could "
                f"not be checked: {e}"
            ) from error
        found, tracked = len(existing), len(tracked_saves)
        if found == 0 and tracked == 0:
            return None
        if len(matching) == len(stored_events) and tracked == len(trackings):
            return [
                [
                    cast(int, matching[(s.originator_id, s.originator_version)])
                    for s in save.stored_events
                ]
                if self._returns_ids()
                else None
                for save in saves
            ]
        # Not committed. A save whose rows exist conflicts: it is refused, and
        # (in a group) the others are sent again without it, see _record_group.
        error.failed_save = next(  # type: ignore[attr-defined]
            i
            for i, save in enumerate(saves)
            if i in tracked_saves
            or any((s.originator_id, s.originator_version) in existing for s in save.stored_events)
        )
        raise IntegrityError(
            f"The connection to PostgreSQL was lost while recording {len(stored_events)} "
            f"event(s) and {len(trackings)} tracking record(s); afterwards {found} of the "
            f"events existed ({len(matching)} as sent) and {tracked} of the tracking "
            "records: they conflict with what another writer recorded"
        ) from error

    def _find_recorded(
        self, conn: Connection, stored_events: List[StoredEvent]
    ) -> Tuple[Set[Tuple[UUID, int]], Dict[Tuple[UUID, int], Optional[int]]]:
        """Which of the events exist, and the IDs of those that match."""
        rows = conn.execute(
            sql.SQL(
                "SELECT e.originator_id, e.originator_version, e.topic, e.state{} "
                "FROM {} e JOIN unnest(%s::uuid[], %s::integer[]) AS k(id, v) "
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
        return {(row[0], row[1]) for row in rows}, matching

    def _notification_id_column(self) -> sql.Composable:
        return sql.SQL("")

    def _returns_ids(self) -> bool:
        return False

    def _has_tracking(self, conn: Connection, tracking: Optional[Tracking]) -> bool:
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

        def select(conn: Connection) -> List[StoredEvent]:
            return _stored_events(conn.execute(query, params, binary=True).fetchall())

        return self.datastore.read(select)

    def _select_events_query(self, gt: bool, lte: bool, desc: bool, limit: bool) -> bytes:
        text = "SELECT originator_id, originator_version, topic, state FROM {} "
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
        """Close the datastore's connections (shared with this factory's other recorders)."""
        self.datastore.close()


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
        self._group_condition = threading.Condition()
        self._group_queue: List[Save] = []
        self._group_leader = False
        _group_committers.add(self)
        self._lock_statement = Statement.from_sql(
            self._render(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.events_table))
        )
        self._notifications_cache: Dict[Tuple[bool, bool], bytes] = {}
        self._max_notification_id_query = self._render(
            sql.SQL("SELECT max(notification_id) FROM {}").format(self.events_table)
        ).encode()

    def construct_create_table_statements(self) -> List[sql.Composed]:
        index = sql.Identifier(f"{self.events_table_name}_notification_id_idx")
        return [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "originator_id uuid NOT NULL, "
                "originator_version integer NOT NULL, "
                "topic text, "
                "state bytea, "
                "notification_id BIGSERIAL, "
                "PRIMARY KEY (originator_id, originator_version))"
            ).format(self.events_table),
            sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (notification_id ASC)").format(
                index, self.events_table
            ),
        ]

    def _insert_one_sql(self) -> sql.Composable:
        return sql.SQL("{} RETURNING notification_id").format(super()._insert_one_sql())

    def _insert_events_sql(self) -> sql.Composable:
        return sql.SQL(
            "WITH new AS ({} RETURNING notification_id) "
            "SELECT array_agg(notification_id ORDER BY notification_id) FROM new"
        ).format(super()._insert_events_sql())

    def insert_events(
        self, stored_events: List[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        self._check_stored_events(stored_events)
        if not stored_events:
            return []
        return self._save(Save(stored_events, None))

    def insert_domain_events(
        self, mapper: Mapper[Any], domain_events: Sequence[Any], **kwargs: Any
    ) -> Tuple[List[StoredEvent], Optional[Sequence[int]]]:
        """Map a large batch a chunk at a time, while the server inserts the last.

        The batch goes in a transaction of its own (not grouped with other
        saves), so that an error while mapping a later chunk aborts only this
        transaction: the connection is closed before COMMIT is sent, and
        nothing of the batch is recorded.
        """
        if len(domain_events) <= _CHUNK or kwargs:
            return super().insert_domain_events(mapper, domain_events, **kwargs)
        stored_events = _MappedEvents(mapper, domain_events, self._check_stored_events)
        (ids,) = self._write([Save(stored_events, None)])
        return stored_events.all(), ids or []

    # Group commit: saves that arrive while a transaction is in flight wait,
    # then go together in the next one (one commit, and one wait for the disk,
    # for all of them). The first of them to find no transaction in flight
    # sends it. A save that fails fails alone: the others are sent again
    # without it.

    def _save(self, save: Save) -> List[int]:
        with self._group_condition:
            self._group_queue.append(save)
        while True:
            with self._group_condition:
                while save.outcome is None and self._group_leader:
                    self._group_condition.wait()
                if save.outcome is not None:
                    break
                self._group_leader = True
                group = self._group_queue[:_MAX_GROUP]
                del self._group_queue[:_MAX_GROUP]
            try:
                self._record_group(group)
            finally:
                with self._group_condition:
                    self._group_leader = False
                    self._group_condition.notify_all()
        if isinstance(save.outcome, BaseException):
            raise save.outcome
        return save.outcome

    def _record_group(self, group: List[Save]) -> None:
        remaining = list(group)
        try:
            while remaining:
                try:
                    ids = self._write(remaining)
                except PersistenceError as e:
                    failed = getattr(e.__cause__, "failed_save", None)
                    if failed is None or len(remaining) == 1:
                        for save in remaining:
                            save.outcome = _own_copy(e)
                        return
                    remaining.pop(failed).outcome = e
                    continue
                for save, save_ids in zip(remaining, ids, strict=True):
                    save.outcome = save_ids or []
                return
        except BaseException as e:
            for save in remaining:
                if save.outcome is None:
                    save.outcome = e
            raise

    def _steps(self, saves: List[Save], owners: List[Optional[int]]) -> Iterator[Step]:
        owners.append(None)
        yield Step(_BEGIN)
        if any(save.stored_events for save in saves):
            owners.append(None)
            yield Step(self._lock_statement)
        for i, save in enumerate(saves):
            for step in self._tracking_steps(save.tracking):
                owners.append(i)
                yield step
            for step in self._insert_steps(save.stored_events) if save.stored_events else ():
                owners.append(i)
                yield step
        owners.append(None)
        yield Step(_COMMIT)

    def _tracking_steps(self, tracking: Optional[Tracking]) -> List[Step]:
        return []

    def _notification_ids(
        self, results: List[Any], owners: List[Optional[int]], count: int
    ) -> List[Optional[List[int]]]:
        ids: List[Optional[List[int]]] = [[] for _ in range(count)]
        for result, owner in zip(results, owners, strict=True):
            if owner is None or result.ntuples != 1 or result.nfields != 1:
                continue
            value = result.get_value(0, 0)
            save_ids = ids[owner]
            assert save_ids is not None
            if result.ftype(0) == INT8_OID:
                if value:
                    save_ids.append(int.from_bytes(value, "big", signed=True))
            else:
                save_ids.extend(decode_int8_array(value))
        return ids

    def _notification_id_column(self) -> sql.Composable:
        return sql.SQL(", e.notification_id")

    def _returns_ids(self) -> bool:
        return True

    def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        check_int("start", start)
        check_int("limit", limit, minimum=0)
        check_optional_int("stop", stop)
        if isinstance(topics, str) or not all(isinstance(t, str) for t in topics):
            raise InterfaceError(f"topics must be a sequence of str, got {topics!r}")
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

        def select(conn: Connection) -> List[Notification]:
            return _notifications(conn.execute(query, params, binary=True).fetchall())

        return self.datastore.read(select)

    def _select_notifications_query(self, stop: bool, topics: bool) -> bytes:
        text = (
            "SELECT originator_id, originator_version, topic, state, notification_id "
            "FROM {} WHERE notification_id >= %s"
        )
        if stop:
            text += " AND notification_id <= %s"
        if topics:
            text += " AND topic = ANY(%s::text[])"
        text += " ORDER BY notification_id LIMIT %s"
        query = self._render(sql.SQL(text).format(self.events_table)).encode()
        with self._select_events_lock:
            self._notifications_cache[(stop, topics)] = query
        return query

    def max_notification_id(self) -> int:
        def select(conn: Connection) -> int:
            row = conn.execute(self._max_notification_id_query).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return self.datastore.read(select)


class PostgresProcessRecorder(
    PostgresTrackingCopying, PostgresApplicationRecorder, ProcessRecorder
):
    """Also records, in the same transaction as the events, what was processed."""

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
                    "VALUES ($1::text, $2::integer)"
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
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "application_name text, "
                "notification_id int, "
                "PRIMARY KEY (application_name, notification_id))"
            ).format(self.tracking_table),
        ]

    def insert_events(
        self, stored_events: List[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        self._check_stored_events(stored_events)
        tracking = kwargs.get("tracking")
        if tracking is not None:
            check_tracking(tracking)
            _check_utf8("tracking.application_name", tracking.application_name)
            if not _INT4_MIN <= tracking.notification_id <= _INT4_MAX:
                raise DataError(
                    f"Tracking notification_id {tracking.notification_id!r} is not an "
                    "integer in the range of the PostgreSQL integer column"
                )
        elif not stored_events:
            return []
        return self._save(Save(stored_events, tracking))

    def _tracking_steps(self, tracking: Optional[Tracking]) -> List[Step]:
        if tracking is None:
            return []
        params = [
            tracking.application_name.encode("utf8"),
            encode_int4(tracking.notification_id),
        ]
        return [Step(self._insert_tracking_statement, params)]

    def _has_tracking(self, conn: Connection, tracking: Optional[Tracking]) -> bool:
        if tracking is None:
            return False
        row = conn.execute(
            self._has_tracking_query, (tracking.application_name, tracking.notification_id)
        ).fetchone()
        return bool(row and row[0])

    def max_tracking_id(self, application_name: str) -> int:
        check_str("application_name", application_name)

        def select(conn: Connection) -> int:
            row = conn.execute(self._max_tracking_query, (application_name,)).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return self.datastore.read(select)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        check_str("application_name", application_name)
        check_int("notification_id", notification_id)

        def select(conn: Connection) -> bool:
            row = conn.execute(
                self._has_tracking_query, (application_name, notification_id)
            ).fetchone()
            return bool(row and row[0])

        return self.datastore.read(select)


# Recorders whose group commit state a forked child must not inherit.
_group_committers: weakref.WeakSet[PostgresApplicationRecorder] = weakref.WeakSet()


def _forget_parent_saves() -> None:
    """In a forked child: the parent's saves in flight, and their leader, are not here.

    Left as inherited, the child would wait for ever for a leader that does
    not exist in it, or send the parent's queued saves a second time.
    """
    for recorder in list(_group_committers):
        recorder._group_condition = threading.Condition()
        recorder._group_queue = []
        recorder._group_leader = False


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_forget_parent_saves)


class _MappedEvents(Sequence[StoredEvent]):
    """Domain events mapped to stored events a chunk at a time, on first use.

    Slicing maps (and checks) up to the end of the slice, so the steps of a
    pipelined transaction map each chunk just before sending it. Mapped
    events are kept, so the transaction can be sent again (and its outcome
    checked) after a lost connection.
    """

    def __init__(
        self,
        mapper: Mapper[Any],
        domain_events: Sequence[Any],
        check: Callable[[List[StoredEvent]], None],
    ) -> None:
        self._mapper = mapper
        self._domain_events = domain_events
        self._check = check
        self._mapped: List[StoredEvent] = []

    def _map_to(self, stop: int) -> None:
        mapped = self._mapped
        while len(mapped) < stop:
            start = len(mapped)
            end = min(max(stop, start + _CHUNK), len(self._domain_events))
            from_domain_event = self._mapper.from_domain_event
            chunk = [from_domain_event(e) for e in self._domain_events[start:end]]
            self._check(chunk)
            mapped.extend(chunk)

    def all(self) -> List[StoredEvent]:
        self._map_to(len(self._domain_events))
        return self._mapped

    def __len__(self) -> int:
        return len(self._domain_events)

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> List[StoredEvent]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[StoredEvent, List[StoredEvent]]:
        if isinstance(index, slice):
            self._map_to(index.indices(len(self))[1])
        else:
            self._map_to(len(self) if index < 0 else index + 1)
        return self._mapped[index]

    def __iter__(self) -> Iterator[StoredEvent]:
        return iter(self.all())


def _stored_events(rows: List[Tuple[Any, ...]]) -> List[StoredEvent]:
    return [StoredEvent(*row) for row in rows]


def _notifications(rows: List[Tuple[Any, ...]]) -> List[Notification]:
    return [Notification(*row) for row in rows]


def _check_utf8(name: str, value: str) -> None:
    """Refuse text with no UTF-8 form (lone surrogates) before it joins a group.

    Encoding happens while a group's transaction is being sent, where the
    error would fail every save of the group.
    """
    try:
        value.encode("utf8")
    except UnicodeEncodeError as e:
        raise DataError(f"{name} {value!r} cannot be encoded as UTF-8: {e}") from None


def _own_copy(error: PersistenceError) -> PersistenceError:
    """A copy of ``error`` for one of several saves (each raises its own)."""
    duplicate = copy.copy(error)
    duplicate.__cause__ = error.__cause__
    return duplicate
