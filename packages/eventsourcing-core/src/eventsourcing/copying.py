"""Optional recorder capabilities for moving a whole store (``eventsourcing copy``).

The recorder ports let an application append events and read them back; they
cannot reproduce a store exactly elsewhere: new events always get new
notification IDs, and nothing lists a table's snapshots or tracking records.
A copy must keep the notification IDs (gaps included), or followers'
tracking positions would point at the wrong events. A backend that can do
that implements these ABCs on its recorders, in addition to the ports; the
conformance suite checks them where present (``eventsourcing_conformance.copying``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import List, Optional, Sequence, Tuple
from uuid import UUID

from eventsourcing.checks import check_int
from eventsourcing.persistence import InterfaceError, Notification, StoredEvent, Tracking

__all__ = [
    "EventScanning",
    "NotificationInserting",
    "TrackingCopying",
    "check_scan_key",
    "missing_capabilities",
]


class EventScanning(ABC):
    """An aggregate recorder that can list every stored event of its table.

    Used to copy snapshots, whose table has no notification IDs to page by.
    """

    @abstractmethod
    def scan_stored_events(
        self, after: Optional[Tuple[UUID, int]] = None, limit: int = 1000
    ) -> List[StoredEvent]:
        """Return up to ``limit`` stored events ordered by ``(originator_id,
        originator_version)``, each after the key ``after`` when it is given.

        The order of originator IDs is the backend's own, but stable: paging
        with the last key returned visits every row once.
        """


class NotificationInserting(ABC):
    """An application recorder that can record events with given notification IDs."""

    @abstractmethod
    def insert_notifications(self, notifications: Sequence[Notification]) -> None:
        """Record ``notifications`` with their own IDs, all of them or none.

        IDs may have gaps. A notification ID or ``(originator_id,
        originator_version)`` already recorded raises
        :class:`~eventsourcing.persistence.IntegrityError`. Afterwards, events
        inserted in the ordinary way get IDs above every ID recorded here, and
        readers never see a lower ID appear after a higher one.
        """


class TrackingCopying(ABC):
    """A process recorder that can list and record tracking records by themselves."""

    @abstractmethod
    def select_tracking(
        self, after: Optional[Tracking] = None, limit: int = 1000
    ) -> List[Tracking]:
        """Return up to ``limit`` tracking records ordered by ``(application_name,
        notification_id)`` in the backend's own stable order, after ``after``."""

    @abstractmethod
    def insert_tracking(self, records: Sequence[Tracking]) -> None:
        """Record ``records``, all or none; a repeated record raises
        :class:`~eventsourcing.persistence.IntegrityError`."""


def check_scan_key(after: object) -> Tuple[UUID, int]:
    """Refuse a scan position that is not an ``(originator_id, originator_version)`` pair."""
    if not isinstance(after, tuple) or len(after) != 2 or not isinstance(after[0], UUID):
        raise InterfaceError(f"after must be a (UUID, int) pair, got {after!r}")
    check_int("after version", after[1])
    return after[0], after[1]


def missing_capabilities(recorder: object, snapshots: object) -> List[str]:
    """Names of the capabilities a copy needs that a process recorder and a
    snapshots recorder lack (empty when a copy can use them)."""
    needed = [
        (recorder, NotificationInserting, "process recorder"),
        (recorder, TrackingCopying, "process recorder"),
        (snapshots, EventScanning, "snapshots recorder"),
    ]
    return [
        f"{capability.__name__} (on the {role}, {type(obj).__name__})"
        for obj, capability, role in needed
        if not isinstance(obj, capability)
    ]
