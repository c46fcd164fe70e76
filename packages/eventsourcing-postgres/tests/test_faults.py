"""Faults: dropped connections, unknown commit outcomes, timeouts.

Whatever happens to the connections, every acknowledged save is stored
exactly once and no save is ever half-stored.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Optional, Tuple
from uuid import UUID, uuid4

import psycopg
import pytest

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent, Tracking
from eventsourcing.postgres import Factory, PostgresProcessRecorder
from eventsourcing.postgres.commit import GroupCommitter, Save
from eventsourcing.postgres.datastore import TimedConnection
from eventsourcing.postgres.errors import ReadTimeout

Admin = psycopg.Connection[Any]
LARGE = 2000


def group_committer(recorder: object) -> GroupCommitter:
    committer = getattr(recorder, "_committer", None)
    assert isinstance(committer, GroupCommitter)
    return committer


class Account(Aggregate):
    def __init__(self) -> None:
        self.balance = Decimal(0)

    @event("Credited")
    def credit(self, amount: Decimal) -> None:
        self.balance += amount


class Bank(Application[Account]):
    pass


def terminate_sessions(admin: Admin, appname: str) -> int:
    """Terminate every session of the application (not this one); return how many."""
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid()",
        (appname,),
    ).fetchall()
    return sum(1 for (ok,) in rows if ok)


@pytest.fixture
def appname(monkeypatch: pytest.MonkeyPatch) -> str:
    """Names this test's sessions (libpq's PGAPPNAME), so only they are terminated."""
    name = f"es-fault-{uuid4().hex[:12]}"
    monkeypatch.setenv("PGAPPNAME", name)
    return name


def test_terminated_connections_mid_workload_lose_and_duplicate_nothing(
    pg_env: Dict[str, str], admin: Admin, appname: str
) -> None:
    writers, saves_per_writer = 4, 40
    kill_after = (10, 40, 80, 120)  # acknowledged saves before each round of terminations
    env = {**pg_env, "POSTGRES_POOL_SIZE": "3", "POSTGRES_MAX_OVERFLOW": "3"}
    acknowledged: List[UUID] = []
    failed: List[Tuple[UUID, BaseException]] = []
    unexpected: List[BaseException] = []
    lock = threading.Lock()
    progress = [threading.Event() for _ in kill_after]
    writers_done = threading.Event()
    killer_done = threading.Event()
    killed: List[int] = []

    with Bank(env=env) as app:

        def write() -> None:
            for i in range(saves_per_writer):
                if i == saves_per_writer - 1:
                    # Keep working until every round of terminations has happened.
                    killer_done.wait()
                account = Account()
                account.credit(Decimal("1.50"))
                try:
                    app.save(account)
                except OperationalError as e:
                    with lock:
                        failed.append((account.id, e))
                    continue
                except BaseException as e:  # pragma: no cover - reported below
                    unexpected.append(e)
                    return
                with lock:
                    acknowledged.append(account.id)
                    for threshold, reached in zip(kill_after, progress, strict=True):
                        if len(acknowledged) >= threshold:
                            reached.set()

        def read() -> None:
            # Reads are retried on fresh connections: they never fail here.
            try:
                while not writers_done.is_set():
                    with lock:
                        some = acknowledged[-1:]
                    for account_id in some:
                        assert app.repository.get(account_id).balance == Decimal("1.50")
                    app.log.select(1, 10)
            except BaseException as e:  # pragma: no cover - reported below
                unexpected.append(e)

        def kill() -> None:
            try:
                for reached in progress:
                    reached.wait()
                    # Replacement sessions may still be starting: try until one is hit.
                    count = 0
                    while count == 0:
                        count = terminate_sessions(admin, appname)
                    killed.append(count)
            finally:
                killer_done.set()

        threads = [threading.Thread(target=write) for _ in range(writers)]
        reader = threading.Thread(target=read)
        killer = threading.Thread(target=kill)
        for t in [*threads, reader, killer]:
            t.start()
        for t in threads:
            t.join()
        writers_done.set()
        reader.join()
        killer.join()

    assert unexpected == []
    assert len(killed) == len(kill_after) and all(k >= 1 for k in killed), killed
    stored = admin.execute(
        psycopg.sql.SQL(
            "SELECT originator_id, array_agg(originator_version ORDER BY originator_version) "
            "FROM {} GROUP BY originator_id"
        ).format(psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "bank_events"))
    ).fetchall()
    versions = dict(stored)
    # Acknowledged: both events there, once (the primary key forbids twice).
    for account_id in acknowledged:
        assert versions.get(account_id) == [1, 2]
    # Not acknowledged: all or nothing, never half.
    for account_id, _ in failed:
        assert versions.get(account_id) in (None, [1, 2])
    assert len(acknowledged) + len(failed) == writers * saves_per_writer
    assert set(versions) <= set(acknowledged) | {a for a, _ in failed}
    notification_ids = admin.execute(
        psycopg.sql.SQL("SELECT count(*), count(DISTINCT notification_id) FROM {}").format(
            psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "bank_events")
        )
    ).fetchone()
    assert notification_ids == (2 * len(versions), 2 * len(versions))


class CuttingProxy:
    """A TCP proxy to PostgreSQL that can break one exchange in a chosen way.

    ``cut_before()``: the next request from the client is dropped, and the
    connection closed: the server never sees it.
    ``cut_after()``: the next request reaches the server, the server's whole
    answer (up to ReadyForQuery) is swallowed, then the connection is closed:
    the server did the work, the client never hears of it.

    Or it goes silent, as a stopped server does whose kernel still takes
    the bytes: ``stall()`` drops whatever the open connections send either
    way (and, with ``new_ones=True``, connections opened afterwards are
    accepted and never answered); ``stall_answers()`` still delivers the
    open connections' requests but drops the server's answers.
    """

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode: Optional[str] = None
        self.cuts = 0
        self.lock = threading.Lock()
        self.sockets: List[socket.socket] = []
        # Per connection: whether its requests, and its answers, are dropped.
        self.stalls: List[Tuple[threading.Event, threading.Event]] = []
        self.stall_new = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_before(self) -> None:
        self.mode = "before"

    def cut_after(self) -> None:
        self.mode = "after"

    def stall(self, new_ones: bool = False) -> None:
        for requests, answers in self.stalls:
            requests.set()
            answers.set()
        self.stall_new = new_ones

    def stall_answers(self) -> None:
        for _, answers in self.stalls:
            answers.set()

    def close(self) -> None:
        self.listener.close()
        _hang_up(*self.sockets)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.stall_new:
                self.sockets.append(client)  # accepted, never answered
                continue
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            swallow = threading.Event()
            stalled = (threading.Event(), threading.Event())
            self.stalls.append(stalled)
            threading.Thread(
                target=self._requests, args=(client, server, swallow, stalled[0]), daemon=True
            ).start()
            threading.Thread(
                target=self._answers, args=(server, client, swallow, stalled[1]), daemon=True
            ).start()

    def _take_mode(self) -> Optional[str]:
        with self.lock:
            mode, self.mode = self.mode, None
            if mode:
                self.cuts += 1
            return mode

    def _requests(
        self,
        client: socket.socket,
        server: socket.socket,
        swallow: threading.Event,
        stalled: threading.Event,
    ) -> None:
        try:
            while data := client.recv(65536):
                if stalled.is_set():
                    continue
                mode = self._take_mode()
                if mode == "before":
                    _hang_up(client, server)
                    return
                if mode == "after":
                    swallow.set()
                server.sendall(data)
        except OSError:
            pass

    def _answers(
        self,
        server: socket.socket,
        client: socket.socket,
        swallow: threading.Event,
        stalled: threading.Event,
    ) -> None:
        buffer = b""
        try:
            while data := server.recv(65536):
                if stalled.is_set():
                    continue
                if not swallow.is_set():
                    client.sendall(data)
                    continue
                buffer += data
                # Skip whole messages (type byte, int32 length) until ReadyForQuery.
                while len(buffer) >= 5:
                    kind, length = buffer[:1], struct.unpack("!i", buffer[1:5])[0]
                    if len(buffer) < 1 + length:
                        break
                    buffer = buffer[1 + length :]
                    if kind == b"Z":
                        _hang_up(client, server)
                        return
        except OSError:
            pass


def _hang_up(*sockets: socket.socket) -> None:
    # shutdown() sends FIN at once, even while another thread is in recv().
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


@pytest.fixture
def proxy(pg_env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[CuttingProxy]:
    # Plain protocol from the first byte: no SSL or GSS negotiation to relay.
    monkeypatch.setenv("PGSSLMODE", "disable")
    monkeypatch.setenv("PGGSSENCMODE", "disable")
    p = CuttingProxy(pg_env["POSTGRES_HOST"], int(pg_env["POSTGRES_PORT"]))
    try:
        yield p
    finally:
        p.close()


def one_connection(pg_env: Dict[str, str], proxy: CuttingProxy) -> Dict[str, str]:
    return {
        **pg_env,
        "POSTGRES_PORT": str(proxy.port),
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "0",
    }


def test_a_commit_whose_answer_was_lost_is_reported_as_done(
    pg_env: Dict[str, str], proxy: CuttingProxy
) -> None:
    with Factory("", one_connection(pg_env, proxy)) as f:
        recorder = f.application_recorder()
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")]) == [1]
        cart = uuid4()
        batch = [StoredEvent(cart, v, "t", b"s") for v in (1, 2, 3)]
        proxy.cut_after()
        # Committed, answer lost: found to be there, not sent again, not a conflict.
        assert recorder.insert_events(batch) == [2, 3, 4]
        assert proxy.cuts == 1
        assert recorder.select_events(cart) == batch
        assert recorder.max_notification_id() == 4


@pytest.mark.parametrize("size", [2, LARGE])
def test_a_request_that_never_arrived_is_sent_again(
    pg_env: Dict[str, str], proxy: CuttingProxy, size: int
) -> None:
    with Factory("", one_connection(pg_env, proxy)) as f:
        recorder = f.process_recorder()
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")]) == [1]
        cart = uuid4()
        batch = [StoredEvent(cart, v, "t", b"s") for v in range(1, size + 1)]
        proxy.cut_before()
        ids = recorder.insert_events(batch, tracking=Tracking("up", 1))
        assert proxy.cuts == 1
        assert ids is not None and len(ids) == size
        assert recorder.select_events(cart) == batch
        assert [n.id for n in recorder.select_notifications(1, size + 1)] == [1, *ids]
        assert recorder.max_tracking_id("up") == 1


@pytest.mark.parametrize("cut", ["before", "after"])
def test_a_large_save_by_copy_whose_connection_was_cut_is_recorded_once(
    pg_env: Dict[str, str], proxy: CuttingProxy, cut: str
) -> None:
    # More than one chunk, no tracking: copied (eventsourcing.postgres.bulk).
    with Factory("", one_connection(pg_env, proxy)) as f:
        recorder = f.application_recorder()
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")]) == [1]
        cart = uuid4()
        batch = [StoredEvent(cart, v, "t", b"s") for v in range(1, LARGE + 1)]
        getattr(proxy, f"cut_{cut}")()
        ids = recorder.insert_events(batch)
        assert proxy.cuts == 1
        assert ids is not None and len(ids) == LARGE and ids == sorted(ids)
        assert recorder.select_events(cart) == batch
        assert [n.id for n in recorder.select_notifications(1, LARGE + 1)] == [1, *ids]


def test_a_read_whose_connection_was_dropped_is_retried(
    pg_env: Dict[str, str], proxy: CuttingProxy
) -> None:
    with Factory("", one_connection(pg_env, proxy)) as f:
        recorder = f.application_recorder()
        recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")])
        proxy.cut_before()
        assert [n.id for n in recorder.select_notifications(1, 10)] == [1]
        proxy.cut_after()
        assert recorder.max_notification_id() == 1
        assert proxy.cuts == 2


def test_a_statement_timeout_is_an_operational_error_and_records_nothing(
    pg_env: Dict[str, str], admin: Admin
) -> None:
    env = {**pg_env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}
    with Factory("", env) as f:
        recorder = f.application_recorder()
        with f.datastore.connection() as conn:
            conn.execute("SET statement_timeout = 200")
        table = psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")
        with admin.transaction():
            admin.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
            with pytest.raises(OperationalError, match="statement timeout"):
                recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
        assert recorder.max_notification_id() == 0
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")]) is not None


@pytest.mark.parametrize("cut", ["before", "after"])
def test_after_a_lost_connection_a_conflicting_save_fails_alone(
    pg_env: Dict[str, str], proxy: CuttingProxy, cut: str
) -> None:
    # The group was not committed (one of its saves conflicts): only that save
    # is refused, the others are sent again, as without a lost connection.
    with Factory("", one_connection(pg_env, proxy)) as f:
        recorder = f.process_recorder()
        assert isinstance(recorder, PostgresProcessRecorder)
        existing, fresh, other = uuid4(), uuid4(), uuid4()
        assert recorder.insert_events([StoredEvent(existing, 1, "t", b"s")]) == [1]
        recorder.insert_events([], tracking=Tracking("up", 1))
        group = [
            Save([StoredEvent(fresh, 1, "t", b"s")], ()),
            Save([StoredEvent(existing, 1, "t", b"other")], ()),
            Save([StoredEvent(other, 1, "t", b"s")], [Tracking("up", 1)]),
            Save([StoredEvent(other, 2, "t", b"s")], [Tracking("up", 2)]),
        ]
        getattr(proxy, f"cut_{cut}")()
        group_committer(recorder).record_group(group)
        assert proxy.cuts == 1
        outcomes = [save.outcome for save in group]
        assert isinstance(outcomes[1], IntegrityError)
        assert isinstance(outcomes[2], IntegrityError)
        assert isinstance(outcomes[0], list) and isinstance(outcomes[3], list)
        assert recorder.select_events(fresh) == [StoredEvent(fresh, 1, "t", b"s")]
        assert recorder.select_events(other) == [StoredEvent(other, 2, "t", b"s")]
        assert recorder.select_events(existing) == [StoredEvent(existing, 1, "t", b"s")]
        assert recorder.max_tracking_id("up") == 2


def test_after_a_lost_answer_a_committed_group_with_a_refused_save_is_found(
    pg_env: Dict[str, str], proxy: CuttingProxy
) -> None:
    # One save of the group inserted nothing (its position was taken), the
    # others were committed: each is told its own outcome.
    with Factory("", one_connection(pg_env, proxy)) as f:
        recorder = f.application_recorder()
        existing, x, y = uuid4(), uuid4(), uuid4()
        assert recorder.insert_events([StoredEvent(existing, 1, "t", b"s")]) == [1]
        group = [
            Save([StoredEvent(x, 1, "t", b"s")], ()),
            Save([StoredEvent(existing, 1, "t", b"other")], ()),
            Save([StoredEvent(y, 1, "t", b"s")], ()),
        ]
        proxy.cut_after()
        group_committer(recorder).record_group(group)
        assert proxy.cuts == 1
        assert group[0].outcome == [2] and group[2].outcome == [3]
        assert isinstance(group[1].outcome, IntegrityError)
        assert recorder.max_notification_id() == 3


# -- a server that stops answering -------------------------------------------
# The timings asserted here are the settings' promises (an error within the
# timeout + 10%), not performance.

READ_TIMEOUT = 1.0


def silent_env(pg_env: Dict[str, str], proxy: CuttingProxy) -> Dict[str, str]:
    return {
        **one_connection(pg_env, proxy),
        "POSTGRES_READ_TIMEOUT": str(READ_TIMEOUT),
        "POSTGRES_CONNECT_TIMEOUT": "2",
    }


def test_a_read_from_a_server_that_stopped_answering_fails_within_the_read_timeout(
    pg_env: Dict[str, str], proxy: CuttingProxy
) -> None:
    with Factory("", silent_env(pg_env, proxy)) as f:
        recorder = f.application_recorder()
        recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="did not answer within 1s") as info:
            recorder.select_notifications(1, 10)
        elapsed = time.monotonic() - started
        assert READ_TIMEOUT <= elapsed <= READ_TIMEOUT * 1.1
        assert "POSTGRES_READ_TIMEOUT" in str(info.value)
        # The silent connection was discarded: a new one is used.
        assert [n.id for n in recorder.select_notifications(1, 10)] == [1]


@pytest.mark.parametrize("stall", ["requests", "answers"])
def test_a_save_whose_connection_went_silent_is_resolved_on_a_fresh_one(
    pg_env: Dict[str, str], proxy: CuttingProxy, stall: str
) -> None:
    # Requests dropped: not recorded, so sent again. Answers dropped: the
    # commit happened, and is found on the fresh connection.
    with Factory("", silent_env(pg_env, proxy)) as f:
        recorder = f.application_recorder()
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")]) == [1]
        if stall == "requests":
            proxy.stall()
        else:
            proxy.stall_answers()
        cart = uuid4()
        batch = [StoredEvent(cart, v, "t", b"s") for v in (1, 2)]
        started = time.monotonic()
        ids = recorder.insert_events(batch)
        elapsed = time.monotonic() - started
        assert ids is not None and len(ids) == 2
        assert recorder.select_events(cart) == batch
        assert READ_TIMEOUT <= elapsed <= READ_TIMEOUT * 1.1 + 1.0


def test_a_save_to_a_server_that_stopped_answering_says_its_outcome_is_unknown(
    pg_env: Dict[str, str], proxy: CuttingProxy, admin: Admin
) -> None:
    env = silent_env(pg_env, proxy)
    with Factory("", env) as f:
        recorder = f.application_recorder()
        recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")])
        proxy.stall(new_ones=True)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="could not be checked") as info:
            recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
        elapsed = time.monotonic() - started
        assert "did not answer within 1s" in str(info.value)
        # The read timeout, then the connect timeout of the fresh connection.
        assert READ_TIMEOUT + 2 <= elapsed <= (READ_TIMEOUT + 2) * 1.1


def test_waiting_for_the_table_lock_does_not_count_against_the_read_timeout(
    pg_env: Dict[str, str], admin: Admin
) -> None:
    env = {**pg_env, "POSTGRES_READ_TIMEOUT": str(READ_TIMEOUT)}
    with Factory("", env) as f:
        recorder = f.application_recorder()
        table = psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")
        outcome: List[Any] = []
        with admin.transaction():
            admin.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
            saver = threading.Thread(
                target=lambda: outcome.append(
                    _outcome(recorder.insert_events, [StoredEvent(uuid4(), 1, "t", b"s")])
                )
            )
            saver.start()
            # Held for twice the read timeout: the save waits, it does not fail.
            saver.join(timeout=2 * READ_TIMEOUT)
            assert saver.is_alive() and outcome == []
        saver.join()
        assert outcome == [[1]]


def test_a_lock_wait_longer_than_the_lock_timeout_is_the_servers_error_not_a_read_timeout(
    pg_env: Dict[str, str], admin: Admin
) -> None:
    env = {**pg_env, "POSTGRES_READ_TIMEOUT": str(READ_TIMEOUT), "POSTGRES_LOCK_TIMEOUT": "1"}
    with Factory("", env) as f:
        recorder = f.application_recorder()
        table = psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")
        with admin.transaction():
            admin.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
            with pytest.raises(OperationalError, match="lock timeout") as info:
                recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
        assert not isinstance(info.value, ReadTimeout)
        assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")]) is not None


def test_waiting_for_notifications_does_not_count_against_the_read_timeout(
    pg_env: Dict[str, str], admin: Admin
) -> None:
    env = {**pg_env, "POSTGRES_READ_TIMEOUT": str(READ_TIMEOUT)}
    channel = f"es_{uuid4().hex}"
    received: List[Any] = []
    with Factory("", env) as f, f.datastore.connection() as conn:

        def listen() -> None:
            received.append(_outcome(lambda: [n.payload for n in conn.notifies(stop_after=1)]))

        conn.execute(f"LISTEN {channel}")
        listener = threading.Thread(target=listen)
        listener.start()
        # Silent for twice the read timeout: still listening, not failed.
        listener.join(timeout=2 * READ_TIMEOUT)
        assert listener.is_alive() and received == []
        admin.execute("SELECT pg_notify(%s, 'hello')", (channel,))
        listener.join()
        assert received == [["hello"]]
        # And the read timeout applies again afterwards.
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert isinstance(conn, TimedConnection) and not conn._listening


def _outcome(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except Exception as e:  # pragma: no cover - reported by the assertion
        return e


def test_a_server_that_accepts_but_never_answers_fails_within_the_connect_timeout(
    pg_env: Dict[str, str], proxy: CuttingProxy
) -> None:
    proxy.stall(new_ones=True)
    env = {**pg_env, "POSTGRES_PORT": str(proxy.port), "POSTGRES_CONNECT_TIMEOUT": "2"}
    started = time.monotonic()
    cannot_connect = f"Cannot connect to PostgreSQL at 127.0.0.1:{proxy.port}"
    with pytest.raises(OperationalError, match=cannot_connect):
        Bank(env=env)
    elapsed = time.monotonic() - started
    assert 2 <= elapsed <= 2 * 1.1


def test_a_refused_connection_fails_at_once(pg_env: Dict[str, str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed below: nothing listens there
    env = {**pg_env, "POSTGRES_PORT": str(port)}  # the default connect timeout: 30 s
    started = time.monotonic()
    cannot_connect = f"Cannot connect to PostgreSQL at 127.0.0.1:{port}"
    with pytest.raises(OperationalError, match=cannot_connect) as info:
        Bank(env=env)
    assert time.monotonic() - started < 1
    assert "refused" in str(info.value)


# -- the native async recorders (eventsourcing.postgres.asyncrecorders) -----------
# The same faults, the same outcomes: the async recorders send the sync
# recorders' statements and resolve unknown outcomes with the sync engine's check.


def test_async_a_commit_whose_answer_was_lost_is_reported_as_done(
    pg_env: Dict[str, str], proxy: CuttingProxy
) -> None:
    async def scenario() -> None:
        with Factory("", one_connection(pg_env, proxy)) as f:
            recorder = f.async_application_recorder()
            assert await recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")]) == [1]
            cart = uuid4()
            batch = [StoredEvent(cart, v, "t", b"s") for v in (1, 2, 3)]
            proxy.cut_after()
            assert await recorder.insert_events(batch) == [2, 3, 4]
            assert proxy.cuts == 1
            assert await recorder.select_events(cart) == batch
            assert await recorder.max_notification_id() == 4
            await recorder.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("size", [1, 2, LARGE])
def test_async_a_request_that_never_arrived_is_sent_again(
    pg_env: Dict[str, str], proxy: CuttingProxy, size: int
) -> None:
    async def scenario() -> None:
        with Factory("", one_connection(pg_env, proxy)) as f:
            recorder = f.async_process_recorder()
            assert await recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")]) == [1]
            cart = uuid4()
            batch = [StoredEvent(cart, v, "t", b"s") for v in range(1, size + 1)]
            proxy.cut_before()
            ids = await recorder.insert_events(batch, tracking=Tracking("up", 1))
            assert proxy.cuts == 1
            assert ids is not None and len(ids) == size
            assert await recorder.select_events(cart) == batch
            notifications = await recorder.select_notifications(1, size + 1)
            assert [n.id for n in notifications] == [1, *ids]
            assert await recorder.max_tracking_id("up") == 1
            assert await recorder.has_tracking_id("up", 1)
            await recorder.close()

    asyncio.run(scenario())


def test_async_a_read_whose_connection_was_dropped_is_retried(
    pg_env: Dict[str, str], proxy: CuttingProxy
) -> None:
    async def scenario() -> None:
        with Factory("", one_connection(pg_env, proxy)) as f:
            recorder = f.async_application_recorder()
            await recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")])
            proxy.cut_before()
            assert [n.id for n in await recorder.select_notifications(1, 10)] == [1]
            proxy.cut_after()
            assert await recorder.max_notification_id() == 1
            assert proxy.cuts == 2
            await recorder.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("stall", ["requests", "answers"])
def test_async_a_save_whose_connection_went_silent_is_resolved_on_a_fresh_one(
    pg_env: Dict[str, str], proxy: CuttingProxy, stall: str
) -> None:
    async def scenario() -> float:
        with Factory("", silent_env(pg_env, proxy)) as f:
            recorder = f.async_application_recorder()
            assert await recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"first")]) == [1]
            if stall == "requests":
                proxy.stall()
            else:
                proxy.stall_answers()
            cart = uuid4()
            batch = [StoredEvent(cart, v, "t", b"s") for v in (1, 2)]
            started = time.monotonic()
            ids = await recorder.insert_events(batch)
            elapsed = time.monotonic() - started
            assert ids is not None and len(ids) == 2
            assert await recorder.select_events(cart) == batch
            await recorder.close()
            return elapsed

    elapsed = asyncio.run(scenario())
    # The async connection's read timeout, then the sync pool's silent
    # connection found and replaced (its own read timeout), then the check.
    assert READ_TIMEOUT <= elapsed <= 2 * READ_TIMEOUT * 1.1 + 1.0


def test_async_a_read_from_a_server_that_stopped_answering_fails_within_the_read_timeout(
    pg_env: Dict[str, str], proxy: CuttingProxy
) -> None:
    async def scenario() -> None:
        with Factory("", silent_env(pg_env, proxy)) as f:
            recorder = f.async_application_recorder()
            await recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
            proxy.stall()
            started = time.monotonic()
            with pytest.raises(ReadTimeout, match="did not answer within 1s"):
                await recorder.select_notifications(1, 10)
            assert READ_TIMEOUT <= time.monotonic() - started <= READ_TIMEOUT * 1.1
            assert [n.id for n in await recorder.select_notifications(1, 10)] == [1]
            await recorder.close()

    asyncio.run(scenario())


def test_async_waiting_for_the_table_lock_does_not_count_against_the_read_timeout(
    pg_env: Dict[str, str], admin: Admin
) -> None:
    env = {**pg_env, "POSTGRES_READ_TIMEOUT": str(READ_TIMEOUT)}
    table = psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")

    async def scenario() -> None:
        with Factory("", env) as f:
            recorder = f.async_application_recorder()
            await recorder.max_notification_id()
            with admin.transaction():
                admin.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
                saving = asyncio.ensure_future(
                    recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
                )
                # Held for twice the read timeout: the save waits, it does not fail.
                done, _ = await asyncio.wait([saving], timeout=2 * READ_TIMEOUT)
                assert not done
            assert await saving == [1]
            await recorder.close()

    asyncio.run(scenario())


def test_async_a_group_past_the_lock_timeout_fails_each_save_with_the_servers_error(
    pg_env: Dict[str, str], admin: Admin
) -> None:
    env = {**pg_env, "POSTGRES_READ_TIMEOUT": str(READ_TIMEOUT), "POSTGRES_LOCK_TIMEOUT": "1"}
    table = psycopg.sql.Identifier(pg_env["POSTGRES_SCHEMA"], "stored_events")

    async def scenario() -> None:
        with Factory("", env) as f:
            recorder = f.async_application_recorder()
            await recorder.max_notification_id()
            with admin.transaction():
                admin.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
                started = time.monotonic()
                outcomes = await asyncio.gather(
                    *(
                        recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")])
                        for _ in range(5)
                    ),
                    return_exceptions=True,
                )
                # One transaction (group commit) waited for the lock, once: the
                # others are not sent again one after another.
                assert time.monotonic() - started < 2.5
            assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
            assert all("lock timeout" in str(o) for o in outcomes), outcomes
            assert not any(isinstance(o, ReadTimeout) for o in outcomes)
            assert await recorder.max_notification_id() == 0
            assert await recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"s")]) != []
            await recorder.close()

    asyncio.run(scenario())
