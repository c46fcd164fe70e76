"""Connections to one SQLite database, shared by the recorders of an application.

File databases get one connection per thread for reading (readers run
concurrently in WAL mode) and one for writing. Writers are serialised: by a
process-wide lock per file between threads (the file's write queue, see
:mod:`eventsourcing.sqlite.commit`), and by SQLite's write lock
(``BEGIN IMMEDIATE``) between processes.
Because no two write transactions ever overlap, notification IDs (rowids)
become visible in increasing order, which is what lets a tailing reader
resume from its last position without missing anything.

In-memory databases (``:memory:`` or a ``file:...?mode=memory`` URI) live only
as long as a connection to them is open, so each datastore keeps a single
connection and serialises every statement on it with a lock shared by all
datastores of the same database name in this process.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, TypeVar

from eventsourcing.errors import pep249_error_type
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from eventsourcing.sqlite.commit import WriteQueue, shared_write_queue
from eventsourcing.subscription import ChangeSignal

__all__ = ["DEFAULT_LOCK_TIMEOUT", "SQLiteDatastore", "translate_error"]

DEFAULT_LOCK_TIMEOUT = 5.0

T = TypeVar("T")

# How often a writer polls for a lock held by another process (seconds).
_FIRST_POLL = 0.0001
_LAST_POLL = 0.002

# Connections inherited from a parent process, kept so they are never closed.
_forked_away: List[sqlite3.Connection] = []

_all_datastores: weakref.WeakSet[SQLiteDatastore] = weakref.WeakSet()


def _reset_locks_in_child() -> None:
    """After fork: a lock held by a thread of the parent would never be released.

    And a write transaction that was in progress (fork() waits for writes to
    end, but not for ever) is SQLite's record, in this process's memory, that
    the process writes: the child's writes to that database could never begin.
    """
    for datastore in list(_all_datastores):
        datastore._guard = threading.Lock()
        writer = datastore._writer
        if writer is not None and writer.in_transaction:
            datastore._writes.forked_mid_write = True  # stays so in grandchildren


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_reset_locks_in_child)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def is_memory_database(db_name: str) -> bool:
    """Whether ``db_name`` names an in-memory database."""
    if db_name == ":memory:":
        return True
    if db_name.startswith("file:"):
        _, _, query = db_name.partition("?")
        return "mode=memory" in query.split("&")
    return False


def translate_error(
    error: Exception, db_name: str, table_name: Optional[str] = None
) -> PersistenceError:
    """Return the persistence exception for an error raised by ``sqlite3``.

    Messages name the database, and the table when one is missing, so that a
    wrong path or ``CREATE_TABLE=false`` on a fresh file is easy to diagnose.
    """
    if isinstance(error, PersistenceError):
        return error
    message = str(error)
    if isinstance(error, OverflowError):
        return DataError(f"Value out of range for SQLite database {db_name!r}: {message}")
    if isinstance(error, sqlite3.ProgrammingError) and "closed" in message:
        return InterfaceError(f"SQLite database {db_name!r} is closed: {message}")
    if isinstance(error, sqlite3.OperationalError):
        if message.startswith("no such table"):
            hint = f" {table_name!r}" if table_name else ""
            return ProgrammingError(
                f"Table{hint} does not exist in SQLite database {db_name!r} ({message}); "
                "create it (CREATE_TABLE is true by default) or check SQLITE_DBNAME"
            )
        if "locked" in message or "busy" in message:
            return OperationalError(
                f"Timed out waiting for the lock on SQLite database {db_name!r}: {message}"
            )
    persistence_type = pep249_error_type(error, sqlite3) or DatabaseError
    return persistence_type(f"{message} (SQLite database {db_name!r})")


class SQLiteDatastore:
    """The database that SQLite recorders read from and write to.

    ``lock_timeout`` is how many seconds a writer waits for the write lock
    before :class:`~eventsourcing.persistence.OperationalError` is raised
    (default 5; 0 means do not wait). With ``group_commit`` false, each
    write is a transaction of its own rather than sharing one with writes
    that queued meanwhile (see :mod:`eventsourcing.sqlite.commit`).
    """

    def __init__(
        self, db_name: str, lock_timeout: Optional[float] = None, group_commit: bool = True
    ) -> None:
        if not isinstance(db_name, str) or not db_name:
            raise ValueError(
                "SQLite database name must be a file path, ':memory:' or a "
                f"'file:' URI, got {db_name!r}"
            )
        if lock_timeout is None:
            lock_timeout = DEFAULT_LOCK_TIMEOUT
        if lock_timeout < 0:
            raise ValueError(f"lock_timeout must be >= 0 seconds, got {lock_timeout!r}")
        self.db_name = db_name
        self.lock_timeout = float(lock_timeout)
        self.group_commit = group_commit
        self.is_memory = is_memory_database(db_name)
        lock_key = db_name if self.is_memory else os.path.realpath(db_name)
        if db_name == ":memory:":
            # Every ":memory:" connection is a new database: nothing to share.
            self._writes = WriteQueue()
        else:
            self._writes = shared_write_queue(("memory:" if self.is_memory else "file:") + lock_key)
        self._guard = threading.Lock()
        _all_datastores.add(self)
        self._closed = False
        self._pid = os.getpid()
        self._local = threading.local()
        self._connections: Dict[threading.Thread, sqlite3.Connection] = {}
        self._memory_connection: Optional[sqlite3.Connection] = None
        self._writer: Optional[sqlite3.Connection] = None
        self._writer_pid = self._pid
        if self.is_memory:
            self._memory_connection = self._connect()
        else:
            # Fail now, naming the path, if the file cannot be opened as a database.
            self.connection()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(db_name={self.db_name!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.db_name,
                uri=True,
                timeout=self.lock_timeout,
                isolation_level=None,  # transactions are begun explicitly
                check_same_thread=False,  # close() may run in another thread
            )
        except sqlite3.Error as e:
            raise OperationalError(f"Cannot open SQLite database file {self.db_name!r}: {e}") from e
        try:
            if not self.is_memory:
                # Also reads the header, so a file that is not a database fails here.
                conn.execute("PRAGMA journal_mode=WAL").fetchall()
            else:
                conn.execute("PRAGMA schema_version").fetchall()
        except sqlite3.Error as e:
            conn.close()
            raise OperationalError(f"Cannot use SQLite database file {self.db_name!r}: {e}") from e
        return conn

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError(f"SQLite database {self.db_name!r} is closed")

    def connection(self) -> sqlite3.Connection:
        """Return this thread's connection (file) or the shared one (memory).

        Callers using an in-memory database must hold :meth:`lock`.
        """
        self._check_open()
        if self._memory_connection is not None:
            return self._memory_connection
        conn: Optional[sqlite3.Connection] = getattr(self._local, "conn", None)
        if conn is not None and self._pid == os.getpid():
            return conn
        return self._new_thread_connection()

    def _new_thread_connection(self) -> sqlite3.Connection:
        with self._guard:
            self._check_open()
            if self._pid != os.getpid():
                # Forked: the parent's connections must not be used here, nor
                # closed (closing could checkpoint and remove the parent's WAL).
                self._pid = os.getpid()
                _forked_away.extend(self._connections.values())
                self._connections = {}
                self._local = threading.local()
            for thread in [t for t in self._connections if not t.is_alive()]:
                self._connections.pop(thread).close()
            conn = self._connect()
            self._connections[threading.current_thread()] = conn
            self._local.conn = conn
            return conn

    def _writer_connection(self) -> sqlite3.Connection:
        """The connection writes use (call holding the lock).

        A file database has one, apart from the readers' connections, that
        does not let SQLite wait for the lock: :meth:`_begin` waits instead,
        polling far more often than SQLite's own busy handler (which sleeps
        up to 100 ms at a time), so that a process whose writes keep
        following each other does not starve writers in other processes.
        """
        self._check_open()
        if self._memory_connection is not None:
            return self._memory_connection
        writer = self._writer
        if writer is None or self._writer_pid != os.getpid():
            if self._writes.forked_mid_write:
                raise OperationalError(
                    f"Cannot write to SQLite database {self.db_name!r} in this process: "
                    "it was forked while a thread of the parent process was writing "
                    "to it, and SQLite's record of that write came along. Fork when "
                    "no write is in progress, or open the database after fork()"
                )
            if writer is not None:
                _forked_away.append(writer)  # the parent's: neither use nor close
            writer = self._connect()
            writer.execute("PRAGMA busy_timeout = 0")
            with self._guard:
                if self._closed:
                    writer.close()
                    self._check_open()
                self._writer, self._writer_pid = writer, os.getpid()
        return writer

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, waiting up to the lock timeout for other processes."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as e:
            if self.is_memory or not _is_busy(e):
                raise
        deadline = time.monotonic() + self.lock_timeout
        delay = _FIRST_POLL
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OperationalError(
                    f"Timed out after {self.lock_timeout:g}s waiting for the lock on "
                    f"SQLite database {self.db_name!r}, held by another process "
                    "(SQLITE_LOCK_TIMEOUT)"
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _LAST_POLL)
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if not _is_busy(e):
                    raise

    def _acquire(self) -> threading.Lock:
        lock = self._writes.lock
        if not lock.acquire(timeout=self.lock_timeout):
            raise self._timed_out()
        return lock

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the lock that serialises writers (and, in memory, everything)."""
        lock = self._acquire()
        try:
            yield
        finally:
            lock.release()

    @property
    def committed(self) -> ChangeSignal:
        """Notified after each batch of writes to this database by this process."""
        return self._writes.committed

    def select(self, statement: str, params: Sequence[Any] = ()) -> List[Any]:
        """Run one read statement and return its rows (no lock for files: WAL)."""
        if not self.is_memory:
            return self.connection().execute(statement, params).fetchall()
        lock = self._acquire()
        try:
            return self.connection().execute(statement, params).fetchall()
        finally:
            lock.release()

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Call ``work`` in a write transaction; its changes are committed if it
        returns and discarded if it raises (the exception is raised here).

        Concurrent writes share a transaction (see :mod:`eventsourcing.sqlite.commit`).
        """
        # Another datastore of the same file may lead: it would not know this one is closed.
        self._check_open()
        return self._writes.write(self, work)

    def _timed_out(self) -> OperationalError:
        return OperationalError(
            f"Timed out after {self.lock_timeout:g}s waiting for the lock on "
            f"SQLite database {self.db_name!r} (SQLITE_LOCK_TIMEOUT)"
        )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction as a context manager (see :meth:`write`)."""
        with self.lock():
            conn = self._writer_connection()
            self._begin(conn)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:  # pragma: no cover - the original error matters
                        pass
                raise

    def close(self) -> None:
        """Close every connection; further use raises InterfaceError (idempotent).

        Waits (up to the lock timeout) for a write in progress to finish, so
        that a transaction is not cut short by closing its connection.
        """
        lock = self._writes.lock
        acquired = lock.acquire(timeout=self.lock_timeout)
        try:
            self._close_connections()
        finally:
            if acquired:
                lock.release()

    def _close_connections(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
            connections: List[sqlite3.Connection] = []
            if self._pid == os.getpid():
                connections.extend(self._connections.values())
            else:
                _forked_away.extend(self._connections.values())  # the parent's
            self._connections.clear()
            if self._memory_connection is not None:
                connections.append(self._memory_connection)
                self._memory_connection = None
            if self._writer is not None:
                if self._writer_pid == os.getpid():
                    connections.append(self._writer)
                else:
                    _forked_away.append(self._writer)
                self._writer = None
        for conn in connections:
            conn.close()

    def __del__(self) -> None:
        # Never wait for a lock here: the collecting thread may hold it.
        try:
            self._close_connections()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
