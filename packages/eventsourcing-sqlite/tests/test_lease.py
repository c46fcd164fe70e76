"""The SQLite lease (a file lock): waiting for it, and losing it.

A standby takes the lease within moments of the holder letting go. A holder
whose lock file was removed (so that another process could lock a new file
of the same name) finds it before committing its next page, stops
processing and stands by: the other takes over, every notification once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, List
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.sqlite import SQLiteDatastore, SQLiteProcessRecorder
from eventsourcing.system import ProcessApplication, ProcessEvent, ProcessRunner, System

TIMEOUT = 30.0


class Command(Aggregate):
    def __init__(self, number: int) -> None:
        self.number = number


class Tally(Aggregate):
    """One per processed command: which replica (``REPLICA``) processed it."""

    def __init__(self, command_id: UUID, replica: str) -> None:
        self.command_id = command_id
        self.replica = replica

    @staticmethod
    def create_id(command_id: UUID, replica: str = "") -> UUID:
        return uuid5(NAMESPACE_URL, f"/tallies/{command_id}")


class Commands(Application[Any]):
    pass


class Counting(ProcessApplication[Any]):
    @singledispatchmethod
    def policy(self, domain_event: DomainEvent, process_event: ProcessEvent) -> None:
        """Other events are ignored."""

    @policy.register(Command.Created)
    def _(self, domain_event: Any, process_event: ProcessEvent) -> None:
        process_event.collect_events(Tally(domain_event.originator_id, self.env["REPLICA"]))


system = System(pipes=[[Commands, Counting]])


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_a_standby_takes_the_lease_soon_after_the_holder_lets_go(tmp_path: Path) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "events.sqlite"))
    recorder = SQLiteProcessRecorder(datastore)
    holder, standby = recorder.lease("F", "L"), recorder.lease("F", "L")
    stopping = threading.Event()
    assert holder.acquire(1.0, stopping)
    started = time.monotonic()
    assert not standby.acquire(0.2, stopping)  # waits out its timeout
    assert time.monotonic() - started >= 0.15
    took: List[float] = []

    def wait() -> None:
        if standby.acquire(TIMEOUT, stopping):
            took.append(time.monotonic())

    waiter = threading.Thread(target=wait)
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not took  # waits while the lock is held
    released = time.monotonic()
    holder.close()
    waiter.join(TIMEOUT)
    assert took and took[0] - released < 0.5
    assert standby.still_held()
    standby.close()
    assert not standby.still_held()
    datastore.close()


def test_a_process_whose_lock_file_was_removed_stops_and_the_other_takes_over(
    tmp_path: Path,
) -> None:
    env = {
        "PERSISTENCE_MODULE": "sqlite",
        "COMMANDS_SQLITE_DBNAME": str(tmp_path / "commands.sqlite"),
        "COUNTING_SQLITE_DBNAME": str(tmp_path / "counting.sqlite"),
        "SQLITE_SUBSCRIPTION_POLL_INTERVAL": "0.01",
        "PROCESSING_LEASE_INTERVAL": "0.1",
        "PROCESSING_BATCH_SIZE": "5",
    }
    commands = Commands(env=env)
    counting = Counting(env={**env, "REPLICA": "reader"})
    taken: List[str] = []
    a = ProcessRunner(
        system,
        env={**env, "REPLICA": "a"},
        apps=["Counting"],
        on_lease=lambda *_: taken.append("a"),
    )
    b = ProcessRunner(
        system,
        env={**env, "REPLICA": "b"},
        apps=["Counting"],
        on_lease=lambda *_: taken.append("b"),
    )
    ids: List[UUID] = []

    def save(count: int) -> None:
        for _ in range(count):
            command = Command(len(ids))
            commands.save(command)
            ids.append(command.id)

    def tracked() -> int:
        return counting.process_recorder.max_tracking_id("Commands")

    with a:
        (consumer_a,) = a.consumers
        assert consumer_a.has_lease.wait(TIMEOUT)
        with b:
            save(40)
            wait_for(lambda: tracked() == 40, "a processed the first commands")
            (lock_file,) = tmp_path.glob("counting.sqlite.lease-*.lock")
            lock_file.unlink()
            (consumer_b,) = b.consumers
            assert consumer_b.has_lease.wait(TIMEOUT), "b did not take over"
            save(40)
            wait_for(lambda: tracked() == 80, "b processed the next commands")
            wait_for(lambda: not consumer_a.has_lease.is_set(), "a stood by")
            assert consumer_a.is_alive() and not a.errors and not b.errors
    assert taken[:2] == ["a", "b"]
    replicas = [counting.repository.get(Tally.create_id(i)).replica for i in ids]
    assert replicas == ["a"] * 40 + ["b"] * 40
    commands.close()
    counting.close()
