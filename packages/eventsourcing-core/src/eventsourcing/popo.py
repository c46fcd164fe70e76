"""In-memory ("plain old Python objects") recorders, registered as ``popo``.

The default backend and the fastest: nothing survives the process. Each
recorder has one lock. Arguments are checked before it is taken; conflicts
are checked under it before anything changes, so a failed insert leaves the
recorder as it was, and notification IDs (1, 2, 3, ... without gaps) are
assigned in the order in which inserts become visible.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from threading import Lock, RLock
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Type, TypeVar
from uuid import UUID
from weakref import WeakSet

from eventsourcing.checks import (
    check_int,
    check_optional_int,
    check_stored_events,
    check_str,
    check_tracking,
    tracking_records,
)
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DataError,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    TrackingRecorder,
    make_notification,
)
from eventsourcing.subscription import ChangeSignal, SignalledSubscription, Subscription

__all__ = [
    "Factory",
    "POPOAggregateRecorder",
    "POPOApplicationRecorder",
    "POPOProcessRecorder",
    "POPOTrackingRecorder",
]

TTrackingRecorder = TypeVar("TTrackingRecorder", bound=TrackingRecorder)


TRecorder = TypeVar("TRecorder", bound="POPOAggregateRecorder")


class POPOAggregateRecorder(AggregateRecorder):
    """Keeps the stored events of each aggregate in a list ordered by version."""

    def __init__(self) -> None:
        self._lock = Lock()
        # Per originator: sorted versions, and the stored events in the same order.
        self._versions: Dict[UUID, List[int]] = {}
        self._events: Dict[UUID, List[StoredEvent]] = {}
        self._closed = False

    def close(self) -> None:
        """Refuse further use; what was recorded is kept (nothing is shared)."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError(f"{type(self).__name__} is closed")

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        events = check_stored_events(stored_events)
        trackings = self._trackings(kwargs)
        with self._lock:
            self._check_open()
            self._check_conflicts(events)
            if trackings:
                self._record_trackings(trackings)  # after the only other check
            self._insert(events)
            return self._notification_ids(events)

    def _trackings(self, kwargs: Dict[str, Any]) -> List[Tracking]:
        """The checked tracking records to insert with the events (process recorders)."""
        return []

    def _record_trackings(self, trackings: List[Tracking]) -> None:
        """Record ``trackings`` (all or none), or raise IntegrityError (call under the lock)."""

    def _notification_ids(self, stored_events: Sequence[StoredEvent]) -> Optional[List[int]]:
        """Number the inserted events (call under the lock); None if not numbered."""
        return None

    def _check_conflicts(self, stored_events: Sequence[StoredEvent]) -> None:
        """Raise IntegrityError if any event's position is taken (call under the lock).

        Batches are mostly runs of one aggregate's events, so lookups by
        originator ID (hashing a UUID) happen once per run, not per event.
        """
        versions_of = self._versions
        seen_of: Dict[UUID, Set[int]] = {}
        last_id: Optional[UUID] = None
        versions: Optional[List[int]] = None
        seen: Set[int] = set()
        for s in stored_events:
            originator_id = s.originator_id
            if originator_id is not last_id:
                last_id = originator_id
                versions = versions_of.get(originator_id)
                seen = seen_of.setdefault(originator_id, set())
            version = s.originator_version
            if versions and version <= versions[-1]:
                i = bisect_left(versions, version)
                if versions[i] == version:
                    raise IntegrityError(
                        f"Stored event already recorded: originator_id={originator_id} "
                        f"originator_version={version}"
                    )
            if version in seen:
                raise IntegrityError(
                    f"Stored event given twice in one batch: originator_id="
                    f"{originator_id} originator_version={version}"
                )
            seen.add(version)

    def _insert(self, stored_events: Sequence[StoredEvent]) -> None:
        """Record events already checked for conflicts (call under the lock)."""
        last_id: Optional[UUID] = None
        versions: List[int] = []
        events: List[StoredEvent] = []
        for s in stored_events:
            originator_id = s.originator_id
            if originator_id is not last_id:
                last_id = originator_id
                found = self._versions.get(originator_id)
                if found is None:
                    versions = self._versions[originator_id] = []
                    events = self._events[originator_id] = []
                else:
                    versions, events = found, self._events[originator_id]
            version = s.originator_version
            if not versions or version > versions[-1]:
                versions.append(version)
                events.append(s)
            else:
                i = bisect_left(versions, version)
                versions.insert(i, version)
                events.insert(i, s)

    def select_events(
        self,
        originator_id: UUID,
        gt: Optional[int] = None,
        lte: Optional[int] = None,
        desc: bool = False,
        limit: Optional[int] = None,
    ) -> List[StoredEvent]:
        if not isinstance(originator_id, UUID):
            raise InterfaceError(
                f"originator_id must be a UUID, got {type(originator_id).__name__}: "
                f"{originator_id!r}"
            )
        check_optional_int("gt", gt)
        check_optional_int("lte", lte)
        check_optional_int("limit", limit)
        if limit is not None and limit < 0:
            raise DataError(f"limit must not be negative, got {limit}")
        with self._lock:
            self._check_open()
            versions = self._versions.get(originator_id)
            if not versions:
                return []
            lo = 0 if gt is None else bisect_right(versions, gt)
            hi = len(versions) if lte is None else bisect_right(versions, lte)
            if lo >= hi:
                return []
            events = self._events[originator_id]
            if not desc:
                if limit is not None and limit < hi - lo:
                    hi = lo + limit
                return events[lo:hi]
            if limit is not None and limit < hi - lo:
                lo = hi - limit
            selected = events[lo:hi]
        selected.reverse()
        return selected


