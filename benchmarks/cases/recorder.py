"""Recorder-level rates, the same cases on every backend.

Each run gets a store of its own (a fresh SQLite file from the harness, a new
PostgreSQL schema here) and times only the measured calls, not creating the
store or writing the events a read case reads. A lone insert is one
transaction, so on durable backends ``recorder: insert 1`` is bounded by the
commit (fsync) latency; ``recorder: insert 1 (:memory:)`` shows SQLite's code
path without it; ``recorder: 4 writer threads`` shows group commit.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, List, Tuple
from uuid import uuid4

from benchmarks.harness import Stopwatch, case, postgres_schema
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)

STATE = b'{"timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00+00:00"}}'
TOPIC = "bench.domain:Thing.Happened"
Result = Tuple[int, float]


@contextmanager
def _factory(backend: str, env: dict[str, str]) -> Iterator[InfrastructureFactory]:
    if backend == "postgres":
        with postgres_schema(env) as schema:
            with InfrastructureFactory.construct(env={**env, "POSTGRES_SCHEMA": schema}) as f:
                yield f
    else:
        with InfrastructureFactory.construct(env=env) as f:
            yield f


@contextmanager
def _recorder(backend: str, env: dict[str, str]) -> Iterator[ApplicationRecorder]:
    with _factory(backend, env) as factory:
        yield factory.application_recorder()


def _events(count: int) -> List[StoredEvent]:
    originator_id = uuid4()
    return [StoredEvent(originator_id, v, TOPIC, STATE) for v in range(1, count + 1)]


def read_log(recorder: ApplicationRecorder, page: int = 500) -> int:
    """Follow the whole log in pages, as a follower does; return how many were read."""
    count, start = 0, 1
    while True:
        notifications = recorder.select_notifications(start, page)
        if not notifications:
            return count
        count += len(notifications)
        start = notifications[-1].id + 1


def _size(backend: str, in_memory: int, durable: int) -> int:
    return in_memory if backend == "popo" else durable


def _insert_one_at_a_time(backend: str, env: dict[str, str], inserts: int) -> Result:
    events = _events(inserts)
    with _recorder(backend, env) as recorder, Stopwatch() as watch:
        for event in events:
            recorder.insert_events([event])
    return inserts, watch.elapsed


@case("recorder: insert 1")
def insert_one(backend: str, env: dict[str, str]) -> Result:
    """One event per insert: one transaction (one commit) per event."""
    return _insert_one_at_a_time(backend, env, _size(backend, 20_000, 500))


@case("recorder: insert 1 (:memory:)", backends=("sqlite",))
def insert_one_in_memory(backend: str, env: dict[str, str]) -> Result:
    """As ``recorder: insert 1``, on an SQLite ``:memory:`` database (no fsync)."""
    return _insert_one_at_a_time(backend, {**env, "SQLITE_DBNAME": ":memory:"}, 5000)


@case("recorder: insert tracked")
def insert_tracked(backend: str, env: dict[str, str]) -> Result:
    """One event and one tracking record per insert, as a process application."""
    inserts = _size(backend, 20_000, 500)
    events = _events(inserts)
    with _factory(backend, env) as factory:
        recorder: ProcessRecorder = factory.process_recorder()
        with Stopwatch() as watch:
            for i, event in enumerate(events, 1):
                recorder.insert_events([event], tracking=Tracking("upstream", i))
    return inserts, watch.elapsed


@case("recorder: batch 100")
def insert_batch_100(backend: str, env: dict[str, str]) -> Result:
    """100 events per insert (one transaction each)."""
    batches = _size(backend, 200, 50)
    batches_of_events = [_events(100) for _ in range(batches)]
    with _recorder(backend, env) as recorder, Stopwatch() as watch:
        for events in batches_of_events:
            recorder.insert_events(events)
    return batches * 100, watch.elapsed


@case("recorder: batch 5000")
def insert_batch_5000(backend: str, env: dict[str, str]) -> Result:
    """5,000 events of one aggregate in one insert (one transaction), three times."""
    batches_of_events = [_events(5000) for _ in range(3)]
    with _recorder(backend, env) as recorder, Stopwatch() as watch:
        for events in batches_of_events:
            recorder.insert_events(events)
    return 3 * 5000, watch.elapsed


@case("recorder: 4 writer threads")
def concurrent_writers(backend: str, env: dict[str, str]) -> Result:
    """Four threads, each inserting one event per insert, into one store."""
    threads, inserts = 4, _size(backend, 5000, 250)
    errors: List[BaseException] = []
    with _recorder(backend, env) as recorder:

        def write() -> None:
            try:
                for event in _events(inserts):
                    recorder.insert_events([event])
            except BaseException as e:  # surfaced after join
                errors.append(e)

        workers = [threading.Thread(target=write) for _ in range(threads)]
        with Stopwatch() as watch:
            for w in workers:
                w.start()
            for w in workers:
                w.join()
    if errors:
        raise errors[0]
    return threads * inserts, watch.elapsed


@case("recorder: select events")
def select_events(backend: str, env: dict[str, str]) -> Result:
    """Replay: all 1,000 stored events of one aggregate, read repeatedly."""
    reads = _size(backend, 1000, 100)
    events = _events(1000)
    with _recorder(backend, env) as recorder:
        recorder.insert_events(events)
        count = 0
        with Stopwatch() as watch:
            for _ in range(reads):
                count += len(recorder.select_events(events[0].originator_id))
    return count, watch.elapsed


@case("recorder: select latest 10")
def select_latest(backend: str, env: dict[str, str]) -> Result:
    """The last 10 of 1,000 events (as after a snapshot), read repeatedly."""
    reads = _size(backend, 20_000, 1000)
    events = _events(1000)
    with _recorder(backend, env) as recorder:
        recorder.insert_events(events)
        count = 0
        with Stopwatch() as watch:
            for _ in range(reads):
                count += len(recorder.select_events(events[0].originator_id, gt=990))
    return count, watch.elapsed


@case("recorder: notifications read", unit="notifications/s")
def select_notifications(backend: str, env: dict[str, str]) -> Result:
    """Follow a log of 10,000 notifications in pages of 500, ten times."""
    with _recorder(backend, env) as recorder:
        recorder.insert_events(_events(5000))
        recorder.insert_events(_events(5000))
        count = 0
        with Stopwatch() as watch:
            for _ in range(10):
                count += read_log(recorder)
    assert count == 100_000
    return count, watch.elapsed
