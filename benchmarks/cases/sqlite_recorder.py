"""Recorder-level rates of the SQLite persistence module.

Each case builds its recorder from the harness's environment (a fresh file
per run; setup is inside the timed call, and kept small). A lone insert is
one transaction, so ``sqlite-insert-1`` is bounded by the disk's commit
(fsync) latency; ``sqlite-memory-insert-1`` shows the cost of the code path
itself; ``sqlite-threads-4-writers`` shows group commit (concurrent inserts
share one commit).
"""

from __future__ import annotations

import threading
from typing import List
from uuid import uuid4

from benchmarks.harness import case
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    StoredEvent,
)

STATE = b'{"timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00+00:00"}}'
TOPIC = "bench.domain:Thing.Happened"


def _recorder(env: dict[str, str]) -> tuple[InfrastructureFactory, ApplicationRecorder]:
    factory = InfrastructureFactory.construct(env=env)
    return factory, factory.application_recorder()


def _events(count: int, first_version: int = 1) -> List[StoredEvent]:
    originator_id = uuid4()
    return [StoredEvent(originator_id, v, TOPIC, STATE) for v in range(first_version, count + 1)]


def _insert_one_at_a_time(env: dict[str, str], inserts: int) -> int:
    factory, recorder = _recorder(env)
    for event in _events(inserts):
        recorder.insert_events([event])
    factory.close()
    return inserts


@case("sqlite-insert-1", backends=("sqlite",))
def insert_one(backend: str, env: dict[str, str]) -> int:
    """One event per insert: one transaction (one commit) per event."""
    return _insert_one_at_a_time(env, 300)


@case("sqlite-memory-insert-1", backends=("sqlite",))
def insert_one_in_memory(backend: str, env: dict[str, str]) -> int:
    """As sqlite-insert-1, on ``:memory:``: the cost of the code, without fsync."""
    return _insert_one_at_a_time({**env, "SQLITE_DBNAME": ":memory:"}, 5000)


@case("sqlite-insert-batch-100", backends=("sqlite",))
def insert_batch(backend: str, env: dict[str, str]) -> int:
    """100 events per insert (one executemany in one transaction)."""
    factory, recorder = _recorder(env)
    batches = 100
    for _ in range(batches):
        recorder.insert_events(_events(100))
    factory.close()
    return batches * 100


@case("sqlite-select-events", backends=("sqlite",))
def select_events(backend: str, env: dict[str, str]) -> int:
    """Replay: all 1000 stored events of one aggregate, read 100 times."""
    factory, recorder = _recorder(env)
    events = _events(1000)
    recorder.insert_events(events)
    originator_id = events[0].originator_id
    count = 0
    for _ in range(100):
        count += len(recorder.select_events(originator_id))
    factory.close()
    return count


@case("sqlite-select-notifications", backends=("sqlite",), unit="notifications/s")
def select_notifications(backend: str, env: dict[str, str]) -> int:
    """Follow the whole log of 10,000 notifications in pages of 500, ten times."""
    factory, recorder = _recorder(env)
    recorder.insert_events(_events(10_000))
    count = 0
    for _ in range(10):
        start = 1
        while True:
            page = recorder.select_notifications(start, 500)
            if not page:
                break
            count += len(page)
            start = page[-1].id + 1
    factory.close()
    return count


@case("sqlite-threads-4-writers", backends=("sqlite",))
def concurrent_writers(backend: str, env: dict[str, str]) -> int:
    """Four threads, each inserting one event per insert, on one file."""
    factory, recorder = _recorder(env)
    threads, inserts = 4, 250
    errors: List[BaseException] = []

    def write() -> None:
        try:
            for event in _events(inserts):
                recorder.insert_events([event])
        except BaseException as e:  # pragma: no cover - surfaced below
            errors.append(e)

    workers = [threading.Thread(target=write) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    factory.close()
    if errors:
        raise errors[0]
    return threads * inserts
