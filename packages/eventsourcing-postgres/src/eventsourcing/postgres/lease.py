"""The PostgreSQL lease: a session-level advisory lock on a connection of its own.

The server releases a session's advisory locks when the session ends, so
the lease of a process that dies (``kill -9``, a lost machine) is free as
soon as the server notices the closed connection; no heartbeat is needed.
The key is :func:`~eventsourcing.lease.lease_key` of the pair, namespaced
by the schema (advisory locks are per database, not per schema). The
holding connection's ``application_name`` says who holds it (``host:pid``),
which :meth:`holder` reads from ``pg_locks`` and ``pg_stat_activity``.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional

import psycopg
import psycopg.errors

from eventsourcing.lease import Lease, holder_label

__all__ = ["AdvisoryLockLease"]

_HOLDER_PREFIX = "eventsourcing-lease "

_HOLDER_QUERY = (
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid::bigint = %s AND l.objid::bigint = %s"
)


class AdvisoryLockLease(Lease):
    def __init__(
        self, follower_name: str, leader_name: str, schema: str, connect_kwargs: Dict[str, Any]
    ) -> None:
        super().__init__(follower_name, leader_name, namespace=schema)
        self.connect_kwargs = connect_kwargs
        self._conn: Optional[psycopg.Connection[Any]] = None
        self._held = False
        self._waiting = threading.Lock()
        self._waiter: Optional[psycopg.Connection[Any]] = None
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        self._lock_ids = (unsigned >> 32, unsigned & 0xFFFFFFFF)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._held = False
            self._conn = psycopg.connect(
                **{
                    **self.connect_kwargs,
                    "autocommit": True,
                    "application_name": _HOLDER_PREFIX + holder_label(),
                }
            )
        return self._conn

    def try_acquire(self) -> bool:
        if self._held and self._conn is not None and not self._conn.closed:
            return True
        try:
            row = self._connection().execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            self._held = bool(row.fetchone()[0])  # type: ignore[index]
        except psycopg.Error:
            self._discard()
            return False
        return self._held

    def acquire(self, timeout: float, stopping: threading.Event) -> bool:
        """Wait for the lock on the server, for at most ``timeout`` seconds
        (``lock_timeout``): the lease is taken the moment its holder's session
        ends, not at the next try. :meth:`interrupt` cancels the wait."""
        if self._held and self._conn is not None and not self._conn.closed:
            return True
        if stopping.is_set():
            return False
        millis = max(1, round(timeout * 1000))
        try:
            conn = self._connection()
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{millis}ms",))
            with self._waiting:
                self._waiter = conn
            try:
                conn.execute("SELECT pg_advisory_lock(%s)", (self.key,))
            finally:
                with self._waiting:
                    self._waiter = None
            self._held = True
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
            return False  # held by another process (or interrupted)
        except psycopg.Error:
            self._discard()
            stopping.wait(timeout)  # the server is unreachable: try again later
            return False
        return True

    def interrupt(self) -> None:
        with self._waiting:
            if self._waiter is not None:
                self._waiter.cancel_safe()

    def still_held(self) -> bool:
        """Whether the session holding the lock is alive (its locks live as long
        as it does): one round trip on the lease's connection."""
        conn = self._conn
        if not self._held or conn is None or conn.closed:
            return False
        try:
            conn.execute("SELECT 1")
        except psycopg.Error:
            self._discard()
            return False
        return True

    def release(self) -> None:
        if self._held and self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except psycopg.Error:
                self._discard()
        self._held = False

    def holder(self) -> Optional[str]:
        try:
            with psycopg.connect(**{**self.connect_kwargs, "autocommit": True}) as conn:
                row = conn.execute(_HOLDER_QUERY, self._lock_ids).fetchone()
        except psycopg.Error:
            return None
        if row is None:
            return None
        name = str(row[0])
        return name[len(_HOLDER_PREFIX) :] if name.startswith(_HOLDER_PREFIX) else name

    def _discard(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    def close(self) -> None:
        self.release()
        self._discard()