class POPOApplicationRecorder(POPOAggregateRecorder, ApplicationRecorder):
    """Also keeps every stored event as a notification, in insertion order."""

    def __init__(self) -> None:
        super().__init__()
        # The notification with ID n is at index n - 1: IDs have no gaps.
        self._notifications: List[Notification] = []
        # Wakes subscriptions when notifications are appended.
        self._signal = ChangeSignal()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Optional[Sequence[int]]:
        ids = super().insert_events(stored_events, **kwargs)
        self._signal.notify()
        return ids

    def subscribe(self, gt: Optional[int] = None, topics: Sequence[str] = ()) -> Subscription:
        """Woken as soon as an insert returns; every writer is in this process."""
        return SignalledSubscription(self, self._signal, gt=gt, topics=topics)

    def _notification_ids(self, stored_events: Sequence[StoredEvent]) -> List[int]:
        notifications = self._notifications
        first_id = len(notifications) + 1
        for i, s in enumerate(stored_events, first_id):
            notifications.append(
                make_notification(s.originator_id, s.originator_version, s.topic, s.state, i)
            )
        return list(range(first_id, len(notifications) + 1))

    def select_notifications(
        self,
        start: int,
        limit: int,
        stop: Optional[int] = None,
        topics: Sequence[str] = (),
    ) -> List[Notification]:
        check_int("start", start)
        check_int("limit", limit)
        check_optional_int("stop", stop)
        if limit < 0:
            raise DataError(f"limit must not be negative, got {limit}")
        if isinstance(topics, str) or not all(isinstance(t, str) for t in topics):
            raise InterfaceError(f"topics must be a sequence of str, got {topics!r}")
        with self._lock:
            self._check_open()
            notifications = self._notifications
            first = max(start, 1) - 1
            last = len(notifications) if stop is None else max(0, min(stop, len(notifications)))
            if not topics:
                return notifications[first : min(last, first + limit)]
            wanted = set(topics)
            selected: List[Notification] = []
            if limit == 0:
                return selected
            for i in range(first, last):
                n = notifications[i]
                if n.topic in wanted:
                    selected.append(n)
                    if len(selected) == limit:
                        break
            return selected

    def max_notification_id(self) -> int:
        with self._lock:
            self._check_open()
            return len(self._notifications)


