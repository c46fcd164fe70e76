"""SQLite recorders on a real file and in memory: contract, layout, concurrency."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Iterator, List
from uuid import UUID, uuid4

import pytest

from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    Notification,
    ProgrammingError,
    StoredEvent,
    Tracking,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteDatastore,
    SQLiteProcessRecorder,
)


@pytest.fixture(params=["file", "memory"])
def datastore(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteDatastore]:
    db_name = str(tmp_path / "events.sqlite") if request.param == "file" else ":memory:"
    store = SQLiteDatastore(db_name)
    yield store
    store.close()


def application_recorder(datastore: SQLiteDatastore) -> SQLiteApplicationRecorder:
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    return recorder


def process_recorder(datastore: SQLiteDatastore) -> SQLiteProcessRecorder:
    recorder = SQLiteProcessRecorder(datastore)
    recorder.create_table()
    return recorder


def event(originator_id: UUID, version: int, topic: str = "m:Happened") -> StoredEvent:
    return StoredEvent(originator_id, version, topic, f"state {version}".encode())


def test_aggregate_recorder_selects_by_version_range_order_and_limit(
    datastore: SQLiteDatastore,
) -> None:
    recorder = SQLiteAggregateRecorder(datastore, "stored_snapshots")
    recorder.create_table()
    a, b = uuid4(), uuid4()
    assert recorder.insert_events([event(a, v) for v in (1, 2, 3, 4)]) is None
    recorder.insert_events([event(b, 1)])

    def versions(**kwargs: object) -> List[int]:
        return [s.originator_version for s in recorder.select_events(a, **kwargs)]  # type: ignore[arg-type]

    assert versions() == [1, 2, 3, 4]
    assert versions(gt=1) == [2, 3, 4]
    assert versions(lte=3) == [1, 2, 3]
    assert versions(gt=1, lte=3) == [2, 3]
    assert versions(desc=True) == [4, 3, 2, 1]
    assert versions(desc=True, limit=1) == [4]
    assert versions(gt=1, lte=3, desc=True, limit=1) == [3]
    assert versions(limit=2) == [1, 2]
    assert versions(limit=0) == []
    with pytest.raises(DataError, match="limit"):
        versions(limit=-1)
    with pytest.raises(InterfaceError, match="gt must be an int"):
        versions(gt="1")
    assert recorder.select_events(uuid4()) == []
    assert recorder.select_events(a)[1] == event(a, 2)


def test_conflict_records_nothing_of_the_batch(datastore: SQLiteDatastore) -> None:
    recorder = application_recorder(datastore)
    a, b = uuid4(), uuid4()
    recorder.insert_events([event(a, 1)])
    with pytest.raises(IntegrityError, match="Nothing recorded"):
        recorder.insert_events([event(b, 1), event(a, 2), event(a, 1, topic="m:Other")])
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(b, 1), event(b, 1)])
    assert recorder.select_events(b) == []
    assert recorder.select_events(a) == [event(a, 1)]
    assert recorder.max_notification_id() == 1
    # The failed inserts left no transaction open: the next insert works.
    assert recorder.insert_events([event(b, 1)]) == [2]


def test_insert_returns_consecutive_notification_ids(datastore: SQLiteDatastore) -> None:
    recorder = application_recorder(datastore)
    a = uuid4()
    assert recorder.max_notification_id() == 0
    assert recorder.insert_events([]) == []
    assert recorder.insert_events([event(a, 1), event(a, 2), event(a, 3)]) == [1, 2, 3]
    assert recorder.insert_events([event(a, 4)]) == [4]
    assert recorder.max_notification_id() == 4
    notifications = recorder.select_notifications(1, 10)
    assert [n.id for n in notifications] == [1, 2, 3, 4]
    assert notifications[0] == Notification(
        originator_id=a, originator_version=1, topic="m:Happened", state=b"state 1", id=1
    )


@pytest.mark.parametrize("count", [2, 3, 127, 128, 129, 255, 300, 1000])
def test_a_batch_of_any_size_is_inserted_in_order_with_consecutive_ids(
    datastore: SQLiteDatastore, count: int
) -> None:
    recorder = application_recorder(datastore)
    snapshots = SQLiteAggregateRecorder(datastore, "stored_snapshots")
    snapshots.create_table()
    a, b = uuid4(), uuid4()
    assert recorder.insert_events([event(b, 1)]) == [1]
    # Two aggregates, alternating in runs, so that rows of both cross statement boundaries.
    batch = [event(a if (v // 7) % 2 else b, v + 2) for v in range(count)]
    statements: List[str] = []
    datastore.write(lambda conn: conn.set_trace_callback(statements.append))
    assert recorder.insert_events(batch) == list(range(2, count + 2))
    datastore.write(lambda conn: conn.set_trace_callback(None))
    inserts = [s for s in statements if s.startswith("INSERT")]
    # Multi-row INSERTs of 128 rows, then of the powers of two the rest is made of.
    assert len(inserts) == count // 128 + bin(count % 128).count("1")
    notifications = recorder.select_notifications(2, count + 10)
    assert notifications == [
        Notification(e.originator_id, e.originator_version, e.topic, e.state, i)
        for i, e in enumerate(batch, 2)
    ]
    assert snapshots.insert_events(batch) is None
    assert snapshots.select_events(a) == [e for e in batch if e.originator_id == a]
    assert snapshots.select_events(b) == [e for e in batch if e.originator_id == b]


def test_a_conflict_in_a_later_statement_records_nothing_of_the_batch(
    datastore: SQLiteDatastore,
) -> None:
    recorder = application_recorder(datastore)
    a = uuid4()
    recorder.insert_events([event(a, 290)])
    with pytest.raises(IntegrityError, match="Nothing recorded"):
        recorder.insert_events([event(a, v) for v in range(1, 301)])
    assert recorder.select_events(a) == [event(a, 290)]
    assert recorder.max_notification_id() == 1
    assert recorder.insert_events([event(a, v) for v in range(1, 290)]) == list(range(2, 291))


def test_select_notifications_start_limit_stop_topics(datastore: SQLiteDatastore) -> None:
    recorder = application_recorder(datastore)
    a = uuid4()
    topics = ["m:A", "m:B", "m:C"]
    recorder.insert_events([event(a, v, topics[v % 3]) for v in range(1, 11)])

    def ids(*args: object, **kwargs: object) -> List[int]:
        return [n.id for n in recorder.select_notifications(*args, **kwargs)]  # type: ignore[arg-type]

    assert ids(1, 3) == [1, 2, 3]
    assert ids(4, 3) == [4, 5, 6]
    assert ids(9, 5) == [9, 10]
    assert ids(11, 5) == []
    assert ids(0, 2) == [1, 2]
    assert ids(2, 10, stop=4) == [2, 3, 4]
    assert ids(1, 10, topics=["m:A"]) == [3, 6, 9]
    assert ids(1, 2, topics=("m:A", "m:B")) == [1, 3]
    assert ids(4, 10, stop=8, topics=["m:B"]) == [4, 7]
    assert ids(1, 0) == []
    assert ids(1, 0, topics=["m:A"]) == []
    with pytest.raises(InterfaceError):
        recorder.select_notifications(1, 10, topics="m:A")
    with pytest.raises(InterfaceError):
        recorder.select_notifications(1, 10, topics=[1])  # type: ignore[list-item]
    with pytest.raises(DataError):
        recorder.select_notifications(1, -1)
    with pytest.raises(InterfaceError, match="start must be an int"):
        recorder.select_notifications("1", 1)  # type: ignore[arg-type]


def test_select_notifications_reads_across_gaps(tmp_path: Path) -> None:
    path = str(tmp_path / "gaps.sqlite")
    datastore = SQLiteDatastore(path)
    recorder = application_recorder(datastore)
    a = uuid4()
    recorder.insert_events([event(a, v) for v in range(1, 6)])
    raw = sqlite3.connect(path)
    raw.execute("DELETE FROM stored_events WHERE rowid IN (2, 3)")
    raw.commit()
    raw.close()
    assert [n.id for n in recorder.select_notifications(1, 2)] == [1, 4]
    assert [n.id for n in recorder.select_notifications(2, 2)] == [4, 5]
    datastore.close()


def test_tracking_is_recorded_atomically_with_events(datastore: SQLiteDatastore) -> None:
    recorder = process_recorder(datastore)
    a = uuid4()
    assert recorder.max_tracking_id("upstream") == 0
    assert not recorder.has_tracking_id("upstream", 1)
    assert recorder.insert_events([event(a, 1)], tracking=Tracking("upstream", 5)) == [1]
    assert recorder.max_tracking_id("upstream") == 5
    assert recorder.has_tracking_id("upstream", 5)
    assert recorder.max_tracking_id("other") == 0

    with pytest.raises(IntegrityError, match="tracking record is already recorded"):
        recorder.insert_events([event(a, 2)], tracking=Tracking("upstream", 5))
    assert recorder.select_events(a) == [event(a, 1)]

    # An event conflict records no tracking either.
    with pytest.raises(IntegrityError, match="originator ID and version"):
        recorder.insert_events([event(a, 1)], tracking=Tracking("upstream", 6))
    assert not recorder.has_tracking_id("upstream", 6)
    assert recorder.max_tracking_id("upstream") == 5

    assert recorder.insert_events([], tracking=Tracking("upstream", 7)) == []
    assert recorder.max_tracking_id("upstream") == 7
    with pytest.raises(InterfaceError, match="tracking must be a Tracking"):
        recorder.insert_events([event(a, 2)], tracking=("upstream", 8))
    assert recorder.select_events(a) == [event(a, 1)]


def test_a_page_of_tracking_records_is_inserted_in_one_statement(
    datastore: SQLiteDatastore,
) -> None:
    recorder = process_recorder(datastore)
    statements: List[str] = []
    # (The connection writes go through.)
    datastore.write(lambda conn: conn.set_trace_callback(statements.append))
    page = [Tracking("up", i) for i in range(1, 101)]
    assert recorder.insert_events([event(uuid4(), 1)], trackings=page) == [1]
    datastore.write(lambda conn: conn.set_trace_callback(None))
    assert len([s for s in statements if "INSERT INTO tracking" in s]) == 1
    assert recorder.max_tracking_id("up") == 100
    # Pages larger than one statement takes are still all or nothing.
    large = [Tracking("up", i) for i in range(101, 1101)]
    with pytest.raises(IntegrityError, match="tracking record is already recorded"):
        recorder.insert_events([event(uuid4(), 1)], trackings=[*large, Tracking("up", 5)])
    assert recorder.max_tracking_id("up") == 100
    assert recorder.insert_events([], trackings=large) == []
    assert recorder.max_tracking_id("up") == 1100
    assert recorder.has_tracking_id("up", 700)


@pytest.mark.parametrize(
    "bad",
    [
        StoredEvent("not-a-uuid", 1, "m:T", b""),  # type: ignore[arg-type]
        StoredEvent(None, 1, "m:T", b""),  # type: ignore[arg-type]
        StoredEvent(uuid4(), "1", "m:T", b""),  # type: ignore[arg-type]
        StoredEvent(uuid4(), True, "m:T", b""),
        StoredEvent(uuid4(), 1, None, b""),  # type: ignore[arg-type]
        StoredEvent(uuid4(), 1, "m:T", "text"),  # type: ignore[arg-type]
        ("tuple", 1),
    ],
)
def test_bad_input_is_rejected_before_anything_is_written(
    datastore: SQLiteDatastore, bad: object
) -> None:
    recorder = application_recorder(datastore)
    a = uuid4()
    with pytest.raises(InterfaceError):
        recorder.insert_events([event(a, 1), bad])  # type: ignore[list-item]
    with pytest.raises(InterfaceError):
        recorder.insert_events([bad, event(a, 1)])  # type: ignore[list-item]
    assert recorder.max_notification_id() == 0
    with pytest.raises(InterfaceError, match="originator_id must be a UUID"):
        recorder.select_events(str(a))  # type: ignore[arg-type]


def test_oversized_version_is_a_data_error(datastore: SQLiteDatastore) -> None:
    recorder = application_recorder(datastore)
    with pytest.raises(DataError):
        recorder.insert_events([event(uuid4(), 1), event(uuid4(), 2**64)])
    assert recorder.max_notification_id() == 0


def test_closed_recorder_and_datastore_raise_interface_errors(
    datastore: SQLiteDatastore,
) -> None:
    recorder = application_recorder(datastore)
    other = application_recorder(datastore)
    recorder.close()
    recorder.close()
    with pytest.raises(InterfaceError, match="is closed"):
        recorder.insert_events([event(uuid4(), 1)])
    with pytest.raises(InterfaceError, match="is closed"):
        recorder.select_notifications(1, 1)
    assert other.insert_events([event(uuid4(), 1)]) == [1]
    datastore.close()
    with pytest.raises(InterfaceError, match=f"{datastore.db_name!r} is closed"):
        other.max_notification_id()
    with pytest.raises(InterfaceError, match="is closed"):
        other.insert_events([event(uuid4(), 1)])


def test_file_layout_is_eventsourcing_9_1s(tmp_path: Path) -> None:
    path = str(tmp_path / "layout.sqlite")
    datastore = SQLiteDatastore(path)
    snapshots = SQLiteAggregateRecorder(datastore, "stored_snapshots")
    snapshots.create_table()
    events = process_recorder(datastore)
    a = uuid4()
    events.insert_events([event(a, 1)], tracking=Tracking("up", 3))
    snapshots.insert_events([event(a, 1)])
    datastore.close()

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = dict(raw.execute("SELECT name, sql FROM sqlite_master WHERE type='table'"))
    assert set(tables) == {"stored_events", "stored_snapshots", "tracking"}
    assert "WITHOUT ROWID" in tables["stored_snapshots"]
    assert "WITHOUT ROWID" in tables["tracking"]
    assert "WITHOUT ROWID" not in tables["stored_events"]
    row = raw.execute(
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
    ).fetchone()
    assert row == (1, a.hex, 1, "m:Happened", b"state 1")
    assert raw.execute(
        "SELECT typeof(originator_id), typeof(state) FROM stored_events"
    ).fetchone() == (
        "text",
        "blob",
    )
    assert raw.execute("SELECT * FROM stored_snapshots").fetchall() == [
        (a.hex, 1, "m:Happened", b"state 1")
    ]
    assert raw.execute("SELECT * FROM tracking").fetchall() == [("up", 3)]
    raw.close()


def test_file_database_is_durable_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "durable.sqlite")
    first = SQLiteDatastore(path)
    a = uuid4()
    application_recorder(first).insert_events([event(a, 1), event(a, 2)])
    first.close()
    second = SQLiteDatastore(path)
    recorder = application_recorder(second)
    assert recorder.select_events(a) == [event(a, 1), event(a, 2)]
    assert recorder.insert_events([event(a, 3)]) == [3]
    second.close()


def test_invalid_table_names_are_refused(datastore: SQLiteDatastore) -> None:
    for name in ("stored events", "1events", "x;DROP TABLE y", ""):
        with pytest.raises(ProgrammingError, match="Invalid SQLite table name"):
            SQLiteAggregateRecorder(datastore, name)


def test_in_memory_database_is_shared_between_threads(datastore: SQLiteDatastore) -> None:
    recorder = application_recorder(datastore)
    a = uuid4()
    results: List[object] = []

    def write_then_read() -> None:
        results.append(recorder.insert_events([event(a, 1)]))
        results.append(recorder.select_events(a))

    thread = threading.Thread(target=write_then_read)
    thread.start()
    thread.join()
    assert results == [[1], [event(a, 1)]]
    assert recorder.select_events(a) == [event(a, 1)]


def test_concurrent_writer_threads_never_interleave_notification_ids(
    datastore: SQLiteDatastore,
) -> None:
    recorder = application_recorder(datastore)
    writers, inserts, batch = 4, 30, 3
    start = threading.Barrier(writers + 1)
    writers_done = threading.Event()
    returned: List[List[int]] = []
    errors: List[BaseException] = []
    seen: List[int] = []

    def write() -> None:
        try:
            originator_id = uuid4()
            start.wait()
            for i in range(inserts):
                ids = recorder.insert_events(
                    [event(originator_id, i * batch + j) for j in range(1, batch + 1)]
                )
                assert ids is not None
                returned.append(list(ids))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def tail() -> None:
        try:
            start.wait()
            while True:
                finished = writers_done.is_set()
                last = seen[-1] if seen else 0
                notifications = recorder.select_notifications(last + 1, 7)
                seen.extend(n.id for n in notifications)
                if finished and not notifications:
                    return
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    reader = threading.Thread(target=tail)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join()
    writers_done.set()
    reader.join()
    assert errors == []
    total = writers * inserts * batch
    assert seen == list(range(1, total + 1))
    assert sorted(i for ids in returned for i in ids) == seen
    # Each insert's IDs are consecutive: no other insert interleaved with it.
    assert all(ids == list(range(ids[0], ids[0] + batch)) for ids in returned)


def test_queued_writes_share_a_transaction_and_fail_alone(datastore: SQLiteDatastore) -> None:
    recorder = process_recorder(datastore)
    taken = uuid4()
    recorder.insert_events([event(taken, 1)], tracking=Tracking("up", 1))
    a, b, c, d = uuid4(), uuid4(), uuid4(), uuid4()
    writes = {
        "ok-a": ([event(a, 1), event(a, 2)], None),
        "conflict": ([event(b, 1), event(taken, 1)], None),
        "ok-c": ([event(c, 1)], Tracking("up", 2)),
        "tracked-twice": ([event(d, 1)], Tracking("up", 1)),
    }
    outcomes: dict[str, object] = {}

    def write(name: str) -> None:
        events, tracking = writes[name]
        try:
            outcomes[name] = recorder.insert_events(events, tracking=tracking)
        except IntegrityError as e:
            outcomes[name] = e

    # Hold the write lock so that all four writes queue up behind it, then
    # let one of them do them all in one transaction.
    threads = [threading.Thread(target=write, args=(name,)) for name in writes]
    with datastore.transaction():
        for t in threads:
            t.start()
        queue = datastore._writes.pending
        while len(queue) < len(threads):  # each thread queues before waiting for the lock
            pass
    for t in threads:
        t.join()

    assert isinstance(outcomes["conflict"], IntegrityError)
    assert isinstance(outcomes["tracked-twice"], IntegrityError)
    ids_a, ids_c = outcomes["ok-a"], outcomes["ok-c"]
    assert isinstance(ids_a, list) and isinstance(ids_c, list)
    assert sorted(ids_a + ids_c) == [2, 3, 4]
    assert ids_a == list(range(ids_a[0], ids_a[0] + 2))
    # Nothing of the failed writes was recorded; everything of the others was.
    assert recorder.select_events(b) == [] and recorder.select_events(d) == []
    assert recorder.select_events(a) == [event(a, 1), event(a, 2)]
    assert recorder.select_events(c) == [event(c, 1)]
    assert recorder.select_events(taken) == [event(taken, 1)]
    assert recorder.max_tracking_id("up") == 2
    assert [n.id for n in recorder.select_notifications(1, 10)] == [1, 2, 3, 4]


def test_connections_of_finished_threads_are_closed(tmp_path: Path) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "threads.sqlite"))
    recorder = application_recorder(datastore)
    for _ in range(20):
        thread = threading.Thread(target=recorder.max_notification_id)
        thread.start()
        thread.join()
    # The constructing thread's, the last thread's, and none of the others'.
    assert len(datastore._connections) <= 2
    datastore.close()
    assert datastore._connections == {}
