"""Recorders on a JSON-lines journal file: a small third-party backend.

Each line of the journal is one committed ``insert_events`` call. A recorder
keeps the journal's contents in memory and, under an exclusive ``flock``,
reads whatever other writers appended before it validates and appends its own
line, so notification IDs follow the order of lines in the file.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple
from uuid import UUID

from eventsourcing.checks import (
    check_int,
    check_optional_int,
    check_stored_events,
    check_tracking,
)
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    Notification,
    ProcessRecorder,
    StoredEvent,
)
from eventsourcing.utils import ConfigurationError

__all__ = ["Factory", "JournalRecorder"]


class JournalRecorder(ProcessRecorder):
    """Aggregate, application and process recorder in one (a journal has it all)."""

    def __init__(self, path: str) -> None:
        self._file: Optional[IO[bytes]] = open(path, "a+b")
        self._lock = threading.Lock()
        self._offset = 0
        self._events: Dict[Tuple[UUID, int], Notification] = {}
        self._log: List[Notification] = []
        self._tracking: Dict[str, Set[int]] = {}

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open_file(self) -> IO[bytes]:
        if self._file is None:
            raise InterfaceError("journal recorder is closed")
        return self._file

    def _catch_up(self, f: IO[bytes]) -> None:
        """Apply the lines other recorders appended since we last looked."""
        f.seek(self._offset)
        for line in f:
            if not line.endswith(b"\n"):
                break  # a torn write from a crashed writer: never acknowledged
            self._offset += len(line)
            self._apply(json.loads(line))

    def _apply(self, entry: Dict[str, Any]) -> List[int]:
        ids = []
        for oid, version, topic, state in entry["events"]:
            n = Notification(UUID(oid), version, topic, base64.b64decode(state), len(self._log) + 1)
            self._log.append(n)
            self._events[(n.originator_id, version)] = n
            ids.append(n.id)
        if entry.get("tracking"):
            name, nid = entry["tracking"]
            self._tracking.setdefault(name, set()).add(nid)
        return ids

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        # The project's checks refuse bad input with the exceptions and
        # messages every other backend uses, before anything is written; the
        # events may be mapped lazily, so read them once, into a list.
        events = check_stored_events(stored_events)
        tracking = kwargs.get("tracking")
        entry: Dict[str, Any] = {"events": [_encode(e) for e in events], "tracking": None}
        if tracking is not None:
            check_tracking(tracking)
            entry["tracking"] = [tracking.application_name, tracking.notification_id]
        line = json.dumps(entry).encode() + b"\n"
        with self._lock:
            f = self._open_file()
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                self._catch_up(f)
                keys = [(e.originator_id, e.originator_version) for e in events]
                if len(set(keys)) != len(keys) or any(k in self._events for k in keys):
                    raise IntegrityError(f"an event in this batch is already recorded: {keys}")
                if tracking is not None and tracking.notification_id in self._tracking.get(
                    tracking.application_name, ()
                ):
                    raise IntegrityError(f"tracking record already exists: {tracking}")
                f.seek(0, os.SEEK_END)
                f.write(line)
                f.flush()
                self._offset += len(line)
                return self._apply(entry)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _read(self) -> None:
        f = self._open_file()
        fcntl.flock(f, fcntl.LOCK_SH)
        try:
            self._catch_up(f)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)

    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        check_optional_int("gt", gt)
        check_optional_int("lte", lte)
        check_optional_int("limit", limit, minimum=0)
        with self._lock:
            self._read()
            found = sorted(
                (
                    StoredEvent(n.originator_id, v, n.topic, n.state)
                    for (o, v), n in self._events.items()
                    if o == originator_id and (gt is None or v > gt) and (lte is None or v <= lte)
                ),
                key=lambda e: e.originator_version,
                reverse=desc,
            )
        return found if limit is None else found[:limit]

    def select_notifications(
        self, start: int, limit: int, stop: Optional[int] = None, topics: Sequence[str] = ()
    ) -> List[Notification]:
        check_int("start", start)
        check_int("limit", limit, minimum=0)
        check_optional_int("stop", stop)
        with self._lock:
            self._read()
            found = [
                n
                for n in self._log[max(start, 1) - 1 :]  # IDs are line positions: no gaps
                if (stop is None or n.id <= stop) and (not topics or n.topic in topics)
            ]
        return found[:limit]

    def max_notification_id(self) -> int:
        with self._lock:
            self._read()
            return len(self._log)

    def max_tracking_id(self, application_name: str) -> int:
        with self._lock:
            self._read()
            return max(self._tracking.get(application_name, ()), default=0)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        with self._lock:
            self._read()
            return notification_id in self._tracking.get(application_name, ())


def _encode(e: StoredEvent) -> List[Any]:
    return [e.originator_id.hex, e.originator_version, e.topic, base64.b64encode(e.state).decode()]


class Factory(InfrastructureFactory):
    """Selected by ``PERSISTENCE_MODULE=journal``; needs ``JOURNAL_PATH``."""

    JOURNAL_PATH = "JOURNAL_PATH"

    def __init__(self, application_name: str, env: Mapping[str, str]) -> None:
        super().__init__(application_name, env)
        path = self.getenv(self.JOURNAL_PATH)
        if not path:
            raise ConfigurationError(
                f"{self.JOURNAL_PATH} is not set: the journal backend needs a file path"
            )
        self.path = path

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return JournalRecorder(self.path if purpose == "events" else f"{self.path}.{purpose}")

    def application_recorder(self) -> ApplicationRecorder:
        return JournalRecorder(self.path)

    def process_recorder(self) -> ProcessRecorder:
        return JournalRecorder(self.path)
