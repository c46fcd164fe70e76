"""A small system run by ProcessRunner tests, importable by subprocesses
(``eventsourcing run processing_system:system``).

With ``RECORD_LEASES=1`` in the environment, each lease a process takes is
saved as an :class:`Acquisition` in :class:`Leases` (through the runner's
"holds the lease" log record), so that tests can tell from the database who
was active when.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, DomainEvent, event
from eventsourcing.system import ProcessApplication, ProcessEvent, System

TOTAL_ID = uuid5(NAMESPACE_URL, "/processing/total")


class Command(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


class Tally(Aggregate):
    """One per processed command: which process processed it."""

    def __init__(self, command_id: UUID, pid: int) -> None:
        self.command_id = command_id
        self.pid = pid

    @staticmethod
    def create_id(command_id: UUID, pid: int = 0) -> UUID:
        return uuid5(NAMESPACE_URL, f"/tallies/{command_id}")


class Total(Aggregate):
    """Touched by every notification: pages must see their own changes."""

    def __init__(self) -> None:
        self.count = 0

    @staticmethod
    def create_id() -> UUID:
        return TOTAL_ID

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class Commands(Application[Any]):
    def make(self, text: str) -> UUID:
        command = Command(text)
        self.save(command)
        return command.id


class Counting(ProcessApplication[Any]):
    @singledispatchmethod
    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        """Other events are ignored."""

    @policy.register(Command.Created)
    def _(self, domain_event: Any, process_event: ProcessEvent) -> None:
        if domain_event.text.startswith("fail"):
            raise RuntimeError(f"refusing {domain_event.text!r}")
        try:
            total = self.repository.get(TOTAL_ID)
        except Exception:  # AggregateNotFound
            total = Total()
        total.count_one()
        tally = Tally(domain_event.originator_id, os.getpid())
        process_event.collect_events(total, tally)

    def total(self) -> int:
        try:
            return int(self.repository.get(TOTAL_ID).count)
        except Exception:
            return 0


system = System(pipes=[[Commands, Counting]])
not_a_system = Commands


class Acquisition(Aggregate):
    """A process took a lease (``leader`` is the tracking name: ``"{leader}#{K}/{N}"``
    for partition K of N)."""

    def __init__(self, pid: int, at: float, follower: str, leader: str) -> None:
        self.pid = pid
        self.at = at
        self.follower = follower
        self.leader = leader


class Leases(Application[Any]):
    """The log of lease acquisitions, in the database the test shares."""


class _LeaseRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.leases: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        tracking_name = getattr(record, "tracking_name", None)
        if tracking_name is None:
            return
        if self.leases is None:
            self.leases = Leases()
        self.leases.save(Acquisition(os.getpid(), time.time(), record.follower, tracking_name))


if os.environ.get("RECORD_LEASES"):
    _logger = logging.getLogger("eventsourcing.system")
    _logger.addHandler(_LeaseRecorder())
    _logger.setLevel(logging.INFO)
