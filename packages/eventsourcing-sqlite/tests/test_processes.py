"""Several writer processes and one tailing reader on one SQLite file.

The reader always resumes from the last ID it has seen. If two writers'
inserts could interleave (a lower ID committed after a higher one was
visible), the reader would skip that lower ID for ever: this test would see
it missing.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple
from uuid import UUID, uuid4

import pytest

from eventsourcing.persistence import InfrastructureFactory, StoredEvent

WRITERS = 4
INSERTS_PER_WRITER = 40

fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="needs the 'fork' start method to run a local function in child processes",
)


def write(db_name: str, writer: int, go: Any, rounds: Any, results: Any) -> None:
    """Insert batches of 1-3 events; report (id, originator_id, version) recorded.

    Writers meet at a barrier before each insert, so that they all contend
    for the write lock in every round (otherwise one process tends to win the
    lock many times in a row, and the test would prove less).
    """
    try:
        factory = InfrastructureFactory.construct(
            env={"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": db_name}
        )
        recorder = factory.application_recorder()
        originator_id = uuid4()
        version = 0
        recorded: List[Tuple[int, str, int]] = []
        go.wait()
        for i in range(INSERTS_PER_WRITER):
            rounds.wait(timeout=60)
            batch = []
            for _ in range(1 + (i + writer) % 3):
                version += 1
                batch.append(StoredEvent(originator_id, version, f"w:{writer}", b"{}"))
            ids = recorder.insert_events(batch)
            assert ids is not None
            recorded.extend(
                (n, s.originator_id.hex, s.originator_version)
                for n, s in zip(ids, batch, strict=True)
            )
        factory.close()
        results.put((writer, recorded, None))
    except BaseException as e:  # reported to the parent, which fails the test
        results.put((writer, [], repr(e)))


@fork
@pytest.mark.slow
def test_writer_processes_and_tailing_reader(tmp_path: Path) -> None:
    db_name = str(tmp_path / "shared.sqlite")
    env = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": db_name}
    factory = InfrastructureFactory.construct(env=env)
    reader = factory.application_recorder()  # also creates the table

    context = multiprocessing.get_context("fork")
    go = context.Event()
    rounds = context.Barrier(WRITERS)
    results = context.Queue()
    processes = [
        context.Process(target=write, args=(db_name, w, go, rounds, results))
        for w in range(WRITERS)
    ]
    for p in processes:
        p.start()

    seen: List[Tuple[int, UUID, int]] = []
    writers_done = threading.Event()
    reader_errors: List[BaseException] = []

    def tail() -> None:
        try:
            while True:
                finished = writers_done.is_set()
                last = seen[-1][0] if seen else 0
                notifications = reader.select_notifications(last + 1, 10)
                seen.extend((n.id, n.originator_id, n.originator_version) for n in notifications)
                if finished and not notifications:
                    return
        except BaseException as e:  # pragma: no cover - reported below
            reader_errors.append(e)

    tailer = threading.Thread(target=tail)
    tailer.start()
    go.set()
    reports: Dict[int, Tuple[List[Tuple[int, str, int]], Any]] = {}
    for _ in processes:
        writer, recorded, error = results.get(timeout=120)
        reports[writer] = (recorded, error)
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    writers_done.set()
    tailer.join()
    factory.close()

    assert reader_errors == []
    assert {w: e for w, (_, e) in reports.items() if e is not None} == {}
    ids_seen = [i for i, _, _ in seen]
    # Strictly increasing as seen by the reader, so nothing duplicated.
    assert all(a < b for a, b in itertools.pairwise(ids_seen))
    # Nothing missed: everything the writers were told was recorded, and no more.
    written = sorted((i, UUID(o), v) for recorded, _ in reports.values() for i, o, v in recorded)
    assert seen == written
    expected_total = sum(1 + (i + w) % 3 for w in range(WRITERS) for i in range(INSERTS_PER_WRITER))
    assert len(seen) == expected_total
    # The writers really ran concurrently: their inserts alternate in the log.
    writer_order = [o for _, o, _ in seen]
    changes = sum(1 for a, b in itertools.pairwise(writer_order) if a != b)
    assert changes >= INSERTS_PER_WRITER, changes


def hog(db_name: str, started: Any, stop: Any) -> None:
    """Write back to back, leaving the lock free only for moments, until told to stop."""
    factory = InfrastructureFactory.construct(
        env={"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": db_name}
    )
    recorder = factory.application_recorder()
    originator_id = uuid4()
    version = 0
    while not stop.is_set():
        for _ in range(10):
            version += 1
            recorder.insert_events([StoredEvent(originator_id, version, "hog", b"{}")])
        started.release()
    factory.close()


@fork
@pytest.mark.slow
def test_busy_writer_processes_do_not_starve_another(tmp_path: Path) -> None:
    db_name = str(tmp_path / "shared.sqlite")
    env = {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": db_name, "SQLITE_LOCK_TIMEOUT": "1"}
    factory = InfrastructureFactory.construct(env=env)
    recorder = factory.application_recorder()
    context = multiprocessing.get_context("fork")
    started, stop = context.Semaphore(0), context.Event()
    hogs = [context.Process(target=hog, args=(db_name, started, stop)) for _ in range(3)]
    for process in hogs:
        process.start()
    try:
        for _ in hogs:
            assert started.acquire(timeout=60)
        originator_id = uuid4()
        for version in range(1, 31):
            recorder.insert_events([StoredEvent(originator_id, version, "mine", b"{}")])
    finally:
        stop.set()
        for process in hogs:
            process.join(timeout=60)
    assert [process.exitcode for process in hogs] == [0, 0, 0]
    assert len(recorder.select_events(originator_id)) == 30
    # The others were writing before ours began and still after (they were
    # writing, or waiting with a write, all the time ours were done).
    log = recorder.select_notifications(1, 1_000_000)
    first_mine = min(n.id for n in log if n.topic == "mine")
    hogged = [n.id for n in log if n.topic == "hog"]
    assert min(hogged) < first_mine < max(hogged)
    factory.close()


def insert_with_inherited_recorder(recorder: Any, results: Any) -> None:
    try:
        ids = recorder.insert_events([StoredEvent(uuid4(), 1, "child", b"{}")])
        results.put(("ok", list(ids)))
    except BaseException as e:
        results.put(("error", repr(e)))


@fork
def test_a_forked_child_can_use_an_inherited_recorder(tmp_path: Path) -> None:
    env = {
        "PERSISTENCE_MODULE": "sqlite",
        "SQLITE_DBNAME": str(tmp_path / "forked.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "2",
    }
    factory = InfrastructureFactory.construct(env=env)
    recorder = factory.application_recorder()
    recorder.insert_events([StoredEvent(uuid4(), 1, "parent", b"{}")])
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with recorder.datastore.lock():  # type: ignore[attr-defined]
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait()
    try:
        # Forked while another thread holds the in-process lock: the child has
        # its own lock (and connections), so it is not blocked by that thread.
        child = context.Process(target=insert_with_inherited_recorder, args=(recorder, results))
        child.start()
        outcome = results.get(timeout=60)
        child.join(timeout=60)
    finally:
        release.set()
        holder.join()
    assert outcome == ("ok", [2])
    # The parent's connections were left alone by the child, and still work.
    assert [n.topic for n in recorder.select_notifications(1, 10)] == ["parent", "child"]
    assert recorder.insert_events([StoredEvent(uuid4(), 1, "parent", b"{}")]) == [3]
    factory.close()
