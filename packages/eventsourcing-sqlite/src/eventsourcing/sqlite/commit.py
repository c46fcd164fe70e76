"""Group commit for SQLite: writes that arrive while another is done share the next transaction.

Each database (a file, or a named in-memory database) has one
:class:`WriteQueue` in this process, shared by all its datastores. A write
that arrives while another thread is writing waits in the queue; the next
thread to lead takes the lock and does all the queued writes in one
transaction, each inside a savepoint, with one commit, then wakes their
callers: concurrent writers share the cost of the commit, and a failed write
(a conflict) discards only its own changes. ``BEGIN IMMEDIATE`` takes
SQLite's write lock first, so writers in other processes wait (up to the
lock timeout) and no two write transactions ever overlap. A datastore whose
``group_commit`` is false has each of its writes done in a transaction of
its own (``SQLITE_GROUP_COMMIT=false``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable, Deque, List, Optional, Protocol, TypeVar

from eventsourcing.persistence import OperationalError
from eventsourcing.subscription import ChangeSignal

__all__ = ["Transactions", "WriteQueue", "shared_write_queue"]

T = TypeVar("T")


class Transactions(Protocol):
    """What a datastore gives the queue: the connection writes use, and how to begin."""

    lock_timeout: float
    group_commit: bool

    @property
    def closed(self) -> bool: ...

    def _writer_connection(self) -> sqlite3.Connection:
        """The connection that writes use (called holding the lock)."""

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, waiting up to the lock timeout for other processes."""

    def _timed_out(self) -> OperationalError:
        """The error for a write that waited longer than the lock timeout."""


class _Write:
    """One caller's work, done by whichever thread holds the lock."""

    __slots__ = ("done", "error", "grouped", "result", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], Any], grouped: bool) -> None:
        self.work = work
        self.grouped = grouped
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.done = False


class WriteQueue:
    """The write lock of one database, and the writes waiting for it.

    ``changed`` (on ``guard``) is notified when a batch of writes is done;
    ``leading`` is true while a thread is doing one. ``committed`` wakes
    subscriptions in this process after a batch (see ``eventsourcing.subscription``).
    """

    __slots__ = ("__weakref__", "changed", "committed", "guard", "leading", "lock", "pending")

    def __init__(self) -> None:
        self._reset()
        _all_queues.add(self)

    def _reset(self) -> None:
        self.lock = threading.Lock()
        self.guard = threading.Lock()
        self.changed = threading.Condition(self.guard)
        self.pending: Deque[_Write] = deque()
        self.leading = False
        self.committed = ChangeSignal()

    def write(self, store: Transactions, work: Callable[[sqlite3.Connection], T]) -> T:
        """Call ``work`` in a write transaction of ``store``'s database (see above)."""
        request = _Write(work, store.group_commit)
        deadline = time.monotonic() + store.lock_timeout
        with self.changed:
            self.pending.append(request)
            while self.leading and not request.done:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.changed.wait(remaining):
                    if request.done:
                        break
                    if self._withdraw(request):
                        raise store._timed_out()
                    while not request.done:
                        self.changed.wait()
            if not request.done:
                self.leading = True
        if not request.done:
            self._lead(store, request, deadline)
        if request.error is not None:
            raise request.error
        result: T = request.result
        return result

    def _withdraw(self, request: _Write) -> bool:
        """Take a write that timed out off the queue (call holding ``guard``).

        False if a leader has taken it already: it will be done, and must be
        waited for.
        """
        try:
            self.pending.remove(request)
        except ValueError:
            return False
        return True

    def _lead(self, store: Transactions, request: _Write, deadline: float) -> None:
        """Take the lock, then do every queued write (``leading`` is set)."""
        batch: List[_Write] = []
        try:
            if not self.lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
                with self.guard:
                    # Nobody else leads, so nobody else has taken it.
                    withdrawn = self._withdraw(request)
                assert withdrawn
                raise store._timed_out()
            try:
                with self.guard:
                    if store.closed or not request.grouped:
                        # Closed while waiting: fail its own write only, and leave
                        # the others (maybe of open datastores) to the next leader.
                        # Not grouped: its own transaction.
                        self.pending.remove(request)
                        batch = [request]
                    else:
                        batch = [w for w in self.pending if w.grouped]
                        if len(batch) == len(self.pending):
                            self.pending.clear()
                        else:
                            self.pending = deque(w for w in self.pending if not w.grouped)
                _write_batch(store, batch)
            finally:
                self.lock.release()
        finally:
            with self.changed:
                for done in batch:
                    done.done = True
                self.leading = False
                self.changed.notify_all()
            if batch:
                self.committed.notify()


def _write_batch(store: Transactions, batch: List[_Write]) -> None:
    """Do the writes in one transaction (call holding the lock)."""
    conn: Optional[sqlite3.Connection] = None
    try:
        conn = store._writer_connection()
        store._begin(conn)
        if len(batch) == 1:
            request = batch[0]
            try:
                request.result = request.work(conn)
            except BaseException as e:
                request.error = e
        else:
            for request in batch:
                conn.execute("SAVEPOINT write")
                try:
                    request.result = request.work(conn)
                except BaseException as e:
                    request.error = e
                    if not conn.in_transaction:
                        # SQLite rolled back the whole transaction (I/O error,
                        # disk full): every write of the batch is lost.
                        raise
                    conn.execute("ROLLBACK TO write")
                conn.execute("RELEASE write")
        if any(request.error is None for request in batch):
            conn.execute("COMMIT")
        else:
            conn.execute("ROLLBACK")
    except BaseException as e:
        if conn is not None and conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - the original error matters
                pass
        for request in batch:
            if request.error is None:
                request.error = e
                request.result = None


# The queue of each database in this process, by name.
_queues: weakref.WeakValueDictionary[str, WriteQueue] = weakref.WeakValueDictionary()
_queues_guard = threading.Lock()
_all_queues: weakref.WeakSet[WriteQueue] = weakref.WeakSet()


def shared_write_queue(key: str) -> WriteQueue:
    """The queue of the database ``key`` names, made on first use."""
    with _queues_guard:
        queue = _queues.get(key)
        if queue is None:
            queue = _queues[key] = WriteQueue()
        return queue


def _reset_in_child() -> None:
    """After fork: a lock held by a thread of the parent would never be released,
    and the parent's queued writes are not this process's to do."""
    global _queues_guard
    _queues_guard = threading.Lock()
    for queue in list(_all_queues):
        queue._reset()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_reset_in_child)