def _record_trackings(
    recorded: Dict[str, Set[int]], max_ids: Dict[str, int], trackings: Sequence[Tracking]
) -> None:
    """Add ``trackings`` to ``recorded`` (and ``max_ids``), all or none: a repeated
    one, recorded before or twice in ``trackings``, raises IntegrityError."""
    new: Set[Tuple[str, int]] = set()
    for t in trackings:
        key = (t.application_name, t.notification_id)
        if key in new or t.notification_id in recorded.get(t.application_name, ()):
            raise IntegrityError(
                f"Tracking already recorded: notification {t.notification_id} "
                f"of {t.application_name!r} was processed before"
            )
        new.add(key)
    for name, notification_id in new:
        recorded.setdefault(name, set()).add(notification_id)
        if notification_id > max_ids.get(name, 0):
            max_ids[name] = notification_id


class POPOProcessRecorder(POPOApplicationRecorder, ProcessRecorder):
    """Also records tracking objects, atomically with stored events."""

    def __init__(self) -> None:
        super().__init__()
        self._tracking_ids: Dict[str, Set[int]] = {}
        self._max_tracking: Dict[str, int] = {}

    max_trackings_per_insert = None

    def _trackings(self, kwargs: Dict[str, Any]) -> List[Tracking]:
        return tracking_records(kwargs)

    def _record_trackings(self, trackings: List[Tracking]) -> None:
        _record_trackings(self._tracking_ids, self._max_tracking, trackings)

    def max_tracking_id(self, application_name: str) -> int:
        check_str("application_name", application_name)
        with self._lock:
            self._check_open()
            return self._max_tracking.get(application_name, 0)

    def has_tracking_id(self, application_name: str, notification_id: int) -> bool:
        check_str("application_name", application_name)
        check_int("notification_id", notification_id)
        with self._lock:
            self._check_open()
            return notification_id in self._tracking_ids.get(application_name, ())


class POPOTrackingRecorder(TrackingRecorder):
    """Tracking records in memory; the base of in-memory materialised views.

    A view's method that changes its state holds :attr:`lock` (reentrant)
    and calls :meth:`_insert_tracking` before changing anything: a repeated
    tracking record raises, and the change is not made.
    """

    def __init__(self) -> None:
        self.lock = RLock()
        self._tracking: Dict[str, Set[int]] = {}
        self._max_tracking: Dict[str, int] = {}
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError(f"{type(self).__name__} is closed")

    def insert_tracking(self, tracking: Tracking) -> None:
        self._insert_tracking(tracking)

    def _insert_tracking(self, *trackings: Tracking) -> None:
        """Record ``trackings``, all or none: call first in a view's change, holding
        :attr:`lock`, so that a repeated notification changes nothing."""
        for tracking in trackings:
            check_tracking(tracking)
        with self.lock:
            self._check_open()
            _record_trackings(self._tracking, self._max_tracking, trackings)

    def max_tracking_id(self, application_name: str) -> Optional[int]:
        check_str("application_name", application_name)
        with self.lock:
            self._check_open()
            return self._max_tracking.get(application_name)


class Factory(InfrastructureFactory):
    """Constructs in-memory recorders; each call gives a new, empty recorder.

    Recorders share nothing, so closing one releases nothing else; closing
    the factory closes every recorder it made, as on the other backends.
    """

    def __init__(self, application_name: str, env: Mapping[str, str]) -> None:
        super().__init__(application_name, env)
        self._recorders: WeakSet[POPOAggregateRecorder] = WeakSet()
        self._tracking_recorders: WeakSet[TrackingRecorder] = WeakSet()

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return self._made(POPOAggregateRecorder())

    def application_recorder(self) -> ApplicationRecorder:
        return self._made(POPOApplicationRecorder())

    def process_recorder(self) -> ProcessRecorder:
        return self._made(POPOProcessRecorder())

    def tracking_recorder(
        self, tracking_recorder_class: Optional[Type[TTrackingRecorder]] = None
    ) -> TTrackingRecorder:
        view = self._tracking_recorder_class(tracking_recorder_class, POPOTrackingRecorder)()
        self._tracking_recorders.add(view)
        return view

    def _made(self, recorder: TRecorder) -> TRecorder:
        self._recorders.add(recorder)
        return recorder

    def close(self) -> None:
        for recorder in list(self._recorders):
            recorder.close()
        for view in list(self._tracking_recorders):
            view.close()
