"""Native async PostgreSQL recorders: psycopg's ``AsyncConnection`` and pool.

Each async recorder is built on the sync recorder of the same table
(:mod:`eventsourcing.postgres.recorders`), which stays the one place for the
SQL, the checks and the table layout: a save is the sync recorder's checked
:class:`~eventsourcing.postgres.commit.Save`, sent as the statements its
``steps()`` yields (``BEGIN``, ``LOCK TABLE ... IN EXCLUSIVE MODE``, the
inserts with their binary parameters, ``NOTIFY``, ``COMMIT``) in one
pipeline on an async connection; reads run the sync recorder's queries.

Group commit: single-event saves without tracking (the usual save of one new
or changed aggregate) that arrive while a transaction is in flight go
together in the next one, as with the sync engine. Such a save cannot fail
the others: a position already taken inserts nothing, which refuses that save
alone. Other saves go in a transaction of their own.

Faults: a connection lost while committing makes the outcome unknown; it is
found out, before anything is sent again, by the sync engine's check (in a
worker thread): the old server session is ended, then the rows are looked
for. A server that does not answer within ``POSTGRES_READ_TIMEOUT`` (plus
``POSTGRES_LOCK_TIMEOUT`` for a save waiting for the table lock; without a
lock timeout that wait is not limited) is treated as a lost connection.

Subscriptions are the sync ones (``LISTEN``) in a thread of their own
(:class:`~eventsourcing.asyncadapter.ThreadedSubscription`).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any, List, Optional, Sequence, Tuple
from uuid import UUID

import psycopg

from eventsourcing.asyncadapter import ThreadedSubscription
from eventsourcing.asyncports import (
    AsyncAggregateRecorder,
    AsyncApplicationRecorder,
    AsyncProcessRecorder,
)
from eventsourcing.checks import check_int, check_str
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres.asyncdatastore import (
    AsyncConnection,
    AsyncPostgresDatastore,
    is_lost,
)
from eventsourcing.postgres.commit import (
    Save,
    _conflict,
    _SaveFailed,
    ids_of,
    pipeline_of,
    save_failed,
)
from eventsourcing.postgres.recorders import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    _notifications,
    _stored_events,
    up_to,
)
from eventsourcing.postgres.wire import StepFailed, run_pipeline_async

__all__ = [
    "AsyncPostgresAggregateRecorder",
    "AsyncPostgresApplicationRecorder",
    "AsyncPostgresProcessRecorder",
]

# Most saves sent together in one transaction (as the sync engine).
_MAX_GROUP = 100
# How many times a write whose connection broke is sent, after checking
# that it was not recorded (as the sync engine).
_WRITE_ATTEMPTS = 3

Ids = Optional[List[int]]


class _AsyncCommitter:
    """Sends saves in pipelined transactions; groups single-event saves."""

    def __init__(
        self,
        datastore: AsyncPostgresDatastore,
        recorder: PostgresAggregateRecorder,
        group_commit: bool,
    ) -> None:
        self.datastore = datastore
        self.recorder = recorder
        self.group_commit = group_commit and recorder.returns_ids
        self._queue: List[Tuple[Save, asyncio.Future[Ids]]] = []
        self._leader: Optional[asyncio.Future[None]] = None

    async def record(self, save: Save) -> Ids:
        if self.group_commit and len(save.stored_events) == 1 and not save.trackings:
            return await self._record_in_group(save)
        try:
            (ids,) = await self._write([save])
        except _SaveFailed as e:
            raise e.error from e.error.__cause__
        return self._outcome(save, ids)

    def _outcome(self, save: Save, ids: Ids) -> Ids:
        if self.recorder.returns_ids and save.stored_events and not ids:
            # Inserted nothing (see the recorder's steps): a conflict.
            raise _conflict(save, "an event at its position exists already")
        return ids

    async def _record_in_group(self, save: Save) -> Ids:
        future: asyncio.Future[Ids] = asyncio.get_running_loop().create_future()
        # The outcome is retrieved here, or dropped if the caller was cancelled.
        future.add_done_callback(_retrieve)
        self._queue.append((save, future))
        if self._leader is None or self._leader.done():
            self._leader = asyncio.ensure_future(self._lead())
        return await asyncio.shield(future)

    async def _lead(self) -> None:
        """Send the queued saves, a group at a time, until none is left."""
        while self._queue:
            group = self._queue[:_MAX_GROUP]
            del self._queue[:_MAX_GROUP]
            saves = [save for save, _ in group]
            try:
                results = await self._write(saves)
            except _SaveFailed as e:
                if e.index is None or len(group) == 1:
                    # Not one save's fault (a lock timeout): each fails.
                    for _, future in group:
                        _settle(future, error=_own_copy(e.error))
                    continue
                # One save conflicts (found after a lost connection): it fails
                # alone, the others are sent again.
                _settle(group[e.index][1], error=e.error)
                self._queue[:0] = group[: e.index] + group[e.index + 1 :]
                continue
            except BaseException as e:
                for _, future in group:
                    _settle(future, error=_own_copy(e))
                if not isinstance(e, Exception):
                    raise
                continue
            for (save, future), ids in zip(group, results, strict=True):
                try:
                    _settle(future, result=self._outcome(save, ids))
                except PersistenceError as error:
                    _settle(future, error=error)

    async def _write(self, saves: List[Save]) -> List[Ids]:
        """Send one transaction; if the connection broke, find out what happened
        (see :meth:`eventsourcing.postgres.commit.Committer._write`)."""
        attempt = 0
        while True:
            attempt += 1
            pid: Optional[int] = None
            conn: Optional[AsyncConnection] = None
            try:
                async with self.datastore.connection() as conn:
                    pid = conn.info.backend_pid
                    try:
                        return await self._send(conn, saves)
                    except psycopg.Error:
                        raise
                    except BaseException:
                        # Protocol state unknown (cancelled, timed out): never reuse it.
                        await conn.close()
                        raise
            except OperationalError as e:
                if conn is None or not is_lost(conn):
                    raise
                outcome = await asyncio.get_running_loop().run_in_executor(
                    None, self._resolve_unknown_outcome, pid, saves, e
                )
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
    ) -> Optional[List[Ids]]:
        """The sync engine's check (in a worker thread), on a connection of the
        sync pool found alive: what silenced this one may have silenced those."""
        self.recorder.datastore.discard_broken_connections()
        return self.recorder._committer._resolve_unknown_outcome(pid, saves, error)

    async def _send(self, conn: AsyncConnection, saves: List[Save]) -> List[Ids]:
        """The recorder's statements for ``saves``, in one round trip (the sync
        engine's pipeline, waiting in the event loop)."""
        steps, owners = pipeline_of(self.recorder, saves)
        try:
            results = await run_pipeline_async(conn, steps)
        except StepFailed as e:
            raise save_failed(e, owners) from None
        return ids_of(self.recorder, saves, results, owners)


