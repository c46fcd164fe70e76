"""PostgreSQL subscriptions: woken by LISTEN/NOTIFY, correct by reading the table.

Each insert transaction sends ``NOTIFY`` on a channel named after the events
table; PostgreSQL delivers it when, and only if, the transaction commits. A
subscription ``LISTEN``s on a connection of its own (not a pooled one: it
sits idle for as long as nothing is written, and no statement timeout
applies to it), opened once it has caught up, and after each wake-up it
reads the table after the last position it read. The notification carries
no data, so one lost with a dropped connection or a restarted server only
delays: the subscription also reads every
``POSTGRES_SUBSCRIPTION_POLL_INTERVAL`` seconds, and after a lost
connection listens again and reads before it waits.
"""

from __future__ import annotations

import hashlib
import os
import select
import threading
from typing import TYPE_CHECKING, Any, Optional, Sequence

import psycopg
from psycopg import sql

from eventsourcing.subscription import Subscription

if TYPE_CHECKING:
    from eventsourcing.postgres.recorders import PostgresApplicationRecorder

__all__ = ["PostgresSubscription", "notify_channel"]


def notify_channel(schema: str, table: str) -> str:
    """The channel of an events table: readable, and distinct per schema-qualified table.

    Channel names are identifiers (at most 63 bytes), so a digest of the
    qualified name keeps two long names from sharing a channel.
    """
    digest = hashlib.sha1(f"{schema}.{table}".encode()).hexdigest()[:12]
    return f"es_{table[:40]}_{digest}"


class PostgresSubscription(Subscription):
    """A subscription to a PostgreSQL application recorder (see the module)."""

    def __init__(
        self,
        recorder: PostgresApplicationRecorder,
        gt: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> None:
        super().__init__(recorder, gt, topics, poll_interval=recorder.subscription_poll_interval)
        self._connect_kwargs = recorder.datastore.connect_kwargs
        self._channel = recorder.notify_channel
        self._listens = recorder.subscription_notify
        self._conn: Optional[psycopg.Connection[Any]] = None
        # stop() writes a byte here to wake a waiting select() from any thread.
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        # The fds and connection are closed by whichever of close() and a
        # waiting iteration finishes last, never under a select() using them.
        self._guard = threading.Lock()
        self._waiting = False
        self._closing = False
        self._released = False

    @property
    def listening(self) -> bool:
        """Whether the subscription holds a LISTEN connection now."""
        return self._conn is not None

    @property
    def backend_pid(self) -> Optional[int]:
        """The server process of the LISTEN connection, if any (for diagnostics)."""
        conn = self._conn
        return None if conn is None else conn.info.backend_pid

    def _listen(self) -> None:
        conn = psycopg.connect(**self._connect_kwargs, autocommit=True)
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except BaseException:
            conn.close()
            raise
        with self._guard:
            if self._closing:  # closed meanwhile, by another thread
                conn.close()
                return
            self._conn = conn

    def _wait_for_change(self, token: Any, timeout: float) -> None:
        if self._listens and self._conn is None and not self._stopped.is_set():
            # Caught up (or the connection was lost): listen, then read again
            # at once, so that what was committed before the LISTEN is not
            # missed. Not before: catching up needs no second connection.
            try:
                self._listen()
                return
            except psycopg.Error:
                pass  # Server unreachable: poll, and try again next time.
        with self._guard:
            if self._closing:
                return
            self._waiting = True
        try:
            conn = self._conn
            fds = [self._wake_r] if conn is None else [self._wake_r, conn.fileno()]
            ready, _, _ = select.select(fds, [], [], timeout)
            if conn is not None and conn.fileno() in ready:
                self._drain(conn)
        finally:
            with self._guard:
                self._waiting = False
                if self._closing:
                    self._release()

    def _drain(self, conn: psycopg.Connection[Any]) -> None:
        """Consume what arrived: notifications, or the news that the connection died."""
        pgconn = conn.pgconn
        try:
            pgconn.consume_input()
            while pgconn.notifies() is not None:
                pass
            lost = pgconn.status != psycopg.pq.ConnStatus.OK
        except psycopg.Error:
            lost = True
        if lost:
            self._conn = None
            conn.close()

    def _interrupt(self) -> None:
        with self._guard:
            if self._released:
                return
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:
                pass  # The pipe is full: a wake-up is pending already.

    def close(self) -> None:
        self.stop()
        with self._guard:
            self._closing = True
            if not self._waiting:
                self._release()

    def _release(self) -> None:
        """Close the connection and the pipe (call holding ``_guard``)."""
        if self._released:
            return
        self._released = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
