"""A system whose follower is run in partitions by the partition tests
(``eventsourcing run partition_system:system --partitions N --partition K``).

Each upstream ``Counter`` event is mirrored, by the follower, as an event of
the counter's ``Mirror`` saying which upstream version it saw, at which
notification, in which process: exactly once and in order means each mirror
has seen versions 1, 2, 3, ... of its counter, once each. Lease acquisitions
are recorded as in :mod:`processing_system` (``RECORD_LEASES=1``).
"""

from __future__ import annotations

import os
from typing import Any, List, Tuple
from uuid import NAMESPACE_URL, UUID, uuid5

import processing_system  # noqa: F401  (records leases when RECORD_LEASES is set)

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, DomainEvent, event
from eventsourcing.system import ProcessApplication, ProcessEvent, System


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class Mirror(Aggregate):
    """What the follower saw of one counter: (upstream version, notification ID, pid)."""

    def __init__(self, counter_id: UUID) -> None:
        self.counter_id = counter_id
        self.seen: List[Tuple[int, int, int]] = []

    @staticmethod
    def create_id(counter_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/mirrors/{counter_id}")

    @event("Saw")
    def saw(self, version: int, notification_id: int, pid: int) -> None:
        self.seen.append((version, notification_id, pid))


class Counters(Application[Any]):
    def create(self) -> UUID:
        counter = Counter()
        self.save(counter)
        return counter.id

    def increment(self, counter_id: UUID) -> None:
        counter = self.repository.get(counter_id)
        counter.increment()
        self.save(counter)


class Mirrors(ProcessApplication[Any]):
    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        counter_id = domain_event.originator_id
        try:
            mirror = self.repository.get(Mirror.create_id(counter_id))
        except Exception:  # AggregateNotFound: the counter's first event
            mirror = Mirror(counter_id)
        assert process_event.tracking is not None
        mirror.saw(
            domain_event.originator_version, process_event.tracking.notification_id, os.getpid()
        )
        process_event.collect_events(mirror)


system = System(pipes=[[Counters, Mirrors]])
