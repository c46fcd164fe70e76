"""Large saves: mapped a chunk at a time while the server inserts the previous chunk.

An Application saving more than one chunk (500 events) goes through
``PostgresApplicationRecorder.insert_domain_events``, which maps lazily inside
the pipelined transaction. These tests show it records everything with the
right notification IDs, and that an error in a later chunk (mapping or
conflict) records nothing of the batch and leaves the recorder usable.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any, Dict, List

import pytest

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, StoredEvent


class Ledger(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0

    @event("Posted")
    def post(self, amount: Any) -> None:
        self.total = self.total + amount if isinstance(amount, int) else self.total


class Books(Application[Ledger]):
    pass


def ledger_with(events: int) -> Ledger:
    ledger = Ledger(name="big")
    for _ in range(events - 1):
        ledger.post(1)
    return ledger


def test_a_large_batch_is_recorded_whole_with_consecutive_ids(pg_env: Dict[str, str]) -> None:
    with Books(env=pg_env) as app:
        app.save(Ledger(name="first"))
        ledger = ledger_with(1201)
        recordings = app.save(ledger)
        ids = [r.notification.id for r in recordings if r.notification is not None]
        assert len(ids) == 1201
        assert ids == list(range(ids[0], ids[0] + 1201))
        assert ids[0] > 1
        assert app.repository.get(ledger.id).total == 1200
        notifications = app.recorder.select_notifications(ids[0], 2000)
        assert [n.id for n in notifications] == ids
        assert [n.originator_version for n in notifications] == list(range(1, 1202))
        assert all(
            r.notification is not None and r.notification.state == n.state
            for r, n in zip(recordings, notifications, strict=True)
        )


def test_a_mapping_error_in_a_later_chunk_records_nothing(pg_env: Dict[str, str]) -> None:
    with Books(env=pg_env) as app:
        before = app.recorder.max_notification_id()
        ledger = ledger_with(900)
        ledger.post(date(2020, 1, 1))  # no transcoding for date: fails in the 2nd chunk
        for _ in range(300):
            ledger.post(1)
        with pytest.raises(TypeError, match="is not serializable"):
            app.save(ledger)
        assert app.recorder.max_notification_id() == before
        assert app.recorder.select_events(ledger.id) == []
        # The events are pending again, and the recorder still works.
        assert len(ledger.collect_events()) == 1201
        other = ledger_with(700)
        assert len(app.save(other)) == 700
        assert app.repository.get(other.id).version == 700


def test_a_conflict_in_a_later_chunk_records_nothing_of_the_batch(
    pg_env: Dict[str, str],
) -> None:
    with Books(env=pg_env) as app:
        ledger = ledger_with(1200)
        taken = StoredEvent(ledger.id, 1100, "x:Y", b"{}")
        app.recorder.insert_events([taken])
        before = app.recorder.max_notification_id()
        with pytest.raises(IntegrityError):
            app.save(ledger)
        assert app.recorder.max_notification_id() == before
        assert app.recorder.select_events(ledger.id) == [taken]
        assert app.save(Ledger(name="after"))[0].notification is not None


def test_large_and_small_saves_from_several_threads_never_interleave(
    pg_env: Dict[str, str],
) -> None:
    errors: List[BaseException] = []
    with Books(env=pg_env) as app:

        def small() -> None:
            try:
                for _ in range(40):
                    app.save(Ledger(name="small"))
            except BaseException as e:  # surfaced after join
                errors.append(e)

        def large() -> None:
            try:
                for _ in range(3):
                    app.save(ledger_with(1100))
            except BaseException as e:  # surfaced after join
                errors.append(e)

        threads = [threading.Thread(target=small) for _ in range(3)]
        threads.append(threading.Thread(target=large))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        notifications = app.recorder.select_notifications(1, 10_000)
        assert len(notifications) == 3 * 40 + 3 * 1100
        ids = [n.id for n in notifications]
        assert ids == sorted(set(ids))
        # Each large batch is one transaction: its IDs are consecutive.
        by_aggregate: Dict[Any, List[int]] = {}
        for n in notifications:
            by_aggregate.setdefault(n.originator_id, []).append(n.id)
        large_ids = [v for v in by_aggregate.values() if len(v) == 1100]
        assert len(large_ids) == 3
        for batch in large_ids:
            assert batch == list(range(batch[0], batch[0] + 1100))
