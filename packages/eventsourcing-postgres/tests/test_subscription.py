"""PostgreSQL subscriptions: LISTEN/NOTIFY as a hint, polling as the safety net, faults.

Whatever happens to the subscriber's connections (terminated, a server that
"restarts" behind a proxy), it yields every committed event once, in order.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Dict, Iterator, List, Optional

import pytest

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import Factory, PostgresSubscription
from eventsourcing.postgres.recorders import PostgresApplicationRecorder
from eventsourcing.subscription import Subscription
from eventsourcing.utils import ConfigurationError

from .conftest import connect_admin
from .test_faults import _hang_up

TOPIC = "tests:Happened"


def insert(recorder: ApplicationRecorder, count: int = 1) -> List[int]:
    from uuid import uuid4

    originator_id = uuid4()
    events = [StoredEvent(originator_id, v, TOPIC, b"{}") for v in range(1, count + 1)]
    return list(recorder.insert_events(events) or ())


class Collector(threading.Thread):
    """Iterates a subscription, noting when each notification arrived."""

    def __init__(self, subscription: Subscription) -> None:
        super().__init__(daemon=True)
        self.subscription = subscription
        self.ids: List[int] = []
        self.arrived: Dict[int, float] = {}
        self.changed = threading.Condition()
        self.error: Optional[BaseException] = None
        self.start()

    def run(self) -> None:
        try:
            for n in self.subscription:
                with self.changed:
                    self.ids.append(n.id)
                    self.arrived[n.id] = time.monotonic()
                    self.changed.notify_all()
        except BaseException as e:
            self.error = e

    def wait_for(self, notification_id: int, timeout: float = 60) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: notification_id in self.arrived, timeout)

    def stop(self) -> List[int]:
        self.subscription.stop()
        self.join(60)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error
        return self.ids


def wait_until_listening(subscription: Subscription) -> int:
    """The LISTEN session's pid, once the subscription has caught up and listens."""
    assert isinstance(subscription, PostgresSubscription)
    deadline = time.monotonic() + 30
    while subscription.backend_pid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = subscription.backend_pid
    assert pid is not None
    return pid


def recorder_with(env: Dict[str, str], **settings: str) -> PostgresApplicationRecorder:
    factory = Factory(application_name="", env={**env, **settings})
    recorder = factory.application_recorder()
    assert isinstance(recorder, PostgresApplicationRecorder)
    return recorder


def test_listen_wakes_the_subscriber_long_before_the_poll_interval(
    pg_env: Dict[str, str],
) -> None:
    recorder = recorder_with(pg_env, POSTGRES_SUBSCRIPTION_POLL_INTERVAL="10")
    try:
        with recorder.subscribe() as subscription:
            assert isinstance(subscription, PostgresSubscription)
            assert not subscription.listening  # not needed to catch up
            collector = Collector(subscription)
            wait_until_listening(subscription)  # caught up, waiting (10 s of poll)
            for _ in range(5):
                sent = time.monotonic()
                (notification_id,) = insert(recorder)
                assert collector.wait_for(notification_id, timeout=5)
                # Well under a second: NOTIFY woke it, not the 10 s poll.
                assert collector.arrived[notification_id] - sent < 1.0
            collector.stop()
    finally:
        recorder.close()


def test_without_notify_no_notification_is_sent_and_polling_delivers(
    pg_env: Dict[str, str],
) -> None:
    poll = 0.3
    recorder = recorder_with(
        pg_env, POSTGRES_SUBSCRIPTION_NOTIFY="false", POSTGRES_SUBSCRIPTION_POLL_INTERVAL=str(poll)
    )
    listener = connect_admin()
    try:
        listener.execute(f'LISTEN "{recorder.notify_channel}"')
        with recorder.subscribe() as subscription:
            assert not subscription.listening
            collector = Collector(subscription)
            for _ in range(5):
                sent = time.monotonic()
                (notification_id,) = insert(recorder)
                assert collector.wait_for(notification_id, timeout=30)
                assert collector.arrived[notification_id] - sent < poll + 0.5
            collector.stop()
        assert list(listener.notifies(timeout=0.2, stop_after=1)) == []
        # With NOTIFY on (the default), an insert does send one.
        with_notify = recorder_with(pg_env)
        try:
            insert(with_notify)
            (notify,) = listener.notifies(timeout=5, stop_after=1)
            assert notify.channel == recorder.notify_channel
        finally:
            with_notify.close()
    finally:
        listener.close()
        recorder.close()


