"""Leases: which of several processes running a follower consumes a leader.

Several replicas of a follower may run for availability; for each
(follower, leader) pair exactly one of them holds the lease and processes,
the others wait for it (:meth:`Lease.acquire`) and take it the moment it is
free; the holder checks it still holds it (:meth:`Lease.still_held`)
before committing each page. A lease is released when its holder stops or
dies (the database session ends, the file lock goes with the process), so a
standby takes over without anyone having to notice the death. Tracking
uniqueness stays the last line of defence: a lease only avoids wasted work,
it does not make processing exactly once.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from abc import ABC, abstractmethod
from typing import Dict, Optional, Tuple

__all__ = ["Lease", "LocalLease", "holder_label", "lease_key"]


def lease_key(follower_name: str, leader_name: str, namespace: str = "") -> int:
    """The first 8 bytes of the SHA-256 of the pair's names, as a signed 64-bit int
    (the type of a PostgreSQL advisory lock key). ``namespace`` (a PostgreSQL
    schema) keeps apart systems that share a database and application names."""
    names = f"{follower_name}\x00{leader_name}"
    if namespace:
        names = f"{namespace}\x00{names}"
    digest = hashlib.sha256(names.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def holder_label() -> str:
    """Who holds a lease: ``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease(ABC):
    """The right to consume one leader for one follower, held by one process."""

    def __init__(self, follower_name: str, leader_name: str, namespace: str = "") -> None:
        self.follower_name = follower_name
        self.leader_name = leader_name
        self.key = lease_key(follower_name, leader_name, namespace)

    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; return whether this process holds it."""

    POLL_INTERVAL = 0.01
    """Seconds between two tries of :meth:`acquire` (locks cheap to try)."""

    def acquire(self, timeout: float, stopping: threading.Event) -> bool:
        """Wait up to ``timeout`` seconds for the lease, or until ``stopping`` is
        set (or :meth:`interrupt` is called); return whether this process holds it.

        Taking the lease as soon as it is free is what makes failover fast: a
        standby that only tried every ``timeout`` seconds would leave the
        leader's new notifications unprocessed for half that on average. This
        default tries every :attr:`POLL_INTERVAL` seconds, which suits locks
        that cost a system call to try; a lease that can block on the lock
        itself overrides it.
        """
        deadline = time.monotonic() + timeout
        while not self.try_acquire():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or stopping.wait(min(self.POLL_INTERVAL, remaining)):
                return False
        return True

    def interrupt(self) -> None:
        """Make an :meth:`acquire` waiting in another thread return soon (the
        default waits on the ``stopping`` event, which the caller sets)."""
        return None

    def still_held(self) -> bool:
        """Whether the lease taken is still this process's: checked before
        each page is committed, so that a process that lost its lease (its
        session with the database ended) stops processing. Must be cheap."""
        return True

    @abstractmethod
    def release(self) -> None:
        """Give the lease up (idempotent)."""

    def holder(self) -> Optional[str]:
        """``host:pid`` of the process holding the lease, if known."""
        return None

    def close(self) -> None:
        """Release, and close what the lease holds (connections, files)."""
        self.release()


_local_locks: Dict[Tuple[int, int], threading.Lock] = {}
_local_holders: Dict[Tuple[int, int], str] = {}
_local_guard = threading.Lock()


class LocalLease(Lease):
    """A lease among the runners of one process: for databases that only this
    process can reach (in-memory ones). ``scope`` is the database's identity."""

    def __init__(self, follower_name: str, leader_name: str, scope: object) -> None:
        super().__init__(follower_name, leader_name)
        self._slot = (id(scope), self.key)
        with _local_guard:
            self._lock = _local_locks.setdefault(self._slot, threading.Lock())
        self._held = False

    def try_acquire(self) -> bool:
        if not self._held:
            self._held = self._lock.acquire(blocking=False)
            if self._held:
                _local_holders[self._slot] = holder_label()
        return self._held

    def release(self) -> None:
        if self._held:
            _local_holders.pop(self._slot, None)
            self._held = False
            self._lock.release()

    def holder(self) -> Optional[str]:
        return _local_holders.get(self._slot)
