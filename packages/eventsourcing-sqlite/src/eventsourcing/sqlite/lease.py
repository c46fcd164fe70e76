"""The SQLite lease: an OS file lock (``flock``) on a file beside the database.

The lock goes with the process that holds it (the kernel drops it when the
file is closed, and a killed process's files are closed), so a standby on
the same machine takes over as soon as the holder is gone. The file holds
the holder's ``host:pid``, for ``eventsourcing status``.
"""

from __future__ import annotations

import fcntl
import os
from typing import Optional

from eventsourcing.lease import Lease, holder_label

__all__ = ["FileLease"]


class FileLease(Lease):
    def __init__(self, follower_name: str, leader_name: str, db_name: str) -> None:
        super().__init__(follower_name, leader_name)
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        self.path = f"{db_name}.lease-{unsigned:016x}.lock"
        self._fd: Optional[int] = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder_label().encode(), 0)
        self._fd = fd
        return True

    def still_held(self) -> bool:
        """The lock goes with the open file, so it is held while the file is
        open, unless the file was removed (or replaced): another process may
        then lock a new file of the same name."""
        fd = self._fd
        if fd is None:
            return False
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False
        opened = os.fstat(fd)
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the lock

    def holder(self) -> Optional[str]:
        if self._fd is not None:
            return holder_label()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return os.pread(fd, 200, 0).decode(errors="replace") or None
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
