"""Applications on SQLite, in memory and on a file, used from several threads.

The core's application tests run on every backend with a fresh file; these
add what only SQLite has: ``:memory:`` and shared-cache databases used by the
threads of one application, and a file reopened by a new application.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Dict, List
from uuid import UUID, uuid4

import pytest

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class Counters(Application[Counter]):
    def create(self) -> UUID:
        counter = Counter()
        self.save(counter)
        return counter.id

    def increment(self, counter_id: UUID) -> None:
        counter = self.repository.get(counter_id)
        counter.increment()
        self.save(counter)


@pytest.fixture(params=["memory", "shared-cache", "file"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Dict[str, str]:
    db_name = {
        "memory": ":memory:",
        "shared-cache": f"file:counters-{uuid4().hex}?mode=memory&cache=shared",
        "file": str(tmp_path / "counters.sqlite"),
    }[request.param]
    return {"PERSISTENCE_MODULE": "sqlite", "SQLITE_DBNAME": db_name}


def test_threads_of_one_application_share_its_database(env: Dict[str, str]) -> None:
    threads, increments = 4, 10
    with Counters(env={**env, "IS_SNAPSHOTTING_ENABLED": "y"}) as app:
        ids: List[UUID] = []
        errors: List[BaseException] = []

        def work() -> None:
            try:
                counter_id = app.create()
                ids.append(counter_id)
                for _ in range(increments):
                    app.increment(counter_id)
                app.take_snapshot(counter_id)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        # Read in this thread what the others wrote.
        assert sorted(app.repository.get(i).count for i in ids) == [increments] * threads
        total = threads * (1 + increments)
        assert app.recorder.max_notification_id() == total
        assert [n.id for n in app.recorder.select_notifications(1, total)] == list(
            range(1, total + 1)
        )
        assert app.snapshots is not None
        for counter_id in ids:
            [snapshot] = app.snapshots.get(counter_id)
            assert snapshot.originator_version == 1 + increments


def test_file_outlives_the_application_and_memory_does_not(
    env: Dict[str, str],
) -> None:
    with Counters(env=env) as app:
        counter_id = app.create()
        app.increment(counter_id)
    with Counters(env=env) as app:
        if env["SQLITE_DBNAME"].endswith(".sqlite"):
            assert app.repository.get(counter_id).count == 1
            assert app.recorder.max_notification_id() == 2
        else:
            assert app.recorder.max_notification_id() == 0