def test_a_terminated_listen_connection_is_replaced_without_gaps_or_duplicates(
    pg_env: Dict[str, str],
) -> None:
    recorder = recorder_with(pg_env, POSTGRES_SUBSCRIPTION_POLL_INTERVAL="0.2")
    admin = connect_admin()
    written: List[int] = []
    try:
        with recorder.subscribe() as subscription:
            assert isinstance(subscription, PostgresSubscription)
            collector = Collector(subscription)
            killed = []
            for round_ in range(4):
                for _ in range(20):
                    written.extend(insert(recorder, 1 + round_ % 3))
                assert collector.wait_for(written[-1])
                pid = wait_until_listening(subscription)
                admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
                killed.append(pid)
            for _ in range(20):
                written.extend(insert(recorder, 2))
            assert collector.wait_for(written[-1])
            # It listens again, on a new connection.
            deadline = time.monotonic() + 30
            while subscription.backend_pid in (None, *killed) and time.monotonic() < deadline:
                insert(recorder)
                time.sleep(0.05)
            assert subscription.backend_pid not in (None, *killed)
            got = collector.stop()
        assert got[: len(written)] == written
        assert len(set(got)) == len(got)
    finally:
        admin.close()
        recorder.close()


class RestartingProxy:
    """A TCP proxy to PostgreSQL that can behave like a server restart:
    every connection is hung up, and new ones are refused until ``up()``."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepting = threading.Event()
        self.accepting.set()
        self.sockets: List[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def down(self) -> None:
        self.accepting.clear()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        _hang_up(*sockets)

    def up(self) -> None:
        self.accepting.set()

    def close(self) -> None:
        self.listener.close()
        self.down()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.accepting.is_set():
                _hang_up(client)
                continue
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    _hang_up(source, target)


@pytest.fixture
def proxy(pg_env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[RestartingProxy]:
    monkeypatch.setenv("PGSSLMODE", "disable")
    monkeypatch.setenv("PGGSSENCMODE", "disable")
    p = RestartingProxy(pg_env["POSTGRES_HOST"], int(pg_env["POSTGRES_PORT"]))
    try:
        yield p
    finally:
        p.close()


def test_a_subscriber_resumes_after_its_server_restarts(
    pg_env: Dict[str, str], proxy: RestartingProxy
) -> None:
    writer = recorder_with(pg_env)  # direct: the writer keeps working meanwhile
    subscriber = recorder_with(
        pg_env, POSTGRES_PORT=str(proxy.port), POSTGRES_SUBSCRIPTION_POLL_INTERVAL="0.2"
    )
    written: List[int] = []
    try:
        with subscriber.subscribe() as subscription:
            collector = Collector(subscription)
            for _ in range(10):
                written.extend(insert(writer, 2))
            assert collector.wait_for(written[-1])
            proxy.down()
            for _ in range(10):
                written.extend(insert(writer, 3))
            time.sleep(0.5)  # several poll intervals while "the server is down"
            proxy.up()
            for _ in range(10):
                written.extend(insert(writer, 1))
            assert collector.wait_for(written[-1])
            got = collector.stop()
        assert got == written
    finally:
        subscriber.close()
        writer.close()


def test_stop_returns_promptly_while_waiting_on_listen(pg_env: Dict[str, str]) -> None:
    recorder = recorder_with(pg_env, POSTGRES_SUBSCRIPTION_POLL_INTERVAL="3600")
    try:
        subscription = recorder.subscribe()
        collector = Collector(subscription)
        time.sleep(0.1)
        assert collector.stop() == []
        subscription.close()
        subscription.close()  # idempotent
    finally:
        recorder.close()


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("POSTGRES_SUBSCRIPTION_POLL_INTERVAL", "soon", "expected a number >= 0.001"),
        ("POSTGRES_SUBSCRIPTION_POLL_INTERVAL", "0", "expected a number >= 0.001"),
        ("POSTGRES_SUBSCRIPTION_NOTIFY", "maybe", "is not a valid boolean"),
    ],
)
def test_invalid_settings_name_the_variable(
    pg_env: Dict[str, str], key: str, value: str, words: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"{key}='{value}'.*{words}"):
        Factory(application_name="", env={**pg_env, key: value})


def test_channels_differ_per_schema_and_fit_in_an_identifier() -> None:
    from eventsourcing.postgres.subscription import notify_channel

    long = "x" * 63
    assert notify_channel("a", "stored_events") != notify_channel("b", "stored_events")
    assert len(notify_channel("s" * 63, long).encode()) <= 63
    assert notify_channel("public", long) != notify_channel("public", long[:-1] + "y")


def test_conformance_across_forced_reconnects(pg_env: Dict[str, str]) -> None:
    """The suite's property, with this backend's way of breaking a connection."""
    from eventsourcing_conformance import Backend
    from eventsourcing_conformance.subscriptions import check_forced_reconnect

    admin = connect_admin()
    terminated: List[int] = []

    def disconnect(subscription: Subscription) -> None:
        assert isinstance(subscription, PostgresSubscription)
        pid = subscription.backend_pid
        if pid is not None:
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
            terminated.append(pid)

    try:
        backend = Backend(
            "postgres",
            "postgres",
            new_store=lambda: {**pg_env, "POSTGRES_SUBSCRIPTION_POLL_INTERVAL": "0.1"},
        )
        check_forced_reconnect(backend, disconnect, rounds=4)
    finally:
        admin.close()
    assert len(terminated) >= 2  # it listened again after being cut off
