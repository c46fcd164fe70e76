"""In-memory ("plain old Python objects") recorders, registered as ``popo``.

The fastest backend and the default. Nothing survives the process. One lock
per recorder serialises writers, so notification IDs are assigned in the
order inserts become visible.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from threading import RLock
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)

__all__ = [
    "Factory",
    "POPOAggregateRecorder",
    "POPOApplicationRecorder",
    "POPOProcessRecorder",
]


class POPOAggregateRecorder(AggregateRecorder):
    def __init__(self) -> None:
        self._lock = RLock()
        # Per originator: versions (sorted) and events (same order).
        self._versions: Dict[UUID, List[int]] = {}
        self._events: Dict[UUID, List[StoredEvent]] = {}
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("Recorder is closed")

    def insert_events(
        self, stored_events: List[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        with self._lock:
            self._check_open()
            self._validate(stored_events, **kwargs)
            self._insert(stored_events)
        return None

    def _validate(self, stored_events: List[StoredEvent], **kwargs: Any) -> None:
        seen: Set[Tuple[UUID, int]] = set()
        for s in stored_events:
            if not isinstance(s, StoredEvent):
                raise InterfaceError(f"Expected StoredEvent, got {type(s).__name__}")
            if not isinstance(s.originator_id, UUID):
                raise InterfaceError(
                    f"originator_id must be a UUID, got {s.originator_id!r}"
                )
            if not isinstance(s.originator_version, int) or isinstance(
                s.originator_version, bool
            ):
                raise InterfaceError(
                    f"originator_version must be an int, got {s.originator_version!r}"
                )
            if not isinstance(s.topic, str) or not isinstance(s.state, bytes):
                raise InterfaceError("topic must be str and state must be bytes")
            key = (s.originator_id, s.originator_version)
            versions = self._versions.get(s.originator_id)
            if key in seen or (
                versions is not None and _contains(versions, s.originator_version)
            ):
                raise IntegrityError(
                    f"Stored event already exists: originator_id={s.originator_id} "
                    f"originator_version={s.originator_version}"
                )
            seen.add(key)

    def _insert(self, stored_events: List[StoredEvent]) -> None:
        for s in stored_events:
            versions = self._versions.setdefault(s.originator_id, [])
            events = self._events.setdefault(s.originator_id, [])
            if not versions or s.originator_version > versions[-1]:
                versions.append(s.originator_version)
                events.append(s)
            else:
                i = bisect_left(versions, s.originator_version)
                versions.insert(i, s.originator_version)
                events.insert(i, s)

    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        with self._lock:
            self._check_open()
            versions = self._versions.get(originator_id)
            if not versions:
                return []
            lo = 0 if gt is None else bisect_right(versions, gt)
            hi = len(versions) if lte is None else bisect_right(versions, lte)
            selected = self._events[originator_id][lo:hi]
        if desc:
            selected.reverse()
        if limit is not None:
            selected = selected[: max(limit, 0)]
        return selected


def _contains(sorted_list: List[int], value: int) -> bool:
    i = bisect_left(sorted_list, value)
    return i < len(sorted_list) and sorted_list[i] == value


class POPOApplicationRecorder(POPOAggregateRecorder, ApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._notifications: List[Notification] = []

    def insert_events(
        self, stored_events: List[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        with self._lock:
            self._check_open()
            self._validate(stored_events, **kwargs)
            self._insert(stored_events)
            return self._insert_notifications(stored_events)

    def _insert_notifications(self, stored_events: List[StoredEvent]) -> List[int]:
        ids = []
        next_id = len(self._notifications) + 1
        for s in stored_events:
            self._notifications.append(
                Notification(
                    originator_id=s.originator_id,
                    originator_version=s.originator_version,
                    topic=s.topic,
                    state=s.state,
                    id=next_id,
                )
            )
            ids.append(next_id)
            next_id += 1
        return ids

    def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        with self._lock:
            self._check_open()
            # IDs are 1..n without gaps, so the ID is the index plus one.
            first = max(start, 1) - 1
            last = len(self._notifications) if stop is None else min(stop, len(self._notifications))
            if topics:
                wanted = set(topics)
                result = []
                for n in self._notifications[first:last]:
                    if n.topic in wanted:
                        result.append(n)
                        if len(result) >= limit:
                            break
                return result
            return self._notifications[first : min(last, first + max(limit, 0))]

    def max_notification_id(self) -> int:
        with self._lock:
            self._check_open()
            return len(self._notifications)


class POPOProcessRecorder(POPOApplicationRecorder, ProcessRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._tracking: Dict[str, Set[int]] = {}
        self._max_tracking: Dict[str, int] = {}

    def _validate(self, stored_events: List[StoredEvent], **kwargs: Any) -> None:
        super()._validate(stored_events, **kwargs)
        tracking = kwargs.get("tracking")
        if tracking is not None:
            if not isinstance(tracking, Tracking):
                raise InterfaceError(f"Expected Tracking, got {type(tracking).__name__}")
            if tracking.notification_id in self._tracking.get(
                tracking.application_name, ()
            ):
                raise IntegrityError(
                    f"Tracking record already exists: {tracking.application_name!r} "
                    f"notification {tracking.notification_id}"
                )

    def insert_events(
        self, stored_events: List[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        with self._lock:
            ids = super().insert_events(stored_events, **kwargs)
            tracking = kwargs.get("tracking")
            if tracking is not None:
                name = tracking.application_name
                self._tracking.setdefault(name, set()).add(tracking.notification_id)
                if tracking.notification_id > self._max_tracking.get(name, 0):
                    self._max_tracking[name] = tracking.notification_id
            return ids

    def max_tracking_id(self, application_name: str) -> int:
        with self._lock:
            self._check_open()
            return self._max_tracking.get(application_name, 0)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        with self._lock:
            self._check_open()
            return notification_id in self._tracking.get(application_name, ())


class Factory(InfrastructureFactory):
    """Constructs in-memory recorders."""

    def __init__(self, application_name: str, env: Mapping[str, str]) -> None:
        super().__init__(application_name, env)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return POPOAggregateRecorder()

    def application_recorder(self) -> ApplicationRecorder:
        return POPOApplicationRecorder()

    def process_recorder(self) -> ProcessRecorder:
        return POPOProcessRecorder()