def _settle(
    future: asyncio.Future[Ids], result: Ids = None, error: Optional[BaseException] = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _retrieve(future: asyncio.Future[Ids]) -> None:
    if not future.cancelled():
        future.exception()


def _own_copy(error: BaseException) -> BaseException:
    """A copy of ``error`` for one of several saves (each raises its own)."""
    duplicate = copy.copy(error)
    duplicate.__cause__ = error.__cause__
    return duplicate


class AsyncPostgresAggregateRecorder(AsyncAggregateRecorder):
    """Stores the events of aggregates in one table (events or snapshots).

    ``recorder`` is the sync recorder of the table (its SQL, its checks);
    ``datastore`` the async pool.
    """

    def __init__(
        self, recorder: PostgresAggregateRecorder, datastore: AsyncPostgresDatastore
    ) -> None:
        self.recorder = recorder
        self.datastore = datastore
        datastore.acquire()
        self._committer = _AsyncCommitter(datastore, recorder, datastore.datastore.group_commit)
        self._closed = False
        # The integer columns whose ranges the checks use (looked up once, in a thread).
        self._columns = [(recorder.events_table_name, "originator_version")]

    async def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        self._check_open()
        await self._know_columns()
        save = self.recorder._save_of(stored_events, kwargs)
        if save is None:
            return None
        return await self._committer.record(save)

    async def _know_columns(self) -> None:
        """Look up the column types the checks need without blocking the loop."""
        known = self.recorder._integer_columns
        loop = asyncio.get_running_loop()
        for table, column in self._columns:
            if (table, column) not in known:
                await loop.run_in_executor(None, self.recorder._integer_column, table, column)

    async def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        self._check_open()
        query, params = self.recorder._select_events_statement(originator_id, gt, lte, desc, limit)

        async def select(conn: AsyncConnection) -> List[StoredEvent]:
            cursor = await conn.execute(query, params, binary=True)
            return _stored_events(originator_id, await cursor.fetchall())

        return await self.datastore.read(select)

    async def close(self) -> None:
        """Stop this recorder; the last one closes the async pool."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.datastore.release()
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self.recorder.close)

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError(
                f"{type(self).__name__} for {self.recorder.events_table_name!r} is closed"
            )


class AsyncPostgresApplicationRecorder(AsyncPostgresAggregateRecorder, AsyncApplicationRecorder):
    """Also gives each event a notification ID, in commit order (the table lock)."""

    recorder: PostgresApplicationRecorder

    def __init__(
        self, recorder: PostgresApplicationRecorder, datastore: AsyncPostgresDatastore
    ) -> None:
        super().__init__(recorder, datastore)

    async def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        return await super().insert_events(stored_events, **kwargs) or []

    async def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        self._check_open()
        query, params, upper = self.recorder._select_notifications_statement(
            start, limit, stop, topics
        )

        async def select(conn: AsyncConnection) -> List[Notification]:
            cursor = await conn.execute(query, params, binary=True)
            return _notifications(await cursor.fetchall())

        return up_to(await self.datastore.read(select), upper)

    async def max_notification_id(self) -> int:
        self._check_open()
        return await self._select_int(self.recorder._max_notification_id_query, ())

    async def _select_int(self, query: bytes, params: Sequence[Any]) -> int:
        async def select(conn: AsyncConnection) -> int:
            cursor = await conn.execute(query, params)
            row = await cursor.fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return await self.datastore.read(select)

    def subscribe(
        self, gt: Optional[int] = None, topics: Sequence[str] = ()
    ) -> ThreadedSubscription:
        """The sync subscription (``LISTEN``/``NOTIFY``), in a thread of its own."""
        self._check_open()
        return ThreadedSubscription(self.recorder.subscribe(gt=gt, topics=topics))


class AsyncPostgresProcessRecorder(AsyncPostgresApplicationRecorder, AsyncProcessRecorder):
    """Also records, in the same transaction as the events, what was processed."""

    recorder: PostgresProcessRecorder
    max_trackings_per_insert = None

    def __init__(
        self, recorder: PostgresProcessRecorder, datastore: AsyncPostgresDatastore
    ) -> None:
        super().__init__(recorder, datastore)
        self._columns.append((recorder.tracking_table_name, "notification_id"))

    async def max_tracking_id(self, application_name: str) -> int:
        self._check_open()
        check_str("application_name", application_name)
        return await self._select_int(self.recorder._max_tracking_query, (application_name,))

    async def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        self._check_open()
        check_str("application_name", application_name)
        check_int("notification_id", notification_id)
        query = self.recorder._has_tracking_query

        async def select(conn: AsyncConnection) -> bool:
            cursor = await conn.execute(query, (application_name, notification_id))
            row = await cursor.fetchone()
            return bool(row and row[0])

        return await self.datastore.read(select)
