"""The PostgreSQL lease: waiting for it, and losing it.

A standby waits on the advisory lock itself, so it takes over as soon as the
holder's session ends. A holder whose lease connection is cut (here by a TCP
proxy that hangs up the lease's connection only) finds it before committing
its next page, stops processing and stands by: the standby takes over and
every notification is processed once.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple
from uuid import NAMESPACE_URL, UUID, uuid5

import psycopg
import pytest

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.lease import Lease
from eventsourcing.postgres import Factory
from eventsourcing.system import ProcessApplication, ProcessEvent, ProcessRunner, System

from .test_faults import _hang_up
from .test_subscription import _pipe

TIMEOUT = 30.0
Admin = psycopg.Connection[Any]


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


class LeaseCuttingProxy:
    """A TCP proxy to PostgreSQL that can hang up the connections of leases
    (recognised by the ``application_name`` in their startup message), and
    leaves the others alone."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: List[Tuple[socket.socket, socket.socket, bytes]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_leases(self) -> int:
        with self.lock:
            cut = [p for p in self.pairs if b"eventsourcing-lease" in p[2]]
        for client, server, _ in cut:
            _hang_up(client, server)
        return len(cut)

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for client, server, _ in self.pairs:
                _hang_up(client, server)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client: socket.socket) -> None:
        try:
            first = client.recv(65536)  # the startup message (SSL is disabled)
            server = socket.create_connection(self.upstream)
            server.sendall(first)
        except OSError:
            _hang_up(client)
            return
        with self.lock:
            self.pairs.append((client, server, first))
        threading.Thread(target=_pipe, args=(server, client), daemon=True).start()
        _pipe(client, server)


@pytest.fixture
def proxy(pg_env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[LeaseCuttingProxy]:
    # Plain protocol from the first byte: the startup message can be read.
    monkeypatch.setenv("PGSSLMODE", "disable")
    monkeypatch.setenv("PGGSSENCMODE", "disable")
    p = LeaseCuttingProxy(pg_env["POSTGRES_HOST"], int(pg_env["POSTGRES_PORT"]))
    try:
        yield p
    finally:
        p.close()


def waiting_for(admin: Admin, lease: Lease) -> int:
    """How many sessions wait for ``lease``'s advisory lock."""
    unsigned = lease.key & 0xFFFFFFFFFFFFFFFF
    row = admin.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid::bigint = %s AND objid::bigint = %s",
        (unsigned >> 32, unsigned & 0xFFFFFFFF),
    ).fetchone()
    return int(row[0]) if row else 0


def test_a_standby_takes_the_lease_as_soon_as_the_holders_session_ends(
    factory: Factory, admin: Admin
) -> None:
    recorder = factory.process_recorder()
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
    wait_for(lambda: waiting_for(admin, standby) == 1, "the standby waits on the lock")
    released = time.monotonic()
    holder.close()
    waiter.join(TIMEOUT)
    assert took and took[0] - released < 1.0, "the standby waited for a retry"
    assert standby.still_held()
    standby.close()
    assert not standby.still_held()


def test_interrupt_ends_a_wait_for_the_lease(factory: Factory, admin: Admin) -> None:
    recorder = factory.process_recorder()
    holder, standby = recorder.lease("F", "L"), recorder.lease("F", "L")
    stopping = threading.Event()
    assert holder.acquire(1.0, stopping)
    results: List[bool] = []
    waiter = threading.Thread(target=lambda: results.append(standby.acquire(TIMEOUT, stopping)))
    waiter.start()
    wait_for(lambda: waiting_for(admin, standby) == 1, "the standby waits on the lock")
    started = time.monotonic()
    stopping.set()
    standby.interrupt()
    waiter.join(TIMEOUT)
    assert results == [False]
    assert time.monotonic() - started < 5.0
    holder.close()
    standby.close()


def test_a_process_whose_lease_connection_is_cut_stops_and_the_standby_takes_over(
    pg_env: Dict[str, str], proxy: LeaseCuttingProxy
) -> None:
    settings = {**pg_env, "PROCESSING_LEASE_INTERVAL": "0.1", "PROCESSING_BATCH_SIZE": "5"}
    # Replica a reaches the database through the proxy, b directly.
    env_a = {**settings, "POSTGRES_PORT": str(proxy.port), "REPLICA": "a"}
    env_b = {**settings, "REPLICA": "b"}
    commands = Commands(env=pg_env)
    counting = Counting(env={**pg_env, "REPLICA": "reader"})
    taken: List[str] = []
    a = ProcessRunner(system, env=env_a, apps=["Counting"], on_lease=lambda *_: taken.append("a"))
    b = ProcessRunner(system, env=env_b, apps=["Counting"], on_lease=lambda *_: taken.append("b"))
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
            assert proxy.cut_leases() == 1
            (consumer_b,) = b.consumers
            assert consumer_b.has_lease.wait(TIMEOUT), "b did not take over"
            save(40)
            wait_for(lambda: tracked() == 80, "b processed the next commands")
            # a found its lease gone (at its next page) and stands by.
            wait_for(lambda: not consumer_a.has_lease.is_set(), "a stood by")
            assert consumer_a.is_alive() and not a.errors and not b.errors
    # (a may take the lease again once b stops.)
    assert taken[:2] == ["a", "b"]
    # Exactly once, and each command by the replica active when it came.
    replicas = [counting.repository.get(Tally.create_id(i)).replica for i in ids]
    assert replicas == ["a"] * 40 + ["b"] * 40
    recorded = counting.recorder.select_notifications(1, 1000)
    assert len(recorded) == 80
    commands.close()
    counting.close()
