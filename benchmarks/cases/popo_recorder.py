"""Recorder-level rates of the in-memory (popo) persistence module.

No I/O is involved, so these figures are the cost of the recorder code path
itself (argument checks, conflict checks, notification IDs, one lock): the
ceiling every other backend is measured against.
"""

from __future__ import annotations

import threading
from typing import List
from uuid import uuid4

from benchmarks.harness import case
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)

STATE = b'{"timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00+00:00"}}'
TOPIC = "bench.domain:Thing.Happened"


def _recorder(env: dict[str, str]) -> tuple[InfrastructureFactory, ApplicationRecorder]:
    factory = InfrastructureFactory.construct(env=env)
    return factory, factory.application_recorder()


def _events(count: int) -> List[StoredEvent]:
    originator_id = uuid4()
    return [StoredEvent(originator_id, v, TOPIC, STATE) for v in range(1, count + 1)]


@case("popo-insert-1", backends=("popo",))
def insert_one(backend: str, env: dict[str, str]) -> int:
    """One event per insert, as one aggregate saved per command."""
    factory, recorder = _recorder(env)
    inserts = 50_000
    for event in _events(inserts):
        recorder.insert_events([event])
    factory.close()
    return inserts


@case("popo-insert-batch-100", backends=("popo",))
def insert_batch(backend: str, env: dict[str, str]) -> int:
    """100 events per insert."""
    factory, recorder = _recorder(env)
    batches = 1000
    for _ in range(batches):
        recorder.insert_events(_events(100))
    factory.close()
    return batches * 100


@case("popo-insert-tracked", backends=("popo",))
def insert_tracked(backend: str, env: dict[str, str]) -> int:
    """One event and one tracking record per insert, as a process application."""
    factory = InfrastructureFactory.construct(env=env)
    recorder: ProcessRecorder = factory.process_recorder()
    inserts = 50_000
    for i, event in enumerate(_events(inserts), 1):
        recorder.insert_events([event], tracking=Tracking("upstream", i))
    factory.close()
    return inserts


@case("popo-insert-4-threads", backends=("popo",))
def insert_threads(backend: str, env: dict[str, str]) -> int:
    """Four threads inserting one event at a time into one recorder."""
    factory, recorder = _recorder(env)
    per_thread = 20_000
    batches = [_events(per_thread) for _ in range(4)]
    start = threading.Barrier(4)

    def write(events: List[StoredEvent]) -> None:
        start.wait()
        for event in events:
            recorder.insert_events([event])

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorder.max_notification_id() == 4 * per_thread
    factory.close()
    return 4 * per_thread


@case("popo-select-events", backends=("popo",))
def select_events(backend: str, env: dict[str, str]) -> int:
    """Replay: all 1000 stored events of one aggregate, read 1000 times."""
    factory, recorder = _recorder(env)
    events = _events(1000)
    recorder.insert_events(events)
    originator_id = events[0].originator_id
    count = 0
    for _ in range(1000):
        count += len(recorder.select_events(originator_id))
    factory.close()
    return count


@case("popo-select-events-latest-10", backends=("popo",))
def select_latest(backend: str, env: dict[str, str]) -> int:
    """The last 10 of 1000 events (after a snapshot), read 20000 times."""
    factory, recorder = _recorder(env)
    events = _events(1000)
    recorder.insert_events(events)
    originator_id = events[0].originator_id
    count = 0
    for _ in range(20_000):
        count += len(recorder.select_events(originator_id, gt=990))
    factory.close()
    return count


@case("popo-select-notifications", backends=("popo",), unit="notifications/s")
def select_notifications(backend: str, env: dict[str, str]) -> int:
    """Pages of 100 through a log of 20000 notifications, start to end, 10 times."""
    factory, recorder = _recorder(env)
    for _ in range(200):
        recorder.insert_events(_events(100))
    count = 0
    for _ in range(10):
        start = 1
        while True:
            page = recorder.select_notifications(start, 100)
            if not page:
                break
            count += len(page)
            start = page[-1].id + 1
    factory.close()
    return count
